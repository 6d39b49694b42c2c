# PowerDALD: DALD^1 sampling (Gumbel top-b), over the MaxHerding pool (herding
# -> UC); CamVid, paper Tables 1-2.
_base_ = ['../edald/edald-2stage_adm256-t3b4_10r-b0.1n_camvid-256x256.py']
train_cfg = dict(selector=dict(stage2=dict(score='dald', power=True)))
