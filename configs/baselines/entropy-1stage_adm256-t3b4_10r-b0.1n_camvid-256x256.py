# Entropy of the clean prediction, over the unlabelled candidates (no Stage 1);
# CamVid, paper Tables 1-2.
_base_ = ['./_base_/one_stage_camvid.py']
train_cfg = dict(selector=dict(stage2=dict(score='entropy')))
