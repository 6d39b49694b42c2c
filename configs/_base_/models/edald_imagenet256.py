# Frozen guided-diffusion UNet (256x256_diffusion_uncond.pt) + LEDM pixel MLP.
# Experiment configs set decode_head.num_classes; everything else is the
# method's default (docs/method.md, "Features" and "Segmentation head").
model = dict(
    type='SparsePixelSegmentor',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[127.5, 127.5, 127.5],
        std=[127.5, 127.5, 127.5],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        type='DiffusionBackbone',
        unet=dict(
            image_size=256,
            num_channels=256,
            num_res_blocks=2,
            num_head_channels=64,
            attention_resolutions='32,16,8',
            resblock_updown=True,
            use_scale_shift_norm=True,
            learn_sigma=True,
            class_cond=False,
            dropout=0.0,
            diffusion_steps=1000,
            noise_schedule='linear'),
        checkpoint='checkpoints/256x256_diffusion_uncond.pt',
        steps=(50, 150, 250),
        blocks=(5, 8, 12, 17),
        noise_seed=None,  # the run's seed (--seed / randomness.seed)
        normalize=True,
        precision='fp32'),
    decode_head=dict(
        type='PixelMLPHead',
        num_classes=11,
        dropout_ratio=0.0,
        ignore_index=255,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            avg_non_ignore=True)),
    test_cfg=dict(mode='whole'))
