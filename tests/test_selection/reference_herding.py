"""The plain dense greedy MaxHerding, written for clarity, not speed.

It recomputes every gain at every step from the dense kernel, so each pick
costs ``O(n^2)``. Kernel values come from the same
:class:`~mmseg_al.selection.kernels.GaussianKernel` as the real selector (the
thing compared is the greedy, not the floating point of the kernel). It
runs on the kernel's device, so a CUDA kernel is checked on the GPU.
"""
from itertools import islice
from typing import Iterator, List, Optional, Tuple

import torch
from torch import Tensor

from mmseg_al.selection.kernels import GaussianKernel

#: Kernel entries processed at once (bounds temporaries for large n).
CHUNK_ENTRIES = 2**20


def dense_gains(kernel: Tensor, coverage: Tensor) -> Tensor:
    """``gain(j) = mean_x max(0, k(x, j) - c_x)`` for every ``j``, summed
    in float64. The kernel is symmetric, so column ``j`` is read as row
    ``j`` (contiguous), a chunk of rows at a time."""
    num_points = kernel.shape[0]
    rows_per_chunk = max(1, CHUNK_ENTRIES // num_points)
    # one output allocated up front: small per-chunk results kept alive
    # between the chunk temporaries would fragment the heap (gigabytes on
    # a large pool)
    sums = torch.empty(num_points, dtype=torch.float64, device=kernel.device)
    for start in range(0, num_points, rows_per_chunk):
        rows = kernel[start:start + rows_per_chunk].float()
        terms = (rows - coverage[None, :]).clamp(min=0)
        torch.sum(terms, 1, dtype=torch.float64,
                  out=sums[start:start + rows_per_chunk])
    return sums / num_points


def dense_herding_steps(kernel: Tensor,
                        coverage: Optional[Tensor] = None
                        ) -> Iterator[Tuple[int, float]]:
    """Greedy picks (lowest index on ties) and their gains, one per step.

    Args:
        kernel: symmetric ``[n, n]`` kernel.
        coverage: ``[n]`` initial coverage (zeros if None).
    """
    num_points = kernel.shape[0]
    if coverage is None:
        coverage = torch.zeros(num_points, device=kernel.device)
    coverage = coverage.to(kernel.device, torch.float32, copy=True)
    picked = torch.zeros(num_points, dtype=torch.bool, device=kernel.device)
    for _ in range(num_points):
        gain = dense_gains(kernel, coverage)
        gain[picked] = -1
        best = int(torch.argmax(gain))  # first maximum = lowest index
        yield best, float(gain[best])
        picked[best] = True
        coverage = torch.maximum(coverage, kernel[best].float())


def dense_max_herding(kernel: Tensor, budget: int,
                      coverage: Optional[Tensor] = None
                      ) -> Tuple[List[int], List[float]]:
    """The first ``budget`` picks of :func:`dense_herding_steps` and their
    gains."""
    steps = list(islice(dense_herding_steps(kernel, coverage), budget))
    return [pick for pick, _ in steps], [gain for _, gain in steps]


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
