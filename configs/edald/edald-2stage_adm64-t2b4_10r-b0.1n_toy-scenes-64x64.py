# The toy in the paper's regime: b = 0.1 N = 12 pixels per round on the 120
# toy images (120 labelled pixels after 10 rounds), everything else as the
# embedded default (configs/edald/toy.py).
#   python tools/al_train.py configs/edald/edald-2stage_adm64-t2b4_10r-b0.1n_toy-scenes-64x64.py
_base_ = ['./edald-2stage_adm64-t2b4_10r-b0.5n_toy-scenes-64x64.py']
# Per-round draws, as the paper (its README figures were measured so).
train_cfg = dict(budget=dict(per_image=0.1), noise_draws='per_round')
