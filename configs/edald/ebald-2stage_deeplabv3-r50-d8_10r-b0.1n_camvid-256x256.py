# The method without diffusion (paper appendix C.4): an mmseg DeepLabV3
# (ResNet-50-D8 + ASPPHead) whose decode head's penultimate features serve
# Stage 1 (MaxHerding) and whose head dropout serves Stage 2 (eBALD, MC
# dropout instead of noise draws). Only conv_seg is trained on the labelled
# pixels; backbone and ASPP layers stay frozen. `pretrained` loads mmseg's
# ImageNet ResNet-50-V1c; to freeze a fully trained DeepLabV3 instead, set
# `load_from` to an mmseg DeepLabV3 checkpoint.
_base_ = [
    '../_base_/datasets/camvid.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/al_10rounds.py',
]
norm_cfg = dict(type='BN', requires_grad=False)
model = dict(
    type='DecodeHeadPixelModel',
    # ImageNet statistics: what the pretrained ResNet expects.
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    pretrained='open-mmlab://resnet50_v1c',
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=True,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='ASPPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        dilations=(1, 12, 24, 36),
        dropout_ratio=0.1,
        num_classes=11,
        norm_cfg=norm_cfg,
        align_corners=False,
        ignore_index=255,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    test_cfg=dict(mode='whole'))
# Stage 2 = eBALD: MI over MC-dropout passes + entropy of one more pass.
train_cfg = dict(selector=dict(stage2=dict(score='ebald')))
