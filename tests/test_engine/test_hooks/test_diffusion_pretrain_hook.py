"""DiffusionPretrainHook: a missing diffusion checkpoint is made once."""
import logging
import os.path as osp
from types import SimpleNamespace

import pytest
import torch

from mmseg_al.engine.hooks import DiffusionPretrainHook
from mmseg_al.models.backbones.diffusion_backbone import DiffusionBackbone
from test_models.test_pretraining import MICRO_UNET, write_scenes


class FakeRunner:
    """What DiffusionPretrainHook reads from a runner."""

    def __init__(self, backbone, image_paths):
        self.model = torch.nn.Module()
        self.model.backbone = backbone
        self.train_dataloader = SimpleNamespace(
            dataset=SimpleNamespace(image_paths=image_paths))
        self.logger = logging.getLogger('pretrain-hook-test')


def test_hook_creates_the_missing_checkpoint_once(tmp_path):
    paths = write_scenes(tmp_path / 'images', count=2)
    checkpoint = str(tmp_path / 'ckpt' / 'toy.pt')
    backbone = DiffusionBackbone(unet=MICRO_UNET, checkpoint=checkpoint,
                                 steps=(10, ), blocks=(0, 3))
    hook = DiffusionPretrainHook(checkpoint, iterations=2, batch_size=2)
    hook.before_run(FakeRunner(backbone, paths))
    assert osp.isfile(checkpoint)
    made = osp.getmtime(checkpoint)
    backbone.init_weights()  # what the runner does after before_run

    # A second run reuses the file, even without pool images.
    hook.before_run(FakeRunner(backbone, []))
    assert osp.getmtime(checkpoint) == made


def test_hook_refuses_a_checkpoint_the_backbone_does_not_load(tmp_path):
    backbone = DiffusionBackbone(unet=MICRO_UNET,
                                 checkpoint=str(tmp_path / 'other.pt'),
                                 steps=(10, ), blocks=(0, 3))
    hook = DiffusionPretrainHook(str(tmp_path / 'toy.pt'))
    with pytest.raises(ValueError, match='set both to the same file'):
        hook.before_run(FakeRunner(backbone, []))
    with pytest.raises(TypeError, match='needs model.backbone to be a '
                       'DiffusionBackbone'):
        hook.before_run(FakeRunner(torch.nn.Identity(), []))
