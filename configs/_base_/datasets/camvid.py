# CamVid, 11 classes, from tools/dataset_converters/camvid.py; eval on test.
_base_ = './converted_256.py'
camvid = dict(type='CamVidDataset', data_root='data/camvid')
train_dataloader = dict(dataset=dict(dataset=camvid))
val_dataloader = dict(
    dataset=dict(
        camvid,
        data_prefix=dict(img_path='img_dir/test',
                         seg_map_path='ann_dir/test')))
test_dataloader = val_dataloader
