"""The plain dense greedy MaxHerding, written for clarity, not speed.

It recomputes every gain at every step from the dense kernel, so each pick
costs ``O(n^2)``. Kernel values come from the same
:class:`~mmseg_al.selection.kernels.GaussianKernel` as the real selector (the
thing compared is the greedy, not the floating point of the kernel).
"""
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from mmseg_al.selection.kernels import GaussianKernel

#: Rows of the kernel summed at once (bounds temporaries for large n).
ROW_CHUNK = 4096


def dense_gains(kernel: Tensor, coverage: Tensor) -> Tensor:
    """``gain(j) = mean_x max(0, k(x, j) - c_x)`` for every column ``j``,
    accumulated in float64 over chunks of rows."""
    total = torch.zeros(kernel.shape[1], dtype=torch.float64)
    for start in range(0, kernel.shape[0], ROW_CHUNK):
        rows = kernel[start:start + ROW_CHUNK].float()
        cover = coverage[start:start + ROW_CHUNK, None]
        total += (rows - cover).clamp(min=0).sum(0, dtype=torch.float64)
    return total / kernel.shape[0]


def dense_max_herding(kernel: Tensor, budget: int,
                      coverage: Optional[Tensor] = None
                      ) -> Tuple[List[int], List[float]]:
    """Greedy picks (lowest index on ties) and their gains.

    Args:
        kernel: ``[n, n]`` kernel, column ``j`` = k(., j).
        budget: number of picks.
        coverage: ``[n]`` initial coverage (zeros if None).
    """
    num_points = kernel.shape[0]
    if coverage is None:
        coverage = torch.zeros(num_points)
    coverage = coverage.float().clone()
    picked = torch.zeros(num_points, dtype=torch.bool)
    picks, gains = [], []
    for _ in range(budget):
        gain = dense_gains(kernel, coverage)
        gain[picked] = -1
        best = int(torch.argmax(gain))  # first maximum = lowest index
        picks.append(best)
        gains.append(float(gain[best]))
        picked[best] = True
        coverage = torch.maximum(coverage, kernel[:, best].float())
    return picks, gains


def reference_max_herding(points: Tensor, budget: int, sigma: float,
                          labelled: Optional[Tensor] = None
                          ) -> Tuple[List[int], List[float]]:
    """Dense greedy on ``points`` with a fixed ``sigma``, the labelled
    points (if any) setting the initial coverage."""
    kernel = GaussianKernel(sigma)
    coverage = None
    if labelled is not None and labelled.shape[0]:
        coverage = kernel.nearest(points, labelled)
    return dense_max_herding(kernel.matrix(points), budget, coverage)
