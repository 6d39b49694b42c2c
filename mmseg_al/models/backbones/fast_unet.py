"""A frozen guided-diffusion UNet made fast for half-precision inference.

guided-diffusion runs half precision by autocast: every layer casts its
fp32 weights again on each call, and attention is two einsums around an
fp32 softmax. For feature extraction the UNet never trains, so here its
convolutions and linear layers are cast once, 4-D weights are stored
channels-last (the layout of tensor-core convolutions), and attention goes
through :func:`torch.nn.functional.scaled_dot_product_attention` (fused,
flash kernels on CUDA). GroupNorm keeps fp32 weights: guided-diffusion's
``GroupNorm32`` normalises in fp32 and returns the input dtype.
"""
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..guided_diffusion_api import QKVAttention, QKVAttentionLegacy

#: Layers whose weights are cast to the half-precision dtype.
CAST_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


class SDPAttention(nn.Module):
    """``QKVAttention`` / ``QKVAttentionLegacy`` through
    ``scaled_dot_product_attention``.

    Args:
        num_heads (int): attention heads.
        legacy_order (bool): qkv channels ordered head-major, then q/k/v
            (``QKVAttentionLegacy``, the released checkpoints); False for
            q/k/v-major (``QKVAttention``).
    """

    def __init__(self, num_heads: int, legacy_order: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.legacy_order = legacy_order

    def forward(self, qkv: Tensor) -> Tensor:
        """``[N, 3 * H * C, T]`` queries, keys, values -> ``[N, H * C, T]``."""
        batch, width, length = qkv.shape
        channels = width // (3 * self.num_heads)
        if self.legacy_order:
            heads = qkv.reshape(batch, self.num_heads, 3 * channels, length)
            q, k, v = heads.split(channels, dim=2)
        else:
            q, k, v = (part.reshape(batch, self.num_heads, channels, length)
                       for part in qkv.chunk(3, dim=1))
        out = F.scaled_dot_product_attention(
            q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        return out.transpose(-1, -2).reshape(batch, -1, length)


def use_sdp_attention(unet: nn.Module) -> int:
    """Replace every guided-diffusion attention of ``unet`` in place.

    Returns:
        The number of attention modules replaced.
    """
    replaced = 0
    for module in list(unet.modules()):
        attention = getattr(module, 'attention', None)
        if isinstance(attention, (QKVAttention, QKVAttentionLegacy)):
            module.attention = SDPAttention(
                attention.n_heads,
                legacy_order=isinstance(attention, QKVAttentionLegacy))
            replaced += 1
    return replaced


def prepare_for_inference(unet: nn.Module,
                          dtype: Optional[torch.dtype] = None,
                          compile: Union[bool, dict] = False) -> nn.Module:
    """Make ``unet`` fast in place: in half precision, weights cast once,
    channels-last and SDPA attention; optionally its blocks compiled.

    Args:
        unet: a guided-diffusion ``UNetModel``, frozen.
        dtype: ``torch.bfloat16`` or ``torch.float16``; None keeps fp32
            and guided-diffusion's own attention.
        compile: False; True or the kwargs of :func:`torch.compile` (e.g.
            ``dict(mode='max-autotune')``) to compile every block.

    Returns:
        ``unet``, for chaining.
    """
    if dtype is not None:
        use_sdp_attention(unet)
        for module in unet.modules():
            if isinstance(module, CAST_LAYERS):
                module.to(dtype)
        unet.to(memory_format=torch.channels_last)
    if compile:
        kwargs = compile if isinstance(compile, dict) else {}
        for block in (*unet.input_blocks, unet.middle_block,
                      *unet.output_blocks):
            block.compile(**kwargs)
    return unet
