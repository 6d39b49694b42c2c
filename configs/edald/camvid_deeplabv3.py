# The short, documented name of ebald-2stage_deeplabv3-r50-d8_10r-b0.1n_camvid-256x256.py:
# python tools/al_train.py configs/edald/camvid_deeplabv3.py
_base_ = ['./ebald-2stage_deeplabv3-r50-d8_10r-b0.1n_camvid-256x256.py']
