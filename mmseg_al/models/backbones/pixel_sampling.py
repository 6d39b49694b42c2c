"""Pixel features at arbitrary pixels, straight from native-resolution maps.

Upsampling every map to ``H x W`` and indexing would build the whole
``D x H x W`` tensor to read a handful of pixels. ``grid_sample`` at the pixel
centres, with ``align_corners=False`` and border padding, reads exactly the
same bilinear values (``F.interpolate(..., mode='bilinear',
align_corners=False)`` clamps its source coordinates to the border too).
"""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def sample_pixels(maps: Sequence[Tensor], image: int, ys: Tensor, xs: Tensor,
                  size: Tuple[int, int]) -> Tensor:
    """Bilinearly upsampled features of one image at pixels ``(ys, xs)``.

    Args:
        maps (Sequence[Tensor]): ``[B, C_i, h_i, w_i]`` maps of a batch.
        image (int): index of the image in the batch.
        ys, xs (Tensor): ``[n]`` integer pixel rows and columns.
        size (tuple[int, int]): ``(H, W)`` the maps are upsampled to.

    Returns:
        Tensor: ``[n, sum C_i]`` features, maps concatenated in order.
    """
    height, width = size
    grid = torch.stack([
        2 * (xs.to(torch.float64) + 0.5) / width - 1,
        2 * (ys.to(torch.float64) + 0.5) / height - 1,
    ], dim=-1)
    parts = []
    for feature_map in maps:
        one = feature_map[image:image + 1]
        sampled = F.grid_sample(
            one,
            grid.to(device=one.device, dtype=one.dtype).view(1, 1, -1, 2),
            mode='bilinear',
            padding_mode='border',
            align_corners=False)
        parts.append(sampled[0, :, 0].t())
    return torch.cat(parts, dim=1)
