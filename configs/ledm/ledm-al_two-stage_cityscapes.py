# LEDM-AL on Cityscapes: LEDM's features and ensemble of 10 pixel MLPs, with
# the eDALD schedule (herding cold start, 10 rounds of b = 0.1 N pixels)
# and two-stage selection whose Stage 2 ranks the pool by the ensemble's
# mutual information (LEDM's own uncertainty).
_base_ = [
    '../_base_/models/ledm_imagenet256.py',
    '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/al_10rounds.py',
]
model = dict(decode_head=dict(num_classes=19))
train_cfg = dict(
    selector=dict(stage2=dict(_delete_=True, type='ScoreRanking',
                              score='ensemble_mi')))
