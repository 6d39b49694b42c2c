# eDALD: DALD + entropy of one more noise draw, over the unlabelled candidates
# (no Stage 1); CamVid, paper Tables 1-2.
_base_ = ['./_base_/one_stage_camvid.py']
