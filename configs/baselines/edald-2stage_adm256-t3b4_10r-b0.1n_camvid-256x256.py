# Two-stage eDALD, the method itself (= configs/edald/camvid.py), as the
# reference row of the baseline tables.
_base_ = ['../edald/camvid.py']
