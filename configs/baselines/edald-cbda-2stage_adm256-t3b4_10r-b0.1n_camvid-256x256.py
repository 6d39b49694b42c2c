# Two-stage eDALD with CBDA class balancing (Kim et al. 2023): eDALD scores
# down-weighted for classes over their share of the labels so far; CamVid.
_base_ = ['../edald/camvid.py']
train_cfg = dict(selector=dict(stage2=dict(class_balance=True)))
