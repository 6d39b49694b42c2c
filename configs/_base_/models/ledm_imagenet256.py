# LEDM (Baranchuk et al., ICLR 2022) on the frozen ImageNet 256x256 DDPM:
# decoder blocks 5, 6, 7, 8, 12 at t = 50, 150, 250 (8448-d pixel
# features), one fixed noise (noise_seed 0 whatever the run's seed; LEDM
# draws one noise for all images, here each image has its own fixed one),
# and an ensemble of 10 pixel MLPs predicting by majority vote (the head's
# other settings are those of edald_imagenet256.py).
_base_ = ['./edald_imagenet256.py']
model = dict(
    backbone=dict(blocks=(5, 6, 7, 8, 12), steps=(50, 150, 250),
                  noise_seed=0),
    decode_head=dict(type='PixelMLPEnsembleHead', num_models=10,
                     predict='vote'))
