"""Frozen guided-diffusion UNet as a multi-scale, multi-timestep feature
extractor.

An image ``x0`` in ``[-1, 1]`` is noised to ``x_t = sqrt(abar_t) x0 +
sqrt(1 - abar_t) eps`` for each configured timestep and the UNet's decoder
blocks are read out at their native resolution. The noise ``eps`` is a pure
function of ``(noise_seed, image id, draw, round)``, so the same image always
gets the same "clean" features, and stochastic draws are reproducible.
"""
import warnings
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor, nn

from mmseg_al.utils import torch_generator
from ..guided_diffusion_api import (create_model_and_diffusion,
                                    model_and_diffusion_defaults,
                                    timestep_embedding)
from .fast_unet import prepare_for_inference
from .unet_checkpoint import load_unet_checkpoint

PRECISIONS: Dict[str, Optional[torch.dtype]] = {
    'fp32': None,
    'fp16': torch.float16,
    'bf16': torch.bfloat16,
}

#: Flags that select an architecture this backbone does not read out.
UNSUPPORTED_FLAGS = {
    'class_cond': 'class-conditional UNets need a label; use an '
    'unconditional checkpoint',
    'use_fp16': 'set backbone.precision instead (it casts the weights once '
    'and uses fused attention)',
}

#: UNet flags guided-diffusion reads as comma-separated integers.
LIST_FLAGS = ('attention_resolutions', 'channel_mult')


@dataclass(frozen=True)
class FeatureLayout:
    """How a pixel's feature vector is assembled from the UNet read-outs.

    Parts are ordered t-major, then block: ``(steps[0], blocks[0]),
    (steps[0], blocks[1]), ..., (steps[-1], blocks[-1])``.

    Attributes:
        steps (tuple[int]): diffusion timesteps.
        blocks (tuple[int]): indices into ``unet.output_blocks``.
        block_channels (tuple[int]): channels of each block's output.
    """
    steps: Tuple[int, ...]
    blocks: Tuple[int, ...]
    block_channels: Tuple[int, ...]

    @property
    def parts(self) -> List[Tuple[int, int, int]]:
        """``(timestep, block, channels)`` of every part, in feature order."""
        return [(t, b, c) for t in self.steps
                for b, c in zip(self.blocks, self.block_channels)]

    @property
    def part_channels(self) -> List[int]:
        """Channels of every part, in feature order."""
        return [c for _, _, c in self.parts]

    @property
    def dim(self) -> int:
        """Feature dimension ``D = T x sum(block channels)``."""
        return len(self.steps) * sum(self.block_channels)


@MODELS.register_module()
class DiffusionBackbone(BaseModule):
    """A frozen guided-diffusion UNet returning decoder maps for
    several timesteps.

    The UNet never trains: its parameters do not require grad and it stays
    in eval mode whatever ``train()`` is called with. Only its dropout layers
    can be switched on (:meth:`set_dropout`) for MC sampling.

    Args:
        unet (dict, optional): guided-diffusion flags overriding
            ``model_and_diffusion_defaults()`` (e.g. ``num_channels=256,
            learn_sigma=True``). The diffusion schedule flags
            (``diffusion_steps``, ``noise_schedule``) go here too.
        checkpoint (str, optional): plain UNet state dict, loaded by
            :meth:`init_weights`. None keeps random weights (with a warning).
        steps (Sequence[int]): timesteps ``t`` (0-indexed) to read out.
        blocks (Sequence[int]): strictly increasing ``output_blocks``
            indices to read out.
        noise_seed (int, optional): seed of every noise this backbone
            draws; None follows the run's seed (set by ActiveLearningLoop),
            so runs with different seeds also differ in their noise.
        normalize (bool): whether pixel features are L2-normalised over all
            ``D`` channels (applied by the consumers of the maps).
        precision (str): 'fp32', 'fp16' or 'bf16'. Half precisions run the
            UNet with weights cast once, channels-last and fused attention
            (:mod:`.fast_unet`); maps are returned in fp32 either way.
        compile (bool | dict): compile the UNet blocks with
            :func:`torch.compile` (True, or its kwargs); the first call then
            takes minutes, later ones run faster on GPUs.
        init_cfg (dict, optional): unused; weights come from ``checkpoint``.
    """

    def __init__(self,
                 unet: Optional[dict] = None,
                 checkpoint: Optional[str] = None,
                 steps: Sequence[int] = (50, 150, 250),
                 blocks: Sequence[int] = (5, 8, 12, 17),
                 noise_seed: Optional[int] = 0,
                 normalize: bool = True,
                 precision: str = 'fp32',
                 compile: Union[bool, dict] = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.unet_flags = self._resolve_flags(unet or {})
        if precision not in PRECISIONS:
            raise ValueError(f'DiffusionBackbone: precision={precision!r} is '
                             f'not one of {sorted(PRECISIONS)}.')
        self.checkpoint = checkpoint
        self.noise_seed = None if noise_seed is None else int(noise_seed)
        self.normalize = bool(normalize)
        self.precision = precision
        self._dropout_enabled = False

        unet_model, diffusion = create_model_and_diffusion(**self.unet_flags)
        self.unet = unet_model
        self.steps = self._check_steps(steps, diffusion.num_timesteps)
        self.blocks = self._check_blocks(blocks, len(unet_model.output_blocks))
        self.unet.requires_grad_(False)
        prepare_for_inference(self.unet, PRECISIONS[precision], compile)
        self._signal_scales = diffusion.sqrt_alphas_cumprod
        self._noise_scales = diffusion.sqrt_one_minus_alphas_cumprod
        self.layout = FeatureLayout(
            steps=self.steps,
            blocks=self.blocks,
            block_channels=tuple(
                self.unet.output_blocks[b][0].out_channels
                for b in self.blocks))
        self.train(False)

    # ------------------------------------------------------------ config --
    @staticmethod
    def _resolve_flags(overrides: dict) -> dict:
        flags = model_and_diffusion_defaults()
        unknown = sorted(set(overrides) - set(flags))
        if unknown:
            raise KeyError(
                f'DiffusionBackbone: unknown unet flag(s) {unknown}; valid '
                f'flags are {sorted(flags)}.')
        for flag, reason in UNSUPPORTED_FLAGS.items():
            if overrides.get(flag):
                raise ValueError(
                    f'DiffusionBackbone: unet.{flag}=True is not supported: '
                    f'{reason}.')
        flags.update(overrides)
        # guided-diffusion parses these from comma-separated strings; a
        # list or tuple (what --cfg-options k=32,16,8 gives) means the same
        for flag in LIST_FLAGS:
            if isinstance(flags[flag], (list, tuple)):
                flags[flag] = ','.join(str(int(v)) for v in flags[flag])
        return flags

    @staticmethod
    def _check_steps(steps: Sequence[int], num_timesteps: int
                     ) -> Tuple[int, ...]:
        steps = tuple(int(t) for t in steps)
        if not steps or len(set(steps)) != len(steps) or not all(
                0 <= t < num_timesteps for t in steps):
            raise ValueError(
                f'DiffusionBackbone: steps={steps} must be distinct '
                f'timesteps in [0, {num_timesteps}).')
        return steps

    @staticmethod
    def _check_blocks(blocks: Sequence[int], num_blocks: int
                      ) -> Tuple[int, ...]:
        blocks = tuple(int(b) for b in blocks)
        increasing = all(a < b for a, b in zip(blocks, blocks[1:]))
        if not blocks or not increasing or not 0 <= blocks[0] or \
                blocks[-1] >= num_blocks:
            raise ValueError(
                f'DiffusionBackbone: blocks={blocks} must be strictly '
                f'increasing output_blocks indices in [0, {num_blocks}).')
        return blocks

    @property
    def feature_dim(self) -> int:
        """Feature dimension ``D`` (6144 for the released 256x256 UNets)."""
        return self.layout.dim

    @property
    def input_multiple(self) -> int:
        """Input height and width must be multiples of this."""
        return 2**(len(self.unet.channel_mult) - 1)

    # ------------------------------------------------------------ state --
    def init_weights(self) -> None:
        """Load ``checkpoint`` (mmengine calls this after before_run hooks)."""
        if self.checkpoint is None:
            warnings.warn(
                'DiffusionBackbone: checkpoint=None, the UNet keeps RANDOM '
                'weights. Features will be close to meaningless; set '
                'backbone.checkpoint to a guided-diffusion .pt file for '
                'real runs.',
                stacklevel=2)
        else:
            load_unet_checkpoint(self.unet, self.checkpoint)
        self._is_init = True

    def train(self, mode: bool = True) -> 'DiffusionBackbone':
        """Stay in eval mode; only dropout follows :meth:`set_dropout`."""
        super().train(False)
        for module in self.unet.modules():
            if isinstance(module, nn.Dropout):
                module.train(self._dropout_enabled)
        return self

    def set_dropout(self, enabled: bool) -> None:
        """Switch the UNet's dropout on (MC sampling) or off (default).

        Dropout masks then come from torch's global random state.
        """
        self._dropout_enabled = bool(enabled)
        self.train(False)

    # ------------------------------------------------------------ noise --
    def noise_coefficients(self, timestep: int) -> Tuple[float, float]:
        """``(sqrt(abar_t), sqrt(1 - abar_t))`` of the diffusion's own
        schedule."""
        return (float(self._signal_scales[timestep]),
                float(self._noise_scales[timestep]))

    def noise_generator(self, image_id: str, draw: Optional[int] = None,
                        round_idx: int = 0) -> torch.Generator:
        """The generator of an image's clean noise (``draw=None``) or of
        stochastic draw ``draw`` of round ``round_idx``."""
        if self.noise_seed is None:
            raise RuntimeError(
                'DiffusionBackbone: noise_seed=None follows the run\'s seed, '
                'which ActiveLearningLoop sets when the run starts; outside '
                'a run set model.backbone.noise_seed to an integer.')
        if draw is None:
            return torch_generator(self.noise_seed, 'clean', image_id)
        return torch_generator(self.noise_seed, 'draw', int(round_idx),
                               image_id, int(draw))

    def noise(self, image_ids: Sequence[str], size: Tuple[int, int],
              draw: Optional[int] = None, round_idx: int = 0) -> Tensor:
        """``[B, 3, H, W]`` noises, one generator per image (on CPU, so the
        noise does not depend on the device)."""
        return torch.stack([
            torch.randn((3, *size),
                        generator=self.noise_generator(i, draw, round_idx))
            for i in image_ids
        ])

    @property
    def dtype(self) -> torch.dtype:
        """The dtype the UNet runs in."""
        return PRECISIONS[self.precision] or torch.float32

    def _check_device(self, device: torch.device) -> None:
        if device.type == 'cuda' and self.dtype is torch.bfloat16 and \
                not torch.cuda.is_bf16_supported():
            raise RuntimeError(
                'DiffusionBackbone: precision=bf16 but this GPU does not '
                "support bfloat16; use precision='fp16' or 'fp32'.")

    # ---------------------------------------------------------- forward --
    def _read_out(self, x_t: Tensor, timestep: int) -> List[Tensor]:
        """UNet on ``x_t`` up to the last wanted output block (no ``out``)."""
        unet = self.unet
        timesteps = torch.full((x_t.shape[0], ), timestep,
                               dtype=torch.long, device=x_t.device)
        emb = unet.time_embed(
            timestep_embedding(timesteps, unet.model_channels).to(self.dtype))
        skips, maps = [], []
        h = x_t
        for module in unet.input_blocks:
            h = module(h, emb)
            skips.append(h)
        h = unet.middle_block(h, emb)
        for index, module in enumerate(
                unet.output_blocks[:self.blocks[-1] + 1]):
            h = module(torch.cat([h, skips.pop()], dim=1), emb)
            if index in self.blocks:
                maps.append(h.float())
        return maps

    @torch.no_grad()
    def forward(self, inputs: Tensor, image_ids: Sequence[str],
                draw: Optional[int] = None,
                round_idx: int = 0) -> List[Tensor]:
        """Decoder maps of every (timestep, block), t-major.

        Args:
            inputs (Tensor): ``[B, 3, H, W]`` RGB in ``[-1, 1]``; ``H`` and
                ``W`` multiples of :attr:`input_multiple`.
            image_ids (Sequence[str]): one stable id per image (keys the
                noise).
            draw (int, optional): None for the clean noise, else the index
                of the stochastic draw.
            round_idx (int): active-learning round of a stochastic draw.

        Returns:
            list[Tensor]: ``len(steps) * len(blocks)`` float32 maps
            ``[B, C_b, H_b, W_b]`` at native resolution (see
            :attr:`layout`).
        """
        if inputs.dim() != 4 or inputs.shape[1] != 3:
            raise ValueError('DiffusionBackbone expects [B, 3, H, W] inputs, '
                             f'got {tuple(inputs.shape)}.')
        if len(image_ids) != inputs.shape[0]:
            raise ValueError(
                f'DiffusionBackbone: {len(image_ids)} image ids for a batch '
                f'of {inputs.shape[0]} images.')
        size = tuple(inputs.shape[-2:])
        if any(s % self.input_multiple for s in size):
            raise ValueError(
                f'DiffusionBackbone: input size {size} must be a multiple of '
                f'{self.input_multiple}; pad it (SegDataPreProcessor '
                f'size_divisor={self.input_multiple}) or resize.')
        x0 = inputs.float()
        self._check_device(x0.device)
        eps = self.noise(image_ids, size, draw, round_idx).to(x0.device)
        memory_format = (torch.contiguous_format if self.precision == 'fp32'
                         else torch.channels_last)
        maps: List[Tensor] = []
        for t in self.steps:
            signal_scale, noise_scale = self.noise_coefficients(t)
            x_t = signal_scale * x0 + noise_scale * eps
            maps.extend(self._read_out(
                x_t.to(self.dtype, memory_format=memory_format), t))
        return maps
