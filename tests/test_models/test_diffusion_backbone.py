"""DiffusionBackbone: layout, noising, read-out, noise keys, freezing."""
import pytest
import torch
from mmseg.registry import MODELS
from torch import nn

from mmseg_al.models.backbones import DiffusionBackbone
from mmseg_al.utils import torch_generator
from .conftest import SIZE, random_images

#: docs/method.md: (sqrt abar_t, sqrt(1 - abar_t)) of the linear schedule.
REFERENCE_COEFFICIENTS = {
    50: (0.984861, 0.173345),
    150: (0.886503, 0.462723),
    250: (0.722096, 0.691793),
}


@pytest.fixture
def backbone(tiny_backbone_cfg):
    torch.manual_seed(0)
    return MODELS.build(tiny_backbone_cfg)


def test_layout_and_map_shapes(backbone):
    assert backbone.layout.block_channels == (128, 64, 32, 32)
    assert backbone.feature_dim == 3 * (128 + 64 + 32 + 32)
    assert backbone.layout.part_channels == [128, 64, 32, 32] * 3
    maps = backbone(random_images(), ['a', 'b'])
    expected = [(2, c, SIZE // s, SIZE // s)
                for c, s in zip((128, 64, 32, 32), (8, 4, 2, 1))] * 3
    assert [tuple(m.shape) for m in maps] == expected
    assert all(m.dtype == torch.float32 for m in maps)


def test_real_imagenet256_layout_is_6144(tiny_unet_cfg):
    flags = dict(tiny_unet_cfg, num_channels=256, num_head_channels=64)
    with torch.device('meta'):
        real = DiffusionBackbone(unet=flags)
    assert real.layout.block_channels == (1024, 512, 256, 256)
    assert real.feature_dim == 6144


def test_noise_coefficients_match_reference(backbone):
    for t, (signal, noise) in REFERENCE_COEFFICIENTS.items():
        assert backbone.noise_coefficients(t) == pytest.approx(
            (signal, noise), abs=1e-6)


def test_unet_sees_x_t_with_the_clean_noise_and_integer_timestep(
        backbone, monkeypatch):
    seen = []
    monkeypatch.setattr(backbone, '_read_out',
                        lambda x_t, t: seen.append((x_t, t)) or [])
    x0 = random_images()
    backbone(x0, ['a', 'b'])
    eps = torch.stack([
        torch.randn(3, SIZE, SIZE, generator=torch_generator(7, 'clean', i))
        for i in ('a', 'b')
    ])
    assert [t for _, t in seen] == [50, 150, 250]
    for x_t, t in seen:
        signal, noise = backbone.noise_coefficients(t)
        torch.testing.assert_close(x_t, signal * x0 + noise * eps)


def test_read_out_equals_hooks_on_the_stock_unet_forward(backbone):
    x_t = random_images(1)
    hooked = {}
    handles = [
        backbone.unet.output_blocks[b].register_forward_hook(
            lambda m, i, out, b=b: hooked.__setitem__(b, out))
        for b in backbone.blocks
    ]
    with torch.no_grad():
        backbone.unet(x_t, torch.tensor([150]))
    for handle in handles:
        handle.remove()
    ours = backbone._read_out(x_t, 150)
    for b, out in zip(backbone.blocks, ours):
        torch.testing.assert_close(out, hooked[b], atol=1e-6, rtol=0)


def test_stops_after_the_last_needed_block(tiny_backbone_cfg):
    backbone = MODELS.build(dict(tiny_backbone_cfg, blocks=(5, 8)))

    def fail(*args):
        raise AssertionError('ran a layer that is not needed')

    backbone.unet.out.register_forward_hook(fail)
    backbone.unet.output_blocks[9].register_forward_hook(fail)
    maps = backbone(random_images(1), ['a'])
    assert [m.shape[1] for m in maps] == [128, 64] * 3


def test_noise_keys_are_deterministic_and_distinct(backbone):
    size = (SIZE, SIZE)
    clean = backbone.noise(['a'], size)
    assert torch.equal(clean, backbone.noise(['a'], size))
    expected = torch.randn(
        3, *size, generator=torch_generator(7, 'draw', 2, 'a', 1))
    assert torch.equal(
        backbone.noise(['a'], size, draw=1, round_idx=2)[0], expected)
    variants = {
        'clean': clean,
        'draw 0': backbone.noise(['a'], size, draw=0),
        'draw 1': backbone.noise(['a'], size, draw=1),
        'draw 0, round 1': backbone.noise(['a'], size, draw=0, round_idx=1),
        'other image': backbone.noise(['b'], size),
    }
    names = list(variants)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            assert not torch.allclose(variants[first], variants[second]), (
                first, second)
    batched = backbone.noise(['b', 'a'], size, draw=0)
    torch.testing.assert_close(batched[1], variants['draw 0'][0])


def test_features_follow_the_noise_keys(backbone):
    x0 = random_images(1)
    clean = backbone(x0, ['a'])
    assert all(torch.equal(u, v) for u, v in zip(clean, backbone(x0, ['a'])))
    draw = backbone(x0, ['a'], draw=0)
    assert not torch.allclose(clean[-1], draw[-1])


def test_frozen_and_eval_whatever_train_is_called_with(backbone):
    assert not any(p.requires_grad for p in backbone.parameters())
    backbone.train()
    assert not any(m.training for m in backbone.modules())
    backbone.set_dropout(True)
    backbone.train()
    dropouts = [m for m in backbone.modules() if isinstance(m, nn.Dropout)]
    assert dropouts and all(m.training for m in dropouts)
    assert not any(m.training for m in backbone.modules()
                   if not isinstance(m, nn.Dropout))
    backbone.set_dropout(False)
    assert not any(m.training for m in backbone.modules())
    x0 = random_images(1).requires_grad_()
    assert not any(m.requires_grad for m in backbone(x0, ['a']))


@pytest.mark.parametrize('override, message', [
    (dict(unet=dict(num_chanels=8)), "unknown unet flag(s) ['num_chanels']"),
    (dict(unet=dict(class_cond=True)), 'unet.class_cond=True'),
    (dict(unet=dict(use_fp16=True)), 'backbone.precision'),
    (dict(steps=(50, 1000)), 'steps=(50, 1000)'),
    (dict(steps=(50, 50)), 'must be distinct'),
    (dict(blocks=(8, 5)), 'strictly increasing'),
    (dict(blocks=(5, 18)), 'in [0, 18)'),
    (dict(precision='fp8'), "precision='fp8'"),
])
def test_config_errors_name_the_bad_value(tiny_backbone_cfg, override,
                                          message):
    cfg = dict(tiny_backbone_cfg, **override)
    if 'unet' in override:
        cfg['unet'] = dict(tiny_backbone_cfg['unet'], **override['unet'])
    with pytest.raises((KeyError, ValueError)) as info:
        MODELS.build(cfg)
    assert message in str(info.value)


def test_input_errors(backbone):
    with pytest.raises(ValueError, match='multiple of 32'):
        backbone(torch.zeros(1, 3, 48, 32), ['a'])
    with pytest.raises(ValueError, match='1 image ids for a batch of 2'):
        backbone(random_images(2), ['a'])


def test_random_weights_warn_loudly(backbone):
    with pytest.warns(UserWarning, match='RANDOM'):
        backbone.init_weights()


def test_noise_seed_none_waits_for_the_run_seed(tiny_backbone_cfg):
    backbone = MODELS.build(dict(tiny_backbone_cfg, noise_seed=None))
    with pytest.raises(RuntimeError, match='follows the run'):
        backbone.noise_generator('a.png')
    backbone.noise_seed = 7  # what ActiveLearningLoop does with its seed
    expected = torch.rand(3, generator=torch_generator(7, 'clean', 'a.png'))
    got = torch.rand(3, generator=backbone.noise_generator('a.png'))
    assert torch.equal(got, expected)


def test_list_flags_accept_the_cfg_options_list_form(tiny_unet_cfg):
    """``--cfg-options model.backbone.unet.attention_resolutions=32,16,8``
    gives a list; guided-diffusion reads a comma-separated string."""
    as_list = dict(tiny_unet_cfg, attention_resolutions=[32, 16, 8],
                   channel_mult=(1, 1, 2, 2, 4, 4))
    flags = DiffusionBackbone._resolve_flags(as_list)
    assert flags['attention_resolutions'] == '32,16,8'
    assert flags['channel_mult'] == '1,1,2,2,4,4'
    assert DiffusionBackbone._resolve_flags(tiny_unet_cfg) == dict(
        flags, channel_mult='')
