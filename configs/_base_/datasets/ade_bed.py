# ADE-Bed (ADE20K bedrooms, 30 classes), from
# tools/dataset_converters/ade_bed.py; eval on test.
_base_ = './converted_256.py'
ade_bed = dict(type='ADEBedDataset', data_root='data/ade_bed')
train_dataloader = dict(dataset=dict(dataset=ade_bed))
val_dataloader = dict(
    dataset=dict(
        ade_bed,
        data_prefix=dict(img_path='img_dir/test',
                         seg_map_path='ann_dir/test')))
test_dataloader = val_dataloader
