# The "fully supervised" reference row: one round whose labels are a
# uniform random sample of the ground-truth pixels of every training image,
# then the head is trained once and evaluated, through the same loop as the
# active-learning runs (same features, head training and evaluation).
# Why a sample and not every pixel: the loop holds the features of its
# labelled pixels in memory, and every pixel of CamVid's 367 training
# images is 24M pixels x 8448 dims x 4 B = about 810 GB (Cityscapes: 8x
# more). 400,000 pixels (13.5 GB of features) is about 1,100 per CamVid
# image, 1,100 times the 367 labels of a CamVid active-learning run's last
# round (10 rounds of b = 0.1 N).
# Ground-truth void pixels are left out of the sample (oracle_void): this
# row uses the ground truth anyway.
_base_ = ['./al_10rounds.py']
train_cfg = dict(
    rounds=1,
    budget=dict(per_image=None, pixels=400000),
    cold_start=dict(
        _delete_=True,
        type='OneStageSelector',
        stage2=dict(type='ScoreRanking', score='random'),
        candidates_per_image=None),
    oracle_void=True)
