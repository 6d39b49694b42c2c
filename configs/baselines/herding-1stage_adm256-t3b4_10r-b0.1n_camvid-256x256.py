# Herding only (paper Table 2): Stage 1 straight to the budget every round,
# local then global MaxHerding, no uncertainty; CamVid.
_base_ = ['../edald/edald-2stage_adm256-t3b4_10r-b0.1n_camvid-256x256.py']
# (HerdingSelector herds the run's stage1 pool to exactly b.)
train_cfg = dict(selector=dict(_delete_=True, type='HerdingSelector'))
