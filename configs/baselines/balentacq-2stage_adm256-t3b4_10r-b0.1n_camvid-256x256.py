# BalEntAcq over 5 diffusion-noise draws, over the MaxHerding pool (herding ->
# UC); CamVid, paper Tables 1-2.
_base_ = ['../edald/camvid.py']
train_cfg = dict(selector=dict(stage2=dict(score='balentacq')))
