# LEDM-AL on the built-in toy scenes, on CPU in a few minutes: the setting
# of configs/edald/toy.py (same small UNet, read-outs, schedule and
# Stage 1) with an ensemble of 10 pixel MLPs, one fixed noise, and Stage 2
# ranked by the ensemble's mutual information.
_base_ = ['../edald/edald-2stage_adm64-t2b4_10r-b0.5n_toy-scenes-64x64.py']
model = dict(
    backbone=dict(noise_seed=0),
    decode_head=dict(type='PixelMLPEnsembleHead', num_models=10,
                     predict='vote'))
train_cfg = dict(
    selector=dict(stage2=dict(_delete_=True, type='ScoreRanking',
                              score='ensemble_mi')))
