# The short, documented name of edald-2stage_adm256-t3b4_10r-b0.1n_cityscapes-256x256.py:
# python tools/al_train.py configs/edald/cityscapes.py
_base_ = ['./edald-2stage_adm256-t3b4_10r-b0.1n_cityscapes-256x256.py']
