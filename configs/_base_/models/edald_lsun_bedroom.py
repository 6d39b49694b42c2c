# Frozen guided-diffusion UNet trained on LSUN bedroom (lsun_bedroom.pt,
# dropout 0.1) + LEDM pixel MLP; used for ADE-Bed.
_base_ = ['./edald_imagenet256.py']

model = dict(
    backbone=dict(
        unet=dict(dropout=0.1), checkpoint='checkpoints/lsun_bedroom.pt'),
    decode_head=dict(num_classes=30))
