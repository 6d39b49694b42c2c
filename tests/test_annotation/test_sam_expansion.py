"""SAMExpansion: the τ rule, one encoding per image, the checkpoint path,
clear stops, and a tiny random SAM end to end (with segment-anything)."""
import sys
import types
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from mmseg_al.annotation import SAMExpansion
from mmseg_al.annotation.sam_expansion import best_mask_region

H, W = 4, 6


def three_masks():
    masks = np.zeros((3, H, W), dtype=bool)
    masks[0, 1] = True  # row 1
    masks[1, :, 2] = True  # column 2
    masks[2] = True  # everything
    return masks


@pytest.mark.parametrize('ious, threshold, expected', [
    ([0.5, 0.95, 0.7], 0.9, [2, 8, 14, 20]),  # the best, above τ
    ([0.97, 0.95, 0.7], 0.9, [6, 7, 8, 9, 10, 11]),
    ([0.5, 0.9, 0.7], 0.9, []),  # not above τ: the single pixel
    ([0.2, 0.3, 0.4], 0.0, list(range(24))),
])
def test_the_best_mask_is_kept_only_above_the_threshold(ious, threshold,
                                                        expected):
    region = best_mask_region(three_masks(), np.array(ious), threshold)
    assert region.tolist() == expected and region.dtype == np.int64


class TinyModule(nn.Module):
    """Stands in for a SAM model: weights to save and load."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(2, 2)


class FakePredictor:
    """SamPredictor's interface: row 1 is the likeliest mask at even x,
    nothing above 0.9 at odd x; records each encoding."""
    encoded = []

    def __init__(self, sam):
        self.sam = sam

    def set_image(self, image, image_format='RGB'):
        FakePredictor.encoded.append(image.copy())

    def predict(self, point_coords, point_labels, multimask_output):
        assert multimask_output and point_labels.tolist() == [1]
        x = int(point_coords[0, 0])
        ious = [0.95, 0.5, 0.2] if x % 2 == 0 else [0.3, 0.5, 0.2]
        return three_masks(), np.array(ious), None


@pytest.fixture
def fake_segment_anything(monkeypatch):
    module = types.ModuleType('segment_anything')
    module.sam_model_registry = {'vit_b': TinyModule}
    module.SamPredictor = FakePredictor
    monkeypatch.setitem(sys.modules, 'segment_anything', module)
    FakePredictor.encoded = []
    return module


def test_each_image_is_encoded_once_and_the_rule_applied(
        tmp_path, fake_segment_anything, monkeypatch):
    saved = TinyModule()
    torch.save(saved.state_dict(), tmp_path / 'sam.pth')
    loads = []
    original = torch.load

    def recording(*args, **kwargs):
        loads.append(kwargs.get('weights_only'))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', recording)
    expansion = SAMExpansion(str(tmp_path / 'sam.pth'), 'vit_b',
                             iou_threshold=0.9, device='cpu')
    images = {'a': np.full((H, W, 3), 10, np.uint8),
              'b': np.full((H, W, 3), 20, np.uint8)}
    queries = SimpleNamespace(
        image_ids=['a', 'b', 'a', 'a'], pixels=np.array([0, 3, 13, 20]),
        images=SimpleNamespace(rgb=images.__getitem__),
        image_shapes={'a': (H, W), 'b': (H, W)})
    regions = expansion.propose(queries)
    # x = 0, 3, 1, 2: even x takes row 1 (plus the click), odd x the pixel
    assert [r.tolist() for r in regions] == [
        [0, 6, 7, 8, 9, 10, 11], [3], [13], [6, 7, 8, 9, 10, 11, 20]]
    assert [int(e[0, 0, 0]) for e in FakePredictor.encoded] == [10, 20]
    assert loads == [True]  # the checkpoint read with weights_only=True
    torch.testing.assert_close(expansion.predictor.sam.state_dict(),
                               saved.state_dict())


def test_a_missing_checkpoint_names_its_download_and_path(tmp_path):
    path = str(tmp_path / 'sam_vit_b_01ec64.pth')
    with pytest.raises(FileNotFoundError) as missing:
        SAMExpansion(path, 'vit_b')
    assert str(missing.value) == (
        f"SAM checkpoint {path!r} does not exist. Download it from "
        'https://dl.fbaipublicfiles.com/segment_anything/'
        f'sam_vit_b_01ec64.pth to that path, e.g. wget -O {path} '
        'https://dl.fbaipublicfiles.com/segment_anything/'
        'sam_vit_b_01ec64.pth, or set train_cfg.expansion.checkpoint to '
        'the file.')


def test_a_missing_package_is_named_with_its_fix(tmp_path, monkeypatch):
    (tmp_path / 'sam.pth').write_bytes(b'')
    monkeypatch.setitem(sys.modules, 'segment_anything', None)
    with pytest.raises(ImportError, match=r'needs the official '
                       r'segment-anything package.*pip install '
                       r'git\+https://github.com/facebookresearch/'
                       r"segment-anything.git.*type='SuperpixelExpansion'"):
        SAMExpansion(str(tmp_path / 'sam.pth'))


@pytest.mark.parametrize('kwargs, message', [
    (dict(iou_threshold=1.0), r'iou_threshold must be a number in \[0, 1\)'),
    (dict(model_type='vit_x'), r"model_type must be one of \['vit_b'\], got "
     "'vit_x'"),
])
def test_bad_settings_are_named(tmp_path, fake_segment_anything, kwargs,
                                message):
    torch.save(TinyModule().state_dict(), tmp_path / 'sam.pth')
    with pytest.raises(ValueError, match=message):
        SAMExpansion(str(tmp_path / 'sam.pth'), **kwargs)


def build_tiny_sam():
    """A SAM of the package's own modules, tiny and randomly initialised
    (64-pixel input, one encoder block, 16 channels)."""
    from functools import partial

    from segment_anything.modeling import (ImageEncoderViT, MaskDecoder,
                                           PromptEncoder, Sam,
                                           TwoWayTransformer)
    return Sam(
        image_encoder=ImageEncoderViT(
            depth=1, embed_dim=16, img_size=64, mlp_ratio=2,
            norm_layer=partial(nn.LayerNorm, eps=1e-6), num_heads=2,
            patch_size=8, qkv_bias=True, use_rel_pos=True,
            global_attn_indexes=[0], window_size=4, out_chans=16),
        prompt_encoder=PromptEncoder(
            embed_dim=16, image_embedding_size=(8, 8),
            input_image_size=(64, 64), mask_in_chans=4),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=1, embedding_dim=16,
                                          mlp_dim=32, num_heads=2),
            transformer_dim=16, iou_head_depth=2, iou_head_hidden_dim=16),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375])


def test_a_tiny_random_sam_expands_a_toy_run_end_to_end(
        tmp_path, tiny_unet_cfg, monkeypatch):
    """The tiny SAM is saved as a user's checkpoint would be, loaded by the
    same code (the registry's builder, torch.load(weights_only=True)) and
    expands a 2-round toy run; each image is encoded once a round."""
    segment_anything = pytest.importorskip('segment_anything')
    import json
    import os.path as osp

    from helpers.toy_run import al_train_main, write_toy_config
    torch.manual_seed(0)
    torch.save(build_tiny_sam().state_dict(), tmp_path / 'tiny_sam.pth')
    monkeypatch.setitem(segment_anything.sam_model_registry, 'tiny_test',
                        build_tiny_sam)
    encoded = []
    original = segment_anything.SamPredictor.set_image

    def counting(self, image, image_format='RGB'):
        encoded.append(image.tobytes())
        return original(self, image, image_format)

    monkeypatch.setattr(segment_anything.SamPredictor, 'set_image', counting)
    cfg = write_toy_config(
        tmp_path / 'toy.py', tmp_path / 'data', tiny_unet_cfg,
        extra="train_cfg.update(expansion=dict(type='SAMExpansion', "
        f"checkpoint={str(tmp_path / 'tiny_sam.pth')!r}, "
        "model_type='tiny_test', iou_threshold=0.0, device='cpu'))\n")
    work = tmp_path / 'work'
    assert al_train_main([cfg, '--work-dir', str(work)]) == 0
    state = np.load(work / 'al_state' / 'round_01.npz')
    with open(work / 'metrics.json', encoding='utf-8') as file:
        metrics = json.load(file)['rounds']
    assert [e['labelled_pixels'] for e in metrics] == [5, 10]
    assert 0 < metrics[1]['expanded_pixels'] == int(state['expanded'].sum())
    images_per_round = 0
    for round_idx in (0, 1):
        stem = osp.join(work, 'queries', f'round_{round_idx:02d}')
        with open(stem + '.json', encoding='utf-8') as file:
            rows = json.load(file)
        images_per_round += len({row['image'] for row in rows})
        with np.load(stem + '_regions.npz') as data:
            regions = np.split(data['pixels'], np.cumsum(data['sizes'])[:-1])
        for row, region in zip(rows, regions):
            click = row['y'] * 32 + row['x']
            assert click in region and region.max() < 32 * 32
            mine = state['pixels'][state['expanded'] & (
                state['image_ids'] == row['image']) & (
                state['sources'] == click)]
            assert set(mine.tolist()) <= set(region.tolist())
    assert len(encoded) == images_per_round  # once per image and round
