"""Exact coverage gains of kernel rows against a coverage that only grows.

MaxHerding's gain of a candidate ``j`` is ``mean_x max(0, k(x, j) - c_x)``.
With kernel values on a ``2^-24`` grid (see :mod:`.kernels`), the sums
``sum_x max(k(x, j), c_x) - sum_x c_x`` computed here are exact in float64
whatever the order, so gains computed at different times, in batches of
different sizes, on different threads compare exactly. Used by the
portable (torch) greedy loop, on any device and kernel dtype.
"""
from typing import List

import torch
from torch import Tensor


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
        #: rows per block of :meth:`all_gain_sums` (about 4M values)
        self.pass_rows = max(max_rows, 2**22 // max(1, num_points))
        # reused by every call: fresh temporaries would page-fault
        self._rows = kernel.new_empty((max_rows, num_points))
        self._values = coverage.new_empty((self.pass_rows, num_points))
        self.covered = self._coverage_sum()

    def gain_sums(self, indices: List[int]) -> List[float]:
        """``n x gain`` of rows ``indices`` (at most ``max_rows``), exact."""
        if len(indices) > self.max_rows:
            raise ValueError(f'{len(indices)} rows asked for at once, more '
                             f'than max_rows={self.max_rows}')
        index = torch.tensor(indices, dtype=torch.long,
                             device=self.kernel.device)
        return self._gain_sums(
            torch.index_select(self.kernel, 0, index,
                               out=self._rows[:len(indices)]))

    def all_gain_sums(self) -> List[float]:
        """``n x gain`` of every row, exact (one pass over the kernel)."""
        num_points, step = self.kernel.shape[0], self.pass_rows
        return [
            total for start in range(0, num_points, step)
            for total in self._gain_sums(self.kernel[start:start + step])
        ]

    def cover(self, index: int) -> None:
        """Raise the coverage to row ``index`` (a new pick)."""
        torch.maximum(self.coverage, self.kernel[index], out=self.coverage)
        self.covered = self._coverage_sum()

    def _coverage_sum(self) -> float:
        return float(self.coverage.sum(dtype=torch.float64))

    def _gain_sums(self, rows: Tensor) -> List[float]:
        values = torch.maximum(rows, self.coverage,
                               out=self._values[:rows.shape[0]])
        sums = values.sum(1, dtype=torch.float64).tolist()
        return [total - self.covered for total in sums]
