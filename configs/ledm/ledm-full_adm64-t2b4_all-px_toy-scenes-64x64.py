# LEDM fully supervised on the toy scenes: the reference row of the toy
# table. The LEDM-AL toy's UNet, features and ensemble of 10, trained once
# on every ground-truth pixel of its 120 pool images by FullySupervisedLoop
# (as configs/_base_/schedules/full_labels.py does for the paper datasets;
# a toy image's features are small, so groups are larger). An epoch over
# the 491,520 pixels takes about 5 minutes on 2 CPU cores, so the head
# trains for 3 (the accuracy stays below the early-stopping 95 %).
_base_ = ['./ledm-ensmi-2stage_adm64-t2b4_10r-b0.5n_toy-scenes-64x64.py']
train_cfg = dict(
    _delete_=True,
    type='FullySupervisedLoop',
    images_per_group=30,
    head_training=dict(max_epochs=3, batch_size=64, patience=50,
                       acc_threshold=0.95),
    feature_batch_size={{_base_.train_cfg.feature_batch_size}},
    seed=None)
