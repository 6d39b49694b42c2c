# The paper's active-learning schedule: 10 rounds of b = round(0.1 N) pixels
# (N = pool images), herding cold start, two-stage eDALD afterwards, and the
# LEDM pixel-head training of docs/method.md ("Segmentation head"), redone
# from scratch every round.
train_cfg = dict(
    type='ActiveLearningLoop',
    rounds=10,
    budget=dict(per_image=0.1),
    # Stage 1, shared by every selector below that does not set its own:
    # MaxHerding K = 50 of 10,000 random candidates per image, then
    # globally (keeping half for Stage 2; the cold start herds straight
    # to b). A child config overrides it here, once. The candidates are
    # drawn once, at round 0, as in the authors' code ('per_round' redraws
    # them every round).
    stage1=dict(
        type='LocalGlobalCandidates',
        picker=dict(type='MaxHerding'),
        candidates_per_image=10000,
        candidates='fixed',
        local_budget=50,
        keep_ratio=0.5),
    cold_start=dict(type='HerdingSelector'),
    selector=dict(
        type='TwoStageSelector',
        stage2=dict(type='ScoreRanking', score='edald', num_draws=5)),
    oracle=dict(type='GroundTruthOracle'),
    oracle_void=False,
    # bn_calibration_pixels: the head's BatchNorm statistics come from 4800
    # pool pixels, not from the few labelled ones a selector chose; on the
    # toy at b = 0.1 N this keeps the learning curve from collapsing
    # (README, "Head training at tiny budgets"). min_iters stretches short
    # head epochs; measured, it does not help, so it is off.
    head_training=dict(
        max_epochs=50, batch_size=64, patience=50, acc_threshold=0.95,
        min_iters=0, bn_calibration_pixels=4800),
    feature_batch_size=8,
    seed=None)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-5))
# Stepped once per epoch of head training (T_max 5 epochs).
param_scheduler = dict(
    type='CosineAnnealingLR', T_max=5, eta_min=1e-6, by_epoch=True)
