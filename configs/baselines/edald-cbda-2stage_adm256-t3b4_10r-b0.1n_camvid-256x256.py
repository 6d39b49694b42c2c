# Two-stage eDALD with CBDA class balancing (Schachtsiek et al. 2023): each
# eDALD score is multiplied by max(1 - n_c / (B / C), epsilon) for its
# predicted class c (B: labels after the round); CamVid.
_base_ = ['../edald/edald-2stage_adm256-t3b4_10r-b0.1n_camvid-256x256.py']
train_cfg = dict(
    selector=dict(stage2=dict(class_balance=dict(mode='cbda', epsilon=0.1))))
