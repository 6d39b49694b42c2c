# What the converted datasets share: an active-learning pool over
# data_root/{img_dir,ann_dir}/train and an evaluation split (val unless a
# dataset says otherwise). Dataset files set the type, data_root and split.
# Images are already 256x256 and the active-learning pool must show every
# image exactly as the oracle labels it, so there is no resizing and no
# random augmentation.
pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# The train dataloader only carries the pool to ActiveLearningLoop, which
# reads images by index (feature_batch_size per backbone call) and trains
# the head on labelled pixels; its batching settings are not used.
train_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='PixelSparseDataset',
        dataset=dict(
            data_prefix=dict(
                img_path='img_dir/train', seg_map_path='ann_dir/train'),
            pipeline=pipeline)))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
