"""Configs of tiny diffusion segmentors for the model tests."""
import pytest
import torch
from mmengine.registry import init_default_scope

import mmseg_al  # noqa: F401  (registers the models)

#: Tiny inputs: one multiple of 32 (the UNet downsamples five times).
SIZE = 32
NUM_CLASSES = 4


def random_images(batch: int = 2, seed: int = 0) -> torch.Tensor:
    """``[batch, 3, SIZE, SIZE]`` images in ``[-1, 1]``, as preprocessed."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, SIZE, SIZE, generator=gen) * 2 - 1


@pytest.fixture(autouse=True)
def mmseg_scope():
    """Build nested modules (data preprocessor, losses) in mmseg's scope."""
    init_default_scope('mmseg')


@pytest.fixture(autouse=True)
def single_thread():
    """One intra-op thread: tiny convolutions on a busy shared CPU run many
    times faster than with threads competing for cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_backbone_cfg(tiny_unet_cfg):
    """A random-weight DiffusionBackbone of the imagenet_256 layout."""
    return dict(
        type='DiffusionBackbone',
        unet=dict(tiny_unet_cfg, dropout=0.1),
        checkpoint=None,
        noise_seed=7)


@pytest.fixture
def tiny_segmentor_cfg(tiny_backbone_cfg):
    """SparsePixelSegmentor over the tiny backbone, as a preset would be."""
    return dict(
        type='SparsePixelSegmentor',
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[127.5] * 3,
            std=[127.5] * 3,
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=255),
        backbone=tiny_backbone_cfg,
        decode_head=dict(
            type='PixelMLPHead', num_classes=NUM_CLASSES, dropout_ratio=0.2),
        test_cfg=dict(mode='whole'))
