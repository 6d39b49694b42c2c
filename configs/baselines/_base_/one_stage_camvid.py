# Single-stage ("UC only") baselines on CamVid: Stage 2 ranks the unlabelled
# pixels directly, no representative pool. Each image contributes the same
# seeded 10,000 candidates that Stage 1 draws from in the two-stage runs
# (drawn once, at round 0), so both variants rank the same candidates.
# Children set stage2.score.
_base_ = ['../../edald/edald-2stage_adm256-t3b4_10r-b0.1n_camvid-256x256.py']
train_cfg = dict(
    selector=dict(
        _delete_=True,
        type='OneStageSelector',
        stage2=dict(type='ScoreRanking', score='edald', num_draws=5),
        candidates_per_image=10000,
        candidates='fixed'))
