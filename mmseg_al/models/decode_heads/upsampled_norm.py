"""Per-pixel squared norm of a bilinearly upsampled map, without upsampling
its channels.

An upsampled pixel is a weighted sum of (at most) four native pixels,
``u = sum_k w_k f_k``, so ``||u||^2 = sum_{k,l} w_k w_l <f_k, f_l>``. The
inner products of neighbouring native pixels (4 self norms, 2 horizontal,
2 vertical, 2 diagonal pairs) are computed once at native resolution; each
output pixel then combines ten scalars. Cost ``O(C h w + H W)`` instead of
``O(C H W)`` for upsampling all ``C`` channels, with the same result as
``F.interpolate(mode='bilinear', align_corners=False)`` up to rounding.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def bilinear_taps(in_size: int, out_size: int,
                  device: torch.device) -> Tuple[Tensor, Tensor, Tensor]:
    """Source index and weights of 1-D bilinear resampling.

    Matches ``F.interpolate(align_corners=False)``: output ``i`` reads
    ``(1 - lam) * x[first] + lam * x[first + 1]`` where the index past the
    end repeats the last element (edge replication).

    Returns:
        tuple: ``first`` ``[out]`` int64, ``1 - lam`` and ``lam`` ``[out]``.
    """
    scale = in_size / out_size
    source = ((torch.arange(out_size, dtype=torch.float64, device=device) +
               0.5) * scale - 0.5).clamp_min(0)
    first = source.floor().long().clamp_max(in_size - 1)
    lam = (source - first).float()
    return first, 1 - lam, lam


def upsampled_square_norm(feature_map: Tensor, size: Tuple[int, int]
                          ) -> Tensor:
    """``[B, 1, H, W]``: ``||up(f)(y, x)||^2`` over channels, where ``up``
    is bilinear upsampling (``align_corners=False``) to ``size``.

    Args:
        feature_map (Tensor): ``[B, C, h, w]``.
        size (tuple[int, int]): ``(H, W)``.
    """
    if tuple(feature_map.shape[-2:]) == tuple(size):
        return feature_map.square().sum(dim=1, keepdim=True)
    height, width = feature_map.shape[-2:]
    rows, up0, up1 = bilinear_taps(height, size[0], feature_map.device)
    cols, left0, left1 = bilinear_taps(width, size[1], feature_map.device)
    # Replicating the last row/column makes "first + 1" valid everywhere.
    padded = F.pad(feature_map, (0, 1, 0, 1), mode='replicate')

    def dot(a: Tensor, b: Tensor) -> Tensor:
        return (a * b).sum(dim=1)

    norms = padded.square().sum(dim=1)  # [B, h+1, w+1]
    horizontal = dot(padded[..., :-1], padded[..., 1:])  # [B, h+1, w]
    vertical = dot(padded[..., :-1, :], padded[..., 1:, :])  # [B, h, w+1]
    diagonals = (dot(padded[..., :-1, :-1], padded[..., 1:, 1:]) +
                 dot(padded[..., :-1, 1:], padded[..., 1:, :-1]))

    def at(gram: Tensor, down: int, right: int) -> Tensor:
        return gram[:, rows + down][:, :, cols + right]  # [B, H, W]

    a0, a1 = up0[:, None], up1[:, None]
    b0, b1 = left0[None], left1[None]
    total = ((a0 * b0).square() * at(norms, 0, 0) +
             (a0 * b1).square() * at(norms, 0, 1) +
             (a1 * b0).square() * at(norms, 1, 0) +
             (a1 * b1).square() * at(norms, 1, 1) +
             2 * b0 * b1 * (a0.square() * at(horizontal, 0, 0) +
                            a1.square() * at(horizontal, 1, 0)) +
             2 * a0 * a1 * (b0.square() * at(vertical, 0, 0) +
                            b1.square() * at(vertical, 0, 1)) +
             2 * a0 * a1 * b0 * b1 * at(diagonals, 0, 0))
    return total.unsqueeze(1)
