# Two-stage eDALD on ADE-Bed (paper Table 1): the LSUN-bedroom DDPM
# (dropout 0.1) as backbone, otherwise the setting of camvid.py.
_base_ = [
    '../_base_/models/edald_lsun_bedroom.py',
    '../_base_/datasets/ade_bed.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/al_10rounds.py',
]
model = dict(decode_head=dict(num_classes=30))
