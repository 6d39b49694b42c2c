# LEDM-AL on Cityscapes: LEDM's features and ensemble of 10 pixel MLPs, two-
# stage selection ranked by the ensemble's mutual information
# (configs/_base_/schedules/ledm_al_10rounds.py).
_base_ = [
    '../_base_/models/ledm_imagenet256.py',
    '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/ledm_al_10rounds.py',
]
model = dict(decode_head=dict(num_classes=19))
