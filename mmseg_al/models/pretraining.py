"""Denoising pretraining of a guided-diffusion UNet on a set of images.

The diffusion backbone is only as good as the denoiser behind it. Real runs
load the public ImageNet / LSUN checkpoints; a dataset without one (the
built-in toy scenes, or a user's own domain) gets a short DDPM pretraining
here instead. The result is a plain ``state_dict`` that
``DiffusionBackbone`` loads with ``torch.load(..., weights_only=True)``.

The objective is guided-diffusion's own ``GaussianDiffusion.training_losses``
(epsilon MSE, plus the variational term when ``learn_sigma`` is on), with
timesteps drawn uniformly from ``[0, max_timestep)``. DDeP (Brempong et
al., denoising pretraining for segmentation) instead trains at one fixed
noise level (``timestep``), optionally with the encoder frozen
(``freeze_encoder``): only the decoder, whose blocks give the features,
learns.
"""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch import nn

from mmseg_al.state.atomic_io import atomic_open
from mmseg_al.utils import torch_generator, track
from .guided_diffusion_api import create_model_and_diffusion
from .backbones.diffusion_backbone import DiffusionBackbone

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')


@dataclass
class PretrainResult:
    """What a pretraining run produced.

    Attributes:
        out_file (str): where the state dict was written.
        losses (List[float]): the training loss of every iteration.
        eval_loss_before (float): denoising MSE on a fixed evaluation batch
            before training.
        eval_loss_after (float): the same after training.
    """
    out_file: str
    losses: List[float] = field(default_factory=list)
    eval_loss_before: float = float('nan')
    eval_loss_after: float = float('nan')


def list_images(image_dir: str) -> List[str]:
    """All image files under ``image_dir`` (recursive, sorted).

    Raises:
        FileNotFoundError: if the folder is missing or holds no image.
    """
    if not osp.isdir(image_dir):
        raise FileNotFoundError(f'image folder {image_dir!r} does not exist')
    paths = sorted(
        osp.join(root, name) for root, _, names in os.walk(image_dir)
        for name in names if name.lower().endswith(IMAGE_SUFFIXES))
    if not paths:
        raise FileNotFoundError(
            f'no image ({", ".join(IMAGE_SUFFIXES)}) found under '
            f'{image_dir!r}')
    return paths


def load_image(path: str, size: int) -> torch.Tensor:
    """Read ``path`` as RGB in [-1, 1], shape ``[3, size, size]``.

    The shorter side is resized to ``size`` and the centre cropped, the same
    geometry the dataset converters use.
    """
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f'cannot read image {path!r}')
    h, w = bgr.shape[:2]
    if (h, w) != (size, size):
        scale = size / min(h, w)
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
        bgr = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_AREA)
        top, left = (nh - size) // 2, (nw - size) // 2
        bgr = bgr[top:top + size, left:left + size]
    rgb = np.ascontiguousarray(bgr[:, :, ::-1]).transpose(2, 0, 1)
    return torch.from_numpy(rgb).float() / 127.5 - 1.0


class DenoisingPretrainer:
    """DDPM training of a guided-diffusion UNet, reproducible from a seed.

    Args:
        unet (dict): guided-diffusion flags overriding
            ``model_and_diffusion_defaults()`` (same as the backbone's
            ``unet``).
        lr (float): AdamW learning rate.
        max_timestep (int, optional): train on timesteps ``[0, max_timestep)``
            only, e.g. to concentrate a short budget on the low-noise steps
            the features are read at. None = all diffusion steps.
        timestep (int, optional): train at this one timestep (DDeP's fixed
            noise level) instead.
        freeze_encoder (bool): train the decoder (output blocks and ``out``)
            only, the encoder (time embedding, input and middle blocks)
            keeping its initial weights: here the random ones of a UNet
            trained from scratch (DDeP freezes a pretrained encoder).
        seed (int): keys every random draw (batches, timesteps, noise, init).
    """

    def __init__(self, unet: Optional[Dict] = None, lr: float = 2e-4,
                 max_timestep: Optional[int] = None,
                 timestep: Optional[int] = None,
                 freeze_encoder: bool = False, seed: int = 0) -> None:
        self.flags = DiffusionBackbone._resolve_flags(unet or {})
        self.seed = seed
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.model, self.diffusion = create_model_and_diffusion(
                **self.flags)
        self.num_timesteps = self.diffusion.num_timesteps
        self.max_timestep = max_timestep or self.num_timesteps
        if not 0 < self.max_timestep <= self.num_timesteps:
            raise ValueError(f'max_timestep must be in [1, '
                             f'{self.num_timesteps}], got {max_timestep}')
        if timestep is not None and not 0 <= timestep < self.num_timesteps:
            raise ValueError(f'timestep must be in [0, {self.num_timesteps})'
                             f', got {timestep}')
        if timestep is not None and max_timestep is not None:
            raise ValueError('give timestep (one noise level) or max_timestep'
                             ' (a range), not both')
        self.timestep = timestep
        if freeze_encoder:
            for part in (self.model.time_embed, self.model.input_blocks,
                         self.model.middle_block):
                part.requires_grad_(False)
        self.optimizer = torch.optim.AdamW(
            [p for p in self.model.parameters() if p.requires_grad], lr=lr)

    @property
    def image_size(self) -> int:
        return int(self.flags['image_size'])

    def _noise_and_timesteps(self, x0: torch.Tensor, *keys
                             ) -> Tuple[torch.Tensor, torch.Tensor]:
        gen = torch_generator(self.seed, 'pretrain', *keys)
        t = torch.randint(0, self.max_timestep, (x0.shape[0], ), generator=gen)
        if self.timestep is not None:
            t = torch.full_like(t, self.timestep)
        noise = torch.randn(x0.shape, generator=gen)
        return noise, t

    def loss(self, x0: torch.Tensor, *keys) -> Dict[str, torch.Tensor]:
        """guided-diffusion's training losses on ``x0``, averaged.

        ``keys`` seed the timesteps and noise, so equal keys give the same
        corruption (used for a fixed evaluation batch).
        """
        noise, t = self._noise_and_timesteps(x0, *keys)
        terms = self.diffusion.training_losses(self.model, x0, t, noise=noise)
        return {name: value.mean() for name, value in terms.items()}

    @torch.no_grad()
    def eval_loss(self, images: torch.Tensor) -> float:
        """Denoising (epsilon) MSE on ``images`` with fixed timesteps/noise."""
        self.model.eval()
        return float(self.loss(images, 'eval')['mse'])

    def fit(self, image_paths: Sequence[str], iterations: int,
            batch_size: int = 16, eval_images: int = 16
            ) -> Tuple[List[float], float, float]:
        """Train for ``iterations`` steps on random batches of the images.

        Args:
            image_paths: the training images.
            iterations: optimisation steps.
            batch_size: images per step (drawn with replacement, randomly
                flipped left-right).
            eval_images: the first images, corrupted with fixed noise, on
                which the denoising MSE is reported before and after.

        Returns:
            (per-iteration losses, eval MSE before, eval MSE after).
        """
        if not image_paths:
            raise ValueError('no image to pretrain on')
        cache: Dict[int, torch.Tensor] = {}

        def batch_of(indices: torch.Tensor) -> torch.Tensor:
            for i in indices.tolist():
                if i not in cache:
                    cache[i] = load_image(image_paths[i], self.image_size)
            return torch.stack([cache[i] for i in indices.tolist()])

        eval_batch = batch_of(torch.arange(min(eval_images,
                                               len(image_paths))))
        before = self.eval_loss(eval_batch)
        losses = []
        for it in track(range(iterations), 'denoising pretraining',
                        total=iterations):
            gen = torch_generator(self.seed, 'pretrain-batch', it)
            idx = torch.randint(0, len(image_paths), (batch_size, ),
                                generator=gen)
            x0 = batch_of(idx)
            flip = torch.rand(batch_size, generator=gen) < 0.5
            x0[flip] = x0[flip].flip(-1)
            self.model.train()
            loss = self.loss(x0, 'train', it)['loss']
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            losses.append(float(loss.detach()))
        return losses, before, self.eval_loss(eval_batch)


def save_state_dict(model: nn.Module, out_file: str) -> None:
    """Write ``model.state_dict()`` as plain tensors, atomically."""
    with atomic_open(out_file, 'wb') as f:
        torch.save({k: v.detach().cpu().contiguous()
                    for k, v in model.state_dict().items()}, f)


def pretrain_denoiser(image_paths: Sequence[str], out_file: str,
                      unet: Optional[Dict] = None, iterations: int = 1000,
                      batch_size: int = 16, lr: float = 2e-4,
                      max_timestep: Optional[int] = None,
                      timestep: Optional[int] = None,
                      freeze_encoder: bool = False,
                      seed: int = 0) -> PretrainResult:
    """Pretrain a UNet on ``image_paths`` and save its state dict.

    Args:
        image_paths: training images (any size; resized and centre-cropped
            to ``unet['image_size']``).
        out_file: destination ``.pt`` (written atomically).
        unet: guided-diffusion flags, as the backbone's ``unet``.
        iterations: optimisation steps.
        batch_size: images per step.
        lr: AdamW learning rate.
        max_timestep, timestep, freeze_encoder: see
            :class:`DenoisingPretrainer`.
        seed: keys every random draw.
    """
    trainer = DenoisingPretrainer(unet, lr=lr, max_timestep=max_timestep,
                                  timestep=timestep,
                                  freeze_encoder=freeze_encoder, seed=seed)
    losses, before, after = trainer.fit(image_paths, iterations, batch_size)
    save_state_dict(trainer.model, out_file)
    return PretrainResult(out_file, losses, before, after)
