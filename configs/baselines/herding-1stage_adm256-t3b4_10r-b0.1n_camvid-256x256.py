# Herding only (paper Table 2): Stage 1 straight to the budget every round,
# local then global MaxHerding, no uncertainty; CamVid.
_base_ = ['../edald/camvid.py']
# (HerdingSelector herds the run's stage1 pool to exactly b.)
train_cfg = dict(selector=dict(_delete_=True, type='HerdingSelector'))
