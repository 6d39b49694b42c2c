# The "fully supervised" reference row: the head trained once on every
# non-void ground-truth pixel of the pool, then evaluated, with the same
# features, head training and evaluation as the active-learning runs
# (FullySupervisedLoop). Every pixel's features would not fit in memory
# (CamVid's 367 training images: 24M pixels x 8448 dims x 4 B, about
# 810 GB), so they are extracted again every head epoch, images_per_group
# images at a time (4 x 2.2 GB of LEDM features at 256 x 256, plus one
# backbone batch of at most as many while a group loads: 18 GB at most).
# It runs in one process, on one GPU.
_base_ = ['./al_10rounds.py']
train_cfg = dict(
    _delete_=True,
    type='FullySupervisedLoop',
    images_per_group=4,
    head_training={{_base_.train_cfg.head_training}},
    feature_batch_size={{_base_.train_cfg.feature_batch_size}},
    seed=None)
