# The short, documented name of
# ledm-ensmi-2stage_adm64-t2b4_10r-b0.5n_toy-scenes-64x64.py:
# python tools/al_train.py configs/ledm/toy.py
_base_ = ['./ledm-ensmi-2stage_adm64-t2b4_10r-b0.5n_toy-scenes-64x64.py']
