# Herding only (paper Table 2): Stage 1 straight to the budget every round,
# local then global MaxHerding, no uncertainty; CamVid.
_base_ = ['../edald/camvid.py']
train_cfg = dict(
    selector=dict(
        _delete_=True,
        type='HerdingSelector',
        stage1=dict(
            type='LocalGlobalPool',
            picker=dict(type='MaxHerding'),
            candidates_per_image=10000,
            local_budget=50)))
