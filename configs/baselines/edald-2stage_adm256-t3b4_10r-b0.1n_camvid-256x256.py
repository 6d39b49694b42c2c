# Two-stage eDALD, the method itself (= configs/edald/camvid.py), as the
# reference row of the baseline tables.
_base_ = ['../edald/edald-2stage_adm256-t3b4_10r-b0.1n_camvid-256x256.py']
