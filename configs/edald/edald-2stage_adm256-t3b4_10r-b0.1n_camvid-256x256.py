# Two-stage eDALD on CamVid (paper Table 1): frozen ImageNet 256x256 DDPM,
# features at t = 50, 150, 250 from blocks 5, 8, 12, 17; herding cold start;
# then MaxHerding pool (K = 50 of 10,000 candidates per image, keep 0.5)
# ranked by eDALD with M = 5 noise draws; b = 0.1 N pixels for 10 rounds.
# Every one of these is a default of the bases.
_base_ = [
    '../_base_/models/edald_imagenet256.py',
    '../_base_/datasets/camvid.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/al_10rounds.py',
]
model = dict(decode_head=dict(num_classes=11))
