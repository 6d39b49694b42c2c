"""MaxHerding's lazy greedy compiled with numba, for float32 kernels on CPU.

The loop is the one of :meth:`~.herding.MaxHerding.portable_greedy`: a
max-heap of gain bounds ordered by ``(bound desc, index asc)``; the top is
re-evaluated until its bound is fresh, and a fresh top is the exact argmax
with the lowest-index tie-break because gains only shrink. Compiled, a gain
evaluation is one vectorised pass over a kernel row and a heap operation
costs nanoseconds, where the interpreter spends microseconds per call.

``fastmath`` lets the compiler reorder the sums to vectorise them. That
changes no bit: every term is on the kernel's ``2^-24`` grid, so every
partial sum is exact in float64 (see :mod:`.kernels`); inputs are finite
and non-negative. Only the two summing functions use it: elsewhere (the
gain division in :func:`_herd_steps`) it could change results.

Compiled code is cached on disk; where no cache directory is writable the
functions are compiled in every process instead.
"""
import math
from typing import Tuple

import numba
import numpy as np
import torch
from torch import Tensor

from mmseg_al.utils import track

#: Progress-bar updates per greedy run.
PROGRESS_STEPS = 100


def _compile(**options):
    """``numba.njit`` with an on-disk cache when one can be written."""

    def decorate(function):
        try:
            return numba.njit(cache=True, **options)(function)
        except RuntimeError:  # no writable cache location
            return numba.njit(**options)(function)

    return decorate


def supports(kernel: Tensor) -> bool:
    """Whether the compiled loop can run on ``kernel`` (numba sees CPU
    float32 arrays; half kernels and CUDA use the portable loop)."""
    return kernel.device.type == 'cpu' and kernel.dtype == torch.float32


@_compile(fastmath=True)
def _gain_sum(kernel, index, coverage, covered):
    """``n x gain`` of row ``index``: sum_x max(k(x, j), c_x) - sum_x c_x."""
    row = kernel[index]
    total = 0.0
    for x in range(row.shape[0]):
        total += max(row[x], coverage[x])
    return total - covered


@_compile(fastmath=True)
def _cover(kernel, index, coverage):
    """Raise the coverage to row ``index``; return the new sum."""
    row = kernel[index]
    covered = 0.0
    for x in range(row.shape[0]):
        coverage[x] = max(coverage[x], row[x])
        covered += coverage[x]
    return covered


@_compile()
def _sift_down(bounds, ids, position, size):
    """Restore the heap below ``position`` (larger bound first, then lower
    index)."""
    while True:
        first = position
        for child in (2 * position + 1, 2 * position + 2):
            if child < size and (bounds[child] > bounds[first] or
                                 (bounds[child] == bounds[first]
                                  and ids[child] < ids[first])):
                first = child
        if first == position:
            return
        bounds[position], bounds[first] = bounds[first], bounds[position]
        ids[position], ids[first] = ids[first], ids[position]
        position = first


@_compile()
def _start_heap(kernel, coverage, covered, bounds, ids):
    """Exact gains of every row, as a heap."""
    num_points = kernel.shape[0]
    for index in range(num_points):
        bounds[index] = _gain_sum(kernel, index, coverage, covered)
        ids[index] = index
    for position in range(num_points // 2 - 1, -1, -1):
        _sift_down(bounds, ids, position, num_points)


@_compile()
def _herd_steps(kernel, coverage, covered, bounds, ids, fresh_at, first,
                last, picks, gains):
    """Greedy steps ``first`` to ``last - 1``; the heap holds the
    ``n - first`` points not picked yet. Returns the coverage sum."""
    num_points = kernel.shape[0]
    size = num_points - first
    for step in range(first, last):
        while fresh_at[ids[0]] != step:
            # a stale top: its fresh gain is at most its bound, sift it down
            bounds[0] = _gain_sum(kernel, ids[0], coverage, covered)
            fresh_at[ids[0]] = step
            _sift_down(bounds, ids, 0, size)
        picks[step] = ids[0]
        gains[step] = bounds[0] / num_points
        covered = _cover(kernel, ids[0], coverage)
        size -= 1
        bounds[0], ids[0] = bounds[size], ids[size]
        _sift_down(bounds, ids, 0, size)
    return covered


def lazy_greedy(kernel: Tensor, coverage: Tensor,
                budget: int) -> Tuple[Tensor, Tensor]:
    """MaxHerding picks on a CPU float32 kernel (see :func:`supports`).

    Args:
        kernel: symmetric ``[n, n]`` kernel on the ``2^-24`` grid.
        coverage: ``[n]`` float32 starting coverage on the same grid
            (updated in place).
        budget: number of picks, ``0 <= budget <= n``.

    Returns:
        Indices ``[budget]`` (int64) and gains ``[budget]`` (float64).
    """
    num_points = kernel.shape[0]
    values = kernel.numpy()
    covered_values = coverage.numpy()
    covered = float(covered_values.sum(dtype=np.float64))
    bounds = np.empty(num_points, dtype=np.float64)
    ids = np.empty(num_points, dtype=np.int64)
    _start_heap(values, covered_values, covered, bounds, ids)
    fresh_at = np.zeros(num_points, dtype=np.int64)
    picks = np.empty(budget, dtype=np.int64)
    gains = np.empty(budget, dtype=np.float64)
    chunk = max(1, math.ceil(budget / PROGRESS_STEPS))
    for first in track(range(0, budget, chunk), desc='MaxHerding',
                       total=math.ceil(budget / chunk)):
        covered = _herd_steps(values, covered_values, covered, bounds, ids,
                              fresh_at, first, min(budget, first + chunk),
                              picks, gains)
    return torch.from_numpy(picks), torch.from_numpy(gains)
