# LEDM fully supervised on Pascal-Context-33: the "fully supervised" reference row of
# the eDALD tables. LEDM's features and ensemble of 10 pixel MLPs, trained
# once on every ground-truth pixel (see full_labels.py).
_base_ = [
    '../_base_/models/ledm_imagenet256.py',
    '../_base_/datasets/pascal_context_33.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/full_labels.py',
]
model = dict(decode_head=dict(num_classes=33))
