# PowerDALD: DALD^1 sampling (Gumbel top-b), over the MaxHerding pool (herding
# -> UC); CamVid, paper Tables 1-2.
_base_ = ['../edald/camvid.py']
train_cfg = dict(selector=dict(stage2=dict(score='dald', power=True)))
