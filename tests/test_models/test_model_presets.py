"""The model presets build, with the method's flags and feature layout."""
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

PRESETS = {
    'edald_imagenet256': ('checkpoints/256x256_diffusion_uncond.pt', 0.0),
    'edald_lsun_bedroom': ('checkpoints/lsun_bedroom.pt', 0.1),
}


def load(name):
    return Config.fromfile(f'configs/_base_/models/{name}.py').model


@pytest.mark.parametrize('name', PRESETS)
def test_preset_flags_follow_the_method(name, tiny_unet_cfg):
    checkpoint, dropout = PRESETS[name]
    backbone = load(name).backbone
    assert backbone.checkpoint == checkpoint
    # docs/method.md, "Features": the tiny test UNet's architecture at full
    # width (num_channels 256, 64 channels per attention head).
    assert dict(backbone.unet) == dict(
        tiny_unet_cfg, num_channels=256, num_head_channels=64,
        dropout=dropout)
    assert tuple(backbone.steps) == (50, 150, 250)
    assert tuple(backbone.blocks) == (5, 8, 12, 17)
    assert backbone.normalize is True


@pytest.mark.parametrize('name', PRESETS)
def test_real_preset_builds_with_6144_d_features(name):
    with torch.device('meta'):  # the layout without 2 GB of weights
        model = MODELS.build(load(name))
    assert model.feature_dim == 6144
    assert model.decode_head.in_channels == 6144


def test_preset_is_easy_to_override(tiny_unet_cfg):
    cfg = load('edald_imagenet256')
    cfg.backbone.unet = tiny_unet_cfg
    cfg.backbone.checkpoint = None
    cfg.decode_head.num_classes = 33
    model = MODELS.build(cfg)
    assert model.feature_dim == 768
    assert model.decode_head.hidden_channels == (256, 128)
