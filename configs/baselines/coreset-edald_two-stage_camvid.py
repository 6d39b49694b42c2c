# Core-set (k-center greedy) instead of MaxHerding as Stage 1, eDALD as
# Stage 2 (paper Table 8); CamVid.
_base_ = ['../edald/camvid.py']
train_cfg = dict(selector=dict(stage1=dict(picker=dict(type='CoreSet'))))
