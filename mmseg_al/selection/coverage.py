"""Exact coverage gains of kernel rows against a coverage that only grows.

MaxHerding's gain of a candidate ``j`` is ``mean_x max(0, k(x, j) - c_x)``.
With kernel values on a ``2^-24`` grid (see :mod:`.kernels`), the sums
``sum_x max(k(x, j), c_x) - sum_x c_x`` computed here are exact in float64
whatever the order, so gains computed at different times, in batches of
different sizes, on different threads compare exactly.

A lazy greedy asks for one or two rows at most steps and for hundreds at
its first ones. Few rows go through numpy, whose per-call overhead is a
fraction of torch's; many rows through torch, which is faster per row
(vectorised, multi-threaded). Both work on the same memory. Tensors numpy
cannot view (CUDA, bfloat16) use torch for all.
"""
from typing import List

import numpy as np
import torch
from torch import Tensor

#: Batches of up to this many rows go through numpy (CPU only).
NUMPY_ROWS = 16


class CoverageGains:
    """Coverage of the points by the picks so far, and gain sums against it.

    Args:
        kernel (Tensor): symmetric ``[n, n]`` kernel (any float dtype); row
            ``j`` holds ``k(x, j)`` for every ``x``.
        coverage (Tensor): ``[n]`` float32 starting coverage, updated in
            place by :meth:`cover`.
        max_rows (int): most rows asked for at once (sets buffer sizes).
    """

    def __init__(self, kernel: Tensor, coverage: Tensor,
                 max_rows: int) -> None:
        num_points = kernel.shape[0]
        self.kernel = kernel
        self.coverage = coverage
        self.max_rows = max_rows
        # preallocated so that no step pays page faults for fresh memory
        self._rows = kernel.new_empty((max_rows, num_points))
        self._values = coverage.new_empty(self._rows.shape)
        self._numpy = kernel.device.type == 'cpu' and kernel.dtype in (
            torch.float32, torch.float16)
        if self._numpy:
            self._np_kernel = kernel.numpy()
            self._np_coverage = coverage.numpy()
            self._np_rows = self._rows.numpy()
            self._np_values = self._values.numpy()
        self.covered = self._coverage_sum()

    def gain_sums(self, indices: List[int]) -> List[float]:
        """``n x gain`` of rows ``indices`` (at most ``max_rows``), exact."""
        count = len(indices)
        if self._numpy and count <= NUMPY_ROWS:
            rows, values = self._np_rows[:count], self._np_values[:count]
            np.take(self._np_kernel, indices, axis=0, out=rows)
            np.maximum(rows, self._np_coverage, out=values)
            return self._minus_covered(values.sum(1, dtype=np.float64))
        index = torch.tensor(indices, device=self.kernel.device)
        rows = torch.index_select(self.kernel, 0, index,
                                  out=self._rows[:count])
        return self._torch_gain_sums(rows)

    def all_gain_sums(self) -> List[float]:
        """``n x gain`` of every row, exact (one pass over the kernel)."""
        num_points, step = self.kernel.shape[0], self.max_rows
        return [
            total for start in range(0, num_points, step) for total in
            self._torch_gain_sums(self.kernel[start:start + step])
        ]

    def cover(self, index: int) -> None:
        """Raise the coverage to row ``index`` (a new pick)."""
        if self._numpy:
            np.maximum(self._np_coverage, self._np_kernel[index],
                       out=self._np_coverage)
        else:
            torch.maximum(self.coverage, self.kernel[index],
                          out=self.coverage)
        self.covered = self._coverage_sum()

    def _coverage_sum(self) -> float:
        if self._numpy:
            return float(self._np_coverage.sum(dtype=np.float64))
        return float(self.coverage.sum(dtype=torch.float64))

    def _torch_gain_sums(self, rows: Tensor) -> List[float]:
        values = torch.maximum(rows, self.coverage,
                               out=self._values[:rows.shape[0]])
        return self._minus_covered(values.sum(1, dtype=torch.float64))

    def _minus_covered(self, sums) -> List[float]:
        return [total - self.covered for total in sums.tolist()]
