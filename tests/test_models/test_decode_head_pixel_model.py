"""DecodeHeadPixelModel: the pixel API over a DeepLabV3-style mmseg model."""
import json

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import register_all_modules

import mmseg_al  # noqa: F401  (registers the model)

# register mmseg's modules, but leave the default scope to each test
register_all_modules(init_default_scope=False)

SIZE = 64
NUM_CLASSES = 5


def tiny_deeplabv3_cfg(dropout_ratio=0.1):
    """ResNet-18 (narrow, dilated to stride 8) + ASPPHead, no pretraining."""
    return dict(
        type='DecodeHeadPixelModel',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3,
            bgr_to_rgb=True, pad_val=0, seg_pad_val=255),
        backbone=dict(
            type='ResNetV1c', depth=18, stem_channels=8, base_channels=8,
            num_stages=4, out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4),
            strides=(1, 2, 1, 1), norm_cfg=dict(type='BN'),
            contract_dilation=True),
        decode_head=dict(
            type='ASPPHead', in_channels=64, in_index=3, channels=16,
            dilations=(1, 2, 3, 4), dropout_ratio=dropout_ratio,
            num_classes=NUM_CLASSES, norm_cfg=dict(type='BN'),
            align_corners=False),
        test_cfg=dict(mode='whole'))


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        net = MODELS.build(ConfigDict(tiny_deeplabv3_cfg()))
    net.init_weights()
    # Non-trivial BN statistics, so eval-mode features are not degenerate.
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    net.eval()
    return net


@pytest.fixture(scope='module')
def inputs():
    gen = torch.Generator().manual_seed(1)
    return torch.rand(2, 3, SIZE, SIZE, generator=gen) * 2 - 1


def some_pixels(seed, n=40):
    gen = torch.Generator().manual_seed(seed)
    pixels = torch.randperm(SIZE * SIZE, generator=gen)[:n]
    # Corners and edges exercise the border handling of the sampling.
    return torch.cat([pixels, torch.tensor([0, SIZE - 1, SIZE * SIZE - 1])])


def dense_reference(model, inputs):
    """Penultimate maps upsampled to the image, as mmseg's resize does."""
    with torch.no_grad():
        maps = model.decode_head._forward_feature(model.extract_feat(inputs))
    return F.interpolate(maps, (SIZE, SIZE), mode='bilinear',
                         align_corners=False)


def test_pixel_features_equal_upsampled_penultimate_maps(model, inputs):
    points = [some_pixels(0), some_pixels(1, n=7)]
    feats = model.pixel_features(inputs, ['a.png', 'b.png'], points)
    dense = dense_reference(model, inputs).flatten(2)
    assert dense.shape[1] == model.feature_dim == 16
    for i, (pix, got) in enumerate(zip(points, feats)):
        assert got.shape == (len(pix), 16)
        torch.testing.assert_close(got, dense[i][:, pix].t(), atol=1e-5,
                                   rtol=0)


def test_draws_are_ignored(model, inputs):
    points = [some_pixels(2), some_pixels(3)]
    clean = model.pixel_features(inputs, ['a', 'b'], points)
    drawn = model.pixel_features(inputs, ['a', 'b'], points, draw=3,
                                 round_idx=4)
    for a, b in zip(clean, drawn):
        assert torch.equal(a, b)


def test_pixel_logits_equal_conv_seg_and_dense_predict(model, inputs):
    points = [some_pixels(4), some_pixels(5)]
    feats = model.pixel_features(inputs, ['a', 'b'], points)
    dense_logits = model.decode_head.conv_seg(dense_reference(model, inputs))
    samples = [
        SegDataSample(metainfo=dict(img_shape=(SIZE, SIZE),
                                    ori_shape=(SIZE, SIZE)))
        for _ in range(2)
    ]
    predicted = model.predict(inputs, samples)
    for i, (pix, feat) in enumerate(zip(points, feats)):
        logits = model.pixel_logits(feat)
        assert logits.shape == (len(pix), NUM_CLASSES)
        expected = dense_logits[i].flatten(1)[:, pix].t()
        torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)
        # mmseg upsamples logits instead of features: equal by linearity.
        mmseg_logits = predicted[i].seg_logits.data.flatten(1)[:, pix].t()
        torch.testing.assert_close(logits, mmseg_logits, atol=1e-5, rtol=0)


def test_mc_dropout_masks_channels_reproducibly(model):
    feats = torch.randn(30, model.feature_dim,
                        generator=torch.Generator().manual_seed(6))

    def mc(seed):
        return model.pixel_logits(feats, mc_dropout=True,
                                  generator=torch.Generator().manual_seed(
                                      seed))

    assert torch.equal(mc(1), mc(1))
    assert not torch.allclose(mc(1), mc(2))
    # Reference: the same mask drawn by hand, inverted-dropout scaling.
    keep = 1 - model.dropout_ratio
    mask = torch.rand(feats.shape,
                      generator=torch.Generator().manual_seed(1)) < keep
    conv = model.decode_head.conv_seg
    expected = (feats * mask / keep) @ conv.weight.flatten(1).t() + conv.bias
    torch.testing.assert_close(mc(1), expected, atol=1e-6, rtol=0)
    # Without mc_dropout the head is deterministic whatever the mode.
    model.train()
    try:
        assert torch.equal(model.pixel_logits(feats),
                           model.pixel_logits(feats))
    finally:
        model.eval()


def test_only_conv_seg_trains_and_feature_layers_stay_in_eval(inputs):
    net = MODELS.build(ConfigDict(tiny_deeplabv3_cfg()))
    net.init_weights()
    trainable = sorted(n for n, p in net.named_parameters() if p.requires_grad)
    assert trainable == ['decode_head.conv_seg.bias',
                         'decode_head.conv_seg.weight']
    net.train()
    assert not net.backbone.training
    assert not net.decode_head.bottleneck.training
    assert not any(m.training for m in net.decode_head.aspp_modules.modules())
    stats = net.backbone.stem[1].running_mean.clone()
    net.pixel_features(inputs, ['a', 'b'], [some_pixels(7), some_pixels(8)])
    assert torch.equal(stats, net.backbone.stem[1].running_mean)


def test_loss_pixels_is_the_heads_configured_loss(model, inputs):
    labelled = [torch.tensor([3, 200, 4000]), torch.tensor([17])]
    classes = torch.tensor([0, 4, 2, 1])
    feats = torch.cat(model.pixel_features(inputs, ['0.png', '1.png'],
                                           labelled))
    losses = model.loss_pixels(feats, classes)
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg'}
    expected = F.cross_entropy(model.pixel_logits(feats), classes)
    torch.testing.assert_close(losses['decode.loss_ce'], expected)
    model.zero_grad()
    losses['decode.loss_ce'].backward()
    grads = [n for n, p in model.named_parameters() if p.grad is not None]
    assert sorted(grads) == ['decode_head.conv_seg.bias',
                             'decode_head.conv_seg.weight']
    model.zero_grad()


def test_loss_pixels_without_labels_is_zero(model):
    losses = model.loss_pixels(torch.zeros(0, model.feature_dim),
                               torch.zeros(0, dtype=torch.long))
    assert losses['decode.loss_ce'].item() == 0.0


def test_reset_head_reinitialises_conv_seg_reproducibly():
    net = MODELS.build(ConfigDict(tiny_deeplabv3_cfg()))
    conv = net.decode_head.conv_seg
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.fill_(1.0)
    backbone_before = net.backbone.stem[0].weight.clone()
    torch.manual_seed(3)
    net.reset_head()
    first = conv.weight.clone()
    assert torch.count_nonzero(conv.bias) == 0
    assert 0.005 < float(first.std()) < 0.015
    torch.manual_seed(3)
    net.reset_head()
    assert torch.equal(first, conv.weight)
    assert torch.equal(backbone_before, net.backbone.stem[0].weight)


def test_properties_and_config_errors():
    net = MODELS.build(ConfigDict(tiny_deeplabv3_cfg(dropout_ratio=0.3)))
    assert (net.num_classes, net.feature_dim, net.dropout_ratio) == (
        NUM_CLASSES, 16, 0.3)
    cfg = tiny_deeplabv3_cfg()
    cfg['decode_head']['align_corners'] = True
    with pytest.raises(ValueError, match='align_corners=False'):
        MODELS.build(ConfigDict(cfg))
    cfg = tiny_deeplabv3_cfg()
    cfg['auxiliary_head'] = dict(
        type='FCNHead', in_channels=32, in_index=2, channels=8,
        num_classes=NUM_CLASSES)
    with pytest.raises(ValueError, match='remove auxiliary_head'):
        MODELS.build(ConfigDict(cfg))


def test_two_round_active_learning_run(tmp_path):
    """The DeepLabV3 config runs the loop: herding cold start on the head's
    features, then two-stage eBALD with MC dropout."""
    from helpers.toy_run import REPO, al_train_main

    toy = dict(type='ToyScenesDataset', data_root=str(tmp_path / 'data'),
               image_size=32, num_train=4, num_val=2, seed=0)
    split = {
        s: dict(img_path=f'img_dir/{s}', seg_map_path=f'ann_dir/{s}')
        for s in ('train', 'val')
    }
    config = tmp_path / 'deeplabv3_toy.py'
    config.write_text(f'''
_base_ = [{REPO + '/configs/edald/camvid_deeplabv3.py'!r}]
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(
    dataset=dict(dataset=dict({toy!r}, data_prefix={split['train']!r})),
    **loader)
val_dataloader = dict(
    dataset=dict({toy!r}, data_prefix={split['val']!r}), **loader)
test_dataloader = val_dataloader
model = dict(
    pretrained=None,
    backbone=dict(depth=18, stem_channels=8, base_channels=8),
    decode_head=dict(in_channels=64, channels=16, dilations=(1, 2, 3, 4),
                     num_classes=6))
stage1 = dict(type='LocalGlobalCandidates', picker=dict(type='MaxHerding'),
              candidates_per_image=64, local_budget=4)
train_cfg = dict(
    rounds=2, budget=dict(per_image=None, pixels=5),
    cold_start=dict(stage1=stage1),
    selector=dict(stage1=stage1, stage2=dict(num_draws=2)),
    head_training=dict(max_epochs=4), feature_batch_size=4)
''')
    work_dir = tmp_path / 'work'
    assert al_train_main([str(config), '--work-dir', str(work_dir)]) == 0
    with open(work_dir / 'metrics.json') as f:
        rounds = json.load(f)['rounds']
    assert [r['labelled_pixels'] for r in rounds] == [5, 10]
    assert all(0 <= r['mIoU'] <= 100 for r in rounds)
    assert (work_dir / 'queries' / 'round_01.json').is_file()
