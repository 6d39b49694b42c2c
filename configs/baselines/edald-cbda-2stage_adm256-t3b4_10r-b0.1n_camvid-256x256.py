# Two-stage eDALD with CBDA class balancing (Schachtsiek et al. 2023): each
# eDALD score is multiplied by max(1 - n_c / (B / C), epsilon) for its
# predicted class c (B: labels after the round); CamVid.
_base_ = ['../edald/camvid.py']
train_cfg = dict(
    selector=dict(stage2=dict(class_balance=dict(mode='cbda', epsilon=0.1))))
