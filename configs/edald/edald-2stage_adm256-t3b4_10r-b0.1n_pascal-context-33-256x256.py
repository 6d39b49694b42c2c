# Two-stage eDALD on Pascal-Context-33 (paper Table 1): ImageNet 256x256
# DDPM, otherwise the setting of camvid.py.
_base_ = [
    '../_base_/models/edald_imagenet256.py',
    '../_base_/datasets/pascal_context_33.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/al_10rounds.py',
]
model = dict(decode_head=dict(num_classes=33))
