# LEDM's setting (see ledm_imagenet256.py) on the LSUN-bedroom DDPM
# (dropout 0.1); used for ADE-Bed.
_base_ = ['./ledm_imagenet256.py']
model = dict(
    backbone=dict(
        unet=dict(dropout=0.1), checkpoint='checkpoints/lsun_bedroom.pt'),
    decode_head=dict(num_classes=30))
