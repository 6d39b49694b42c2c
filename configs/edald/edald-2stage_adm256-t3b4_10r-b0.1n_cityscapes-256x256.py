# Two-stage eDALD on Cityscapes at 256x256 (paper Table 1, 19 train ids):
# ImageNet 256x256 DDPM, otherwise the setting of camvid.py.
_base_ = [
    '../_base_/models/edald_imagenet256.py',
    '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/al_10rounds.py',
]
model = dict(decode_head=dict(num_classes=19))
