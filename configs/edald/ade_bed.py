# The short, documented name of edald-2stage_adm256-lsun-t3b4_10r-b0.1n_ade-bed-256x256.py:
# python tools/al_train.py configs/edald/ade_bed.py
_base_ = ['./edald-2stage_adm256-lsun-t3b4_10r-b0.1n_ade-bed-256x256.py']
