# LEDM fully supervised on ADE-Bed: the "fully supervised" reference row of
# the eDALD tables. LEDM's features and ensemble of 10 pixel MLPs, trained
# once on every ground-truth pixel (see full_labels.py).
_base_ = [
    '../_base_/models/ledm_lsun_bedroom.py',
    '../_base_/datasets/ade_bed.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/full_labels.py',
]
model = dict(decode_head=dict(num_classes=30))
