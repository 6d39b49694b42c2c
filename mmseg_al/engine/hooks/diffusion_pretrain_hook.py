"""Make a missing diffusion checkpoint by denoising pretraining on the pool.

A dataset without a public diffusion checkpoint (the built-in toy scenes,
or a user's own domain) can still get meaningful features: before the
runner initialises the model weights, this hook trains the backbone's UNet
on the pool images (their pixels only, no labels) and writes the checkpoint
the backbone is configured to load. Later runs find the file and reuse it.
"""
import os.path as osp
from typing import Optional

from mmengine.dist import barrier, is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

from mmseg_al.models.backbones.diffusion_backbone import DiffusionBackbone
from mmseg_al.models.pretraining import pretrain_denoiser


@HOOKS.register_module()
class DiffusionPretrainHook(Hook):
    """Pretrain and save ``model.backbone.checkpoint`` if it is missing.

    Runs in ``before_run``, which mmengine calls before ``init_weights()``
    loads the checkpoint. The UNet flags are the backbone's own, so the file
    always fits it. In distributed runs the main process trains and the
    others wait.

    Args:
        checkpoint (str): the file to create; must equal the backbone's
            ``checkpoint`` (stating it here tells ``tools/al_train.py`` that
            the file need not exist yet).
        iterations (int): optimisation steps.
        batch_size (int): images per step.
        lr (float): AdamW learning rate.
        max_timestep (int, optional): train on timesteps ``[0, N)`` only.
        timestep (int, optional): train at this one timestep (DDeP).
        freeze_encoder (bool): train the UNet's decoder only (DDeP).
        seed (int): keys every random draw of the pretraining.
    """

    priority = 'VERY_HIGH'

    def __init__(self, checkpoint: str, iterations: int = 1000,
                 batch_size: int = 16, lr: float = 2e-4,
                 max_timestep: Optional[int] = None,
                 timestep: Optional[int] = None,
                 freeze_encoder: bool = False, seed: int = 0) -> None:
        self.checkpoint = checkpoint
        self.iterations = iterations
        self.batch_size = batch_size
        self.lr = lr
        self.max_timestep = max_timestep
        self.timestep = timestep
        self.freeze_encoder = freeze_encoder
        self.seed = seed

    def _backbone(self, runner) -> DiffusionBackbone:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        backbone = getattr(model, 'backbone', None)
        if not isinstance(backbone, DiffusionBackbone):
            raise TypeError(
                'DiffusionPretrainHook needs model.backbone to be a '
                f'DiffusionBackbone, got {type(backbone).__name__}; remove '
                'the hook from custom_hooks')
        if backbone.checkpoint is None or osp.normpath(
                backbone.checkpoint) != osp.normpath(self.checkpoint):
            raise ValueError(
                f'DiffusionPretrainHook.checkpoint={self.checkpoint!r} but '
                f'model.backbone.checkpoint={backbone.checkpoint!r}; set both '
                'to the same file')
        return backbone

    def before_run(self, runner) -> None:
        backbone = self._backbone(runner)
        if osp.isfile(self.checkpoint):
            runner.logger.info(
                f'Diffusion checkpoint {self.checkpoint} exists: reusing it')
            return
        if is_main_process():
            pool = runner.train_dataloader.dataset
            image_paths = getattr(pool, 'image_paths', None)
            if not image_paths:
                raise ValueError(
                    'DiffusionPretrainHook trains on the pool images: '
                    'train_dataloader.dataset must be a PixelSparseDataset '
                    f'with images, got {type(pool).__name__}')
            runner.logger.info(
                f'Diffusion checkpoint {self.checkpoint} is missing: '
                f'denoising pretraining for {self.iterations} iterations on '
                f'{len(image_paths)} pool images (done once, then reused)')
            result = pretrain_denoiser(
                image_paths, self.checkpoint, unet=backbone.unet_flags,
                iterations=self.iterations, batch_size=self.batch_size,
                lr=self.lr, max_timestep=self.max_timestep,
                timestep=self.timestep, freeze_encoder=self.freeze_encoder,
                seed=self.seed)
            runner.logger.info(
                f'Saved {self.checkpoint}: denoising MSE '
                f'{result.eval_loss_before:.4f} -> '
                f'{result.eval_loss_after:.4f}')
        barrier()
