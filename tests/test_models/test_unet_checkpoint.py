"""Checkpoint loading: round trip and every way a file can be wrong."""
import pytest
import torch
from mmseg.registry import MODELS

from mmseg_al.models.backbones import load_unet_checkpoint


class NotATensor:
    """A pickled object ``torch.load(weights_only=True)`` must refuse."""


def build(cfg, **unet_overrides):
    """A backbone with other flags (reading out block 5, which all have)."""
    return MODELS.build(
        dict(cfg, blocks=(5, ), unet=dict(cfg['unet'], **unet_overrides)))


@pytest.fixture
def saved(tiny_backbone_cfg, tmp_path):
    """A backbone with seeded random weights and its saved UNet."""
    torch.manual_seed(1)
    source = build(tiny_backbone_cfg)
    path = tmp_path / 'unet.pt'
    torch.save(source.unet.state_dict(), path)
    return source, str(path)


def test_round_trip_in_init_weights_not_in_constructor(
        tiny_backbone_cfg, saved):
    source, path = saved
    torch.manual_seed(2)
    target = MODELS.build(dict(tiny_backbone_cfg, checkpoint=path))
    before = target.unet.state_dict()
    assert not torch.equal(before['time_embed.0.weight'],
                           source.unet.state_dict()['time_embed.0.weight'])
    target.init_weights()
    loaded = target.unet.state_dict()
    for key, value in source.unet.state_dict().items():
        assert torch.equal(loaded[key], value), key
    assert not any(p.requires_grad for p in target.parameters())


def test_missing_file_names_the_path(tiny_backbone_cfg, tmp_path):
    path = str(tmp_path / 'nope.pt')
    backbone = MODELS.build(dict(tiny_backbone_cfg, checkpoint=path))
    with pytest.raises(FileNotFoundError, match='nope.pt.*does not exist'):
        backbone.init_weights()


@pytest.mark.parametrize('content, message', [
    ([1, 2, 3], 'not a state dict of tensors'),
    (dict(meta=dict(epoch=3), state_dict=dict()),
     r"found \['meta', 'state_dict'\]"),
    (dict(weight=NotATensor()), 'cannot be read with torch.load'),
])
def test_not_a_state_dict(tiny_backbone_cfg, tmp_path, content, message):
    path = tmp_path / 'bad.pt'
    torch.save(content, path)
    backbone = build(tiny_backbone_cfg)
    with pytest.raises(ValueError, match=message) as info:
        load_unet_checkpoint(backbone.unet, str(path))
    assert str(path) in str(info.value)


def test_garbage_file_cannot_be_read(tiny_backbone_cfg, tmp_path):
    path = tmp_path / 'garbage.pt'
    path.write_text('not a checkpoint')
    with pytest.raises(ValueError, match='garbage.pt.*cannot be read'):
        load_unet_checkpoint(build(tiny_backbone_cfg).unet, str(path))


@pytest.mark.parametrize('wrong_flags, first_key, flag', [
    (dict(num_channels=64),
     'time_embed.0.weight (128, 32) in file vs (256, 64)', 'num_channels'),
    (dict(learn_sigma=False), 'out.2.weight (6, 32, 3, 3) in file vs (3,',
     'learn_sigma'),
    (dict(attention_resolutions='16,8'), '.1.qkv.weight',
     'attention_resolutions'),
    (dict(resblock_updown=False), 'missing keys: input_blocks.3.0.op',
     'resblock_updown'),
    (dict(use_scale_shift_norm=False), 'emb_layers.1.weight',
     'use_scale_shift_norm'),
    (dict(num_res_blocks=1), 'unexpected keys', 'num_res_blocks'),
    (dict(channel_mult='1,2,2,4,4'), 'input_blocks.4.0.in_layers.2.weight',
     'num_res_blocks, channel_mult or image_size'),
])
def test_wrong_flags_name_file_keys_and_flag(tiny_backbone_cfg, saved,
                                             wrong_flags, first_key, flag):
    _, path = saved
    backbone = build(tiny_backbone_cfg, **wrong_flags)
    with pytest.raises(ValueError) as info:
        load_unet_checkpoint(backbone.unet, path)
    message = str(info.value)
    assert path in message
    assert first_key in message
    assert f'Likely wrong flag: {flag}' in message
    assert 'dropout' in message  # flags a state dict cannot reveal
