# Convergence schedule (paper section 4.3): two-stage eDALD for the first 10
# rounds (cold start + selections of rounds 1-9, i.e. the main setting),
# then single-stage Margin, for 20 rounds in all; CamVid.
_base_ = ['../edald/edald-2stage_adm256-t3b4_10r-b0.1n_camvid-256x256.py']
two_stage_edald = {{_base_.train_cfg.selector}}
train_cfg = dict(
    rounds=20,
    selector=dict(
        _delete_=True,
        type='ScheduledSelector',
        schedule=[
            dict(until_round=9, selector=two_stage_edald),
            dict(
                selector=dict(
                    type='OneStageSelector',
                    stage2=dict(type='ScoreRanking', score='margin'),
                    candidates_per_image=10000)),
        ]))
