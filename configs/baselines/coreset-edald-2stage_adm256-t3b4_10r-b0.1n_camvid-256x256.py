# Core-set (k-center greedy) instead of MaxHerding as Stage 1, eDALD as
# Stage 2 (paper Table 8); CamVid. The cold start uses Core-set too, so the
# comparison with MaxHerding is clean from round 0.
_base_ = ['../edald/edald-2stage_adm256-t3b4_10r-b0.1n_camvid-256x256.py']
train_cfg = dict(stage1=dict(picker=dict(type='CoreSet')))
