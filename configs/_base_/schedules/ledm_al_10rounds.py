# LEDM-AL: the eDALD schedule (herding cold start, 10 rounds of b = 0.1 N
# pixels, the same Stage 1) with Stage 2 ranking the pool by the mutual
# information of an ensemble head's members (LEDM's own uncertainty).
_base_ = ['./al_10rounds.py']
train_cfg = dict(
    selector=dict(stage2=dict(_delete_=True, type='ScoreRanking',
                              score='ensemble_mi')))
