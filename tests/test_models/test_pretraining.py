"""Denoising pretraining: it learns, it is reproducible, its output loads."""
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from mmseg_al.models.backbones.diffusion_backbone import DiffusionBackbone
from mmseg_al.models.pretraining import (DenoisingPretrainer, list_images,
                                         load_image, pretrain_denoiser)

#: A 2-level UNet on 32x32 inputs: small enough for a few CPU steps.
MICRO_UNET = dict(image_size=32, num_channels=32, channel_mult='1,2',
                  num_res_blocks=1, attention_resolutions='16',
                  num_head_channels=16, learn_sigma=False)


def write_scenes(folder, count=6, size=(40, 48)):
    """Structured images (sky/ground split, a box): easy to denoise."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    h, w = size
    for i in range(count):
        img = np.zeros((h, w, 3), np.uint8)
        horizon = rng.integers(h // 3, 2 * h // 3)
        img[:horizon] = (230, 180, 120)
        img[horizon:] = (60, 90, 70)
        x, y = rng.integers(0, w - 12), rng.integers(0, h - 12)
        img[y:y + 12, x:x + 12] = rng.integers(0, 255, 3)
        cv2.imwrite(str(folder / f'{i:02d}.png'), img)
    return sorted(str(p) for p in folder.glob('*.png'))


def test_pretraining_reduces_denoising_loss_and_writes_loadable_weights(
        tmp_path):
    paths = write_scenes(tmp_path / 'images')
    out = tmp_path / 'ckpt' / 'ddpm.pt'
    result = pretrain_denoiser(paths, str(out), unet=MICRO_UNET,
                               iterations=10, batch_size=2, lr=3e-3)
    assert len(result.losses) == 10
    assert result.eval_loss_after < 0.5 * result.eval_loss_before
    assert np.mean(result.losses[-3:]) < np.mean(result.losses[:3])

    state = torch.load(out, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    backbone = DiffusionBackbone(unet=MICRO_UNET, checkpoint=str(out),
                                 steps=(10, ), blocks=(0, 3))
    backbone.init_weights()
    for name, value in backbone.unet.state_dict().items():
        assert torch.equal(value, state[name]), name


def test_pretraining_is_reproducible_from_its_seed(tmp_path):
    paths = write_scenes(tmp_path)

    def losses(seed):
        trainer = DenoisingPretrainer(MICRO_UNET, lr=1e-3, seed=seed)
        return trainer.fit(paths, iterations=2, batch_size=2,
                           eval_images=1)[0]

    assert losses(0) == losses(0)
    assert losses(0) != losses(1)


def test_max_timestep_restricts_the_training_steps():
    trainer = DenoisingPretrainer(MICRO_UNET, max_timestep=5)
    x0 = torch.zeros(64, 3, 32, 32)
    _, t = trainer._noise_and_timesteps(x0, 'any')
    assert int(t.max()) < 5 and int(t.min()) >= 0
    with pytest.raises(ValueError, match='max_timestep must be in'):
        DenoisingPretrainer(MICRO_UNET, max_timestep=1001)


def test_load_image_resizes_shorter_side_and_centre_crops(tmp_path):
    img = np.zeros((20, 60, 3), np.uint8)
    img[:, 30:] = (0, 0, 255)  # right half red (BGR)
    cv2.imwrite(str(tmp_path / 'wide.png'), img)
    x = load_image(str(tmp_path / 'wide.png'), 32)
    assert x.shape == (3, 32, 32)
    # 20x60 -> 32x96, centre crop = original columns 20..40: the left half
    # of the crop is black, the right half red (channel 0 after BGR->RGB).
    black = torch.full((3, 32, 16), -1.0)
    red = black.clone()
    red[0] = 1.0
    torch.testing.assert_close(x[:, :, :16], black)
    torch.testing.assert_close(x[:, :, 16:], red)


def test_list_images_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        list_images(str(tmp_path / 'missing'))
    (tmp_path / 'notes.txt').write_text('no images here')
    with pytest.raises(FileNotFoundError, match='no image'):
        list_images(str(tmp_path))
    nested = tmp_path / 'a' / 'b'
    write_scenes(nested, count=2)
    assert list_images(str(tmp_path)) == [
        str(nested / '00.png'), str(nested / '01.png')]


def test_unknown_flag_is_named():
    with pytest.raises(KeyError, match='num_chanels'):
        DenoisingPretrainer(dict(num_chanels=32))


def test_cli_writes_a_checkpoint(tmp_path):
    write_scenes(tmp_path / 'images', count=2)
    out = tmp_path / 'cli.pt'
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    proc = subprocess.run(
        [sys.executable, osp.join(root, 'tools', 'pretrain_ddpm.py'),
         str(tmp_path / 'images'), str(out), '--iterations', '2',
         '--batch-size', '2', '--image_size', '32', '--num_channels', '32',
         '--channel_mult', '1,2', '--num_res_blocks', '1',
         '--attention_resolutions', '16', '--learn_sigma', 'False'],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert '"iterations": 2' in proc.stdout
    state = torch.load(out, weights_only=True)
    assert state['out.2.weight'].shape[0] == 3  # learn_sigma False


def test_ddep_trains_at_one_noise_level_with_the_encoder_frozen():
    trainer = DenoisingPretrainer(MICRO_UNET, timestep=37,
                                  freeze_encoder=True, seed=0)
    _, t = trainer._noise_and_timesteps(torch.zeros(4, 3, 32, 32), 'k')
    assert t.tolist() == [37] * 4
    encoder = {id(p) for part in (trainer.model.time_embed,
                                  trainer.model.input_blocks,
                                  trainer.model.middle_block)
               for p in part.parameters()}
    trained = [p for group in trainer.optimizer.param_groups
               for p in group['params']]
    assert trained and not encoder & {id(p) for p in trained}
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    x0 = torch.rand(2, 3, 32, 32) * 2 - 1
    trainer.loss(x0, 'step')['loss'].backward()
    trainer.optimizer.step()
    after = trainer.model.state_dict()
    assert torch.equal(before['input_blocks.0.0.weight'],
                       after['input_blocks.0.0.weight'])
    assert not torch.equal(before['out.2.weight'], after['out.2.weight'])
    with pytest.raises(ValueError, match='timestep must be in'):
        DenoisingPretrainer(MICRO_UNET, timestep=1000)
