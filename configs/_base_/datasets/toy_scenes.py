# The built-in procedural street scenes (6 classes), generated into
# data_root on first use. The pool and the evaluation split must use the
# same generation parameters, hence one shared dict.
_base_ = './converted_256.py'
toy_scenes = dict(
    type='ToyScenesDataset',
    data_root='data/toy_scenes',
    image_size=64,
    num_train=120,
    num_val=40,
    seed=0)
# 64x64 images load faster in the main process than through workers.
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(dataset=dict(dataset=toy_scenes), **loader)
val_dataloader = dict(dataset=toy_scenes, **loader)
test_dataloader = val_dataloader
