# Cityscapes at 256x256 (19 train ids), from
# tools/dataset_converters/cityscapes.py, read by mmseg's CityscapesDataset
# (*_leftImg8bit.png / *_gtFine_labelTrainIds.png); eval on val.
_base_ = './converted_256.py'
cityscapes = dict(type='CityscapesDataset', data_root='data/cityscapes_256')
train_dataloader = dict(
    dataset=dict(
        dataset=dict(
            cityscapes,
            data_prefix=dict(
                img_path='leftImg8bit/train', seg_map_path='gtFine/train'))))
val_dataloader = dict(
    dataset=dict(
        cityscapes,
        data_prefix=dict(img_path='leftImg8bit/val',
                         seg_map_path='gtFine/val')))
test_dataloader = val_dataloader
