"""MaxHerding: greedy generalised-coverage selection on feature matrices.

Given points ``U`` (rows of a feature matrix) and optionally labelled
points, MaxHerding picks ``budget`` points one by one, each maximising the
gain in generalised coverage ``C(S) = mean_{x in U} max_{s in S} k(x, s)``:
``gain(j) = mean_x max(0, k(x, j) - c_x)``, where ``c_x`` is the current
coverage of ``x`` (labelled points only set its initial value; they are
not candidates). Ties go to the lowest index.

Exactness: picks equal the plain dense greedy (which recomputes every gain
at every step) bit for bit, because (1) kernel values are a function of
the two points only (see :mod:`.kernels`), (2) they are multiples of 2^-24,
so every gain is an exact float64 sum whatever the order, and (3) the lazy
greedy below is exact for gains that can only decrease.

Memory: the kernel of the herded set is stored (``n^2`` values). When that
does not fit in the memory budget (by default most of the memory available
on the device, up to a cap), the pool is split and herded part by part
(:class:`SplitGreedy`).
"""
import heapq
import logging
import math
import numbers
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

import torch
from mmengine.logging import print_log
from torch import Tensor

from mmseg_al.registry import TASK_UTILS
from mmseg_al.utils import available_memory, torch_generator, track
from . import compiled_herding
from .coverage import CoverageGains
from .kernels import (GaussianKernel, PairwiseFunction, median_distance_sigma,
                      parse_memory)

#: Memory kept aside from ``max_memory`` for tiles and gain batches.
WORKSPACE_BYTES = 64 * 2**20
#: Share of the available memory that ``max_memory='auto'`` may take; the
#: rest is left to the features and the rest of the process.
AUTO_MEMORY_FRACTION = 0.75
#: Agreement with the exact greedy measured for a split pool
#: (``benchmarks/bench_herding.py``, ADE-Bed global pool, 2 parts).
SPLIT_AGREEMENT_NOTE = ('picks close to, not equal to, the unsplit greedy '
                        "ones (MaxHerding: 98.1 % agreed with 2 parts on "
                        'the ADE-Bed global pool; more parts agree less)')

_KERNEL_DTYPES = {
    'float32': torch.float32,
    'float16': torch.float16,
    'bfloat16': torch.bfloat16
}


@dataclass
class PickResult:
    """Points picked from a feature matrix.

    Attributes:
        indices (Tensor): ``[budget]`` int64 row indices, distinct, in
            selection order.
        gains (Tensor): ``[budget]`` float64, what each pick scored when it
            was made (coverage gain, or distance to the nearest centre).
    """
    indices: Tensor
    gains: Tensor

    def __len__(self) -> int:
        return int(self.indices.numel())


def check_pick_inputs(points: Tensor, budget: int,
                      labelled: Optional[Tensor]) -> None:
    """Raise for a budget that is not an int in ``[0, n]``, wrong shapes or
    non-finite features."""
    if points.dim() != 2:
        raise ValueError(
            f'points must be [n, d], got shape {tuple(points.shape)}')
    num_points = points.shape[0]
    if isinstance(budget, bool) or not isinstance(budget, numbers.Integral):
        raise TypeError(f'budget must be an int, got {budget!r}')
    if not 0 <= budget <= num_points:
        raise ValueError(f'budget must be between 0 and the number of points '
                         f'({num_points}), got {budget}')
    if not points.is_floating_point():
        raise ValueError(f'points must be floating point, got {points.dtype}')
    if not torch.isfinite(points).all():
        raise ValueError('points contain NaN or inf; check the features')
    if labelled is None:
        return
    if labelled.dim() != 2 or labelled.shape[1] != points.shape[1]:
        raise ValueError(f'labelled must be [m, {points.shape[1]}] like '
                         f'points, got shape {tuple(labelled.shape)}')
    if not torch.isfinite(labelled).all():
        raise ValueError('labelled contains NaN or inf; check the features')


def largest_remainder(total: int, sizes: List[int]) -> List[int]:
    """Split ``total`` in proportion to ``sizes`` into integers summing to
    ``total`` (largest remainder; equal remainders favour earlier parts)."""
    count = sum(sizes)
    quotas = [total * size / count for size in sizes]
    shares = [math.floor(quota) for quota in quotas]
    by_remainder = sorted(range(len(sizes)),
                          key=lambda part: (shares[part] - quotas[part], part))
    for part in by_remainder[:total - sum(shares)]:
        shares[part] += 1
    return shares


class SplitGreedy(metaclass=ABCMeta):
    """Greedy selection on a stored pairwise matrix, split to fit memory.

    If the ``n x n`` matrix (plus :data:`WORKSPACE_BYTES`) exceeds the
    memory budget, the points are split into the fewest equal parts whose
    matrices fit, by a random permutation drawn with ``generator``. Each
    part gets a share of the budget in proportion to its size (largest
    remainder) and is selected from in turn, with the labelled points and
    the picks of the earlier parts as the starting state. With one part
    this is exactly the unsplit selection. Peak memory is
    ``O((n / parts)^2)``.

    The budget is ``max_memory`` if given, else (``'auto'``)
    :data:`AUTO_MEMORY_FRACTION` of the memory available on the points'
    device (RAM on CPU, free memory on CUDA), capped by ``memory_cap``:
    a machine that can hold the exact problem solves it exactly, and a
    shared machine is not filled. The number of parts is logged (INFO
    when the pool is split) with the agreement to expect.

    Args:
        max_memory (int | str): bytes for the stored matrix, e.g. '4GB',
            or 'auto'.
        matrix_dtype (torch.dtype): storage type of the matrix.
        memory_cap (int | str): the most ``'auto'`` may take.
    """

    def __init__(self, max_memory: Union[int, str],
                 matrix_dtype: torch.dtype,
                 memory_cap: Union[int, str] = '64GB') -> None:
        self.matrix_dtype = matrix_dtype
        self.memory_cap = self._checked(
            parse_memory(memory_cap, 'memory_cap'), 'memory_cap', memory_cap)
        self.max_memory = None if max_memory == 'auto' else self._checked(
            parse_memory(max_memory), 'max_memory', max_memory)

    def _checked(self, size: int, name: str, value: Union[int, str]) -> int:
        if WORKSPACE_BYTES + self.matrix_dtype.itemsize > size:
            raise ValueError(
                f'{name}={value!r} leaves no room for the matrix: at least '
                f'{WORKSPACE_BYTES + self.matrix_dtype.itemsize} bytes are '
                'needed')
        return size

    def memory_budget(self, device: Union[str, torch.device] = 'cpu') -> int:
        """Bytes the stored matrix and its workspace may take on
        ``device``."""
        if self.max_memory is not None:
            return self.max_memory
        available = available_memory(device)
        if available is None:
            return self.memory_cap
        floor = WORKSPACE_BYTES + self.matrix_dtype.itemsize
        return max(min(int(AUTO_MEMORY_FRACTION * available),
                       self.memory_cap), floor)

    def num_parts(self, num_points: int,
                  device: Union[str, torch.device] = 'cpu') -> int:
        """Fewest parts whose ``ceil(n / parts)^2`` matrix fits."""
        return self.parts_within(num_points, self.memory_budget(device))

    def parts_within(self, num_points: int, budget: int) -> int:
        """Fewest parts whose matrices fit in ``budget`` bytes."""
        side = math.isqrt(
            (budget - WORKSPACE_BYTES) // self.matrix_dtype.itemsize)
        return max(1, math.ceil(num_points / side))

    def _log_parts(self, num_points: int, num_parts: int,
                   budget: int) -> None:
        """Say how the pool is split and what agreement to expect."""
        exact = (WORKSPACE_BYTES +
                 num_points**2 * self.matrix_dtype.itemsize) / 2**30
        message = (f'{type(self).__name__}: {num_points} points in '
                   f'{num_parts} part(s) under a {budget / 2**30:.2f} GB '
                   f'budget (exact greedy needs {exact:.2f} GB): ')
        if num_parts == 1:
            print_log(message + 'exact greedy picks', logger='current',
                      level=logging.DEBUG)
        else:
            print_log(message + SPLIT_AGREEMENT_NOTE, logger='current')

    def select(self, points: Tensor, budget: int,
               labelled: Optional[Tensor] = None,
               generator: Optional[torch.Generator] = None) -> PickResult:
        """Pick ``budget`` distinct rows of ``points``.

        Args:
            points: ``[n, d]`` features (any float dtype, CPU or CUDA).
            budget: number of picks, ``0 <= budget <= n``.
            labelled: ``[m, d]`` features already labelled (same device);
                they shape the starting state but are never picked.
            generator: CPU generator for the random choices (bandwidth
                subsample, partition); None = a fixed seed.

        Returns:
            The picks, in selection order, with their gains.
        """
        check_pick_inputs(points, budget, labelled)
        if budget == 0:
            return PickResult(torch.zeros(0, dtype=torch.long),
                              torch.zeros(0, dtype=torch.float64))
        if generator is None:
            generator = torch_generator(type(self).__name__)
        pairwise = self.pairwise_function(points, generator)
        memory = self.memory_budget(points.device)
        num_parts = self.parts_within(points.shape[0], memory)
        self._log_parts(points.shape[0], num_parts, memory)
        if num_parts == 1:
            parts = [torch.arange(points.shape[0])]
        else:
            order = torch.randperm(points.shape[0], generator=generator)
            parts = [part.sort().values
                     for part in order.tensor_split(num_parts)]
        shares = largest_remainder(budget, [part.numel() for part in parts])
        conditions = [] if labelled is None else [labelled.float()]
        indices, gains = [], []
        for number, (part, share) in enumerate(zip(parts, shares)):
            if share == 0:
                continue
            part_points = (points if num_parts == 1 else
                           points[part.to(points.device)])
            others = torch.cat(conditions) if conditions else None
            nearest = (None if others is None or others.shape[0] == 0 else
                       pairwise.nearest(part_points, others))
            matrix = pairwise.matrix(
                part_points, self.matrix_dtype,
                desc=f'{type(self).__name__}: matrix of part {number}')
            picks, part_gains = self.greedy(matrix, share, nearest)
            del matrix  # before the next part's matrix is built
            conditions.append(part_points[picks.to(points.device)].float())
            indices.append(part[picks.cpu()])
            gains.append(part_gains.cpu())
        return PickResult(torch.cat(indices), torch.cat(gains))

    @abstractmethod
    def pairwise_function(self, points: Tensor,
                          generator: torch.Generator) -> PairwiseFunction:
        """The pairwise function used for the whole of ``points``."""

    @abstractmethod
    def greedy(self, matrix: Tensor, budget: int,
               nearest: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """Greedy picks on one stored matrix.

        Args:
            matrix: symmetric ``[n, n]`` pairwise values.
            budget: number of picks, ``1 <= budget <= n``.
            nearest: ``[n]`` float32 value of each point with its nearest
                conditioning point (None if there is none).

        Returns:
            Indices ``[budget]`` (int64) and gains ``[budget]`` (float64).
        """


@TASK_UTILS.register_module()
class MaxHerding(SplitGreedy):
    """MaxHerding with exact lazy greedy and memory-bounded split-and-herd.

    The first pick (from zero coverage) is the point with the highest mean
    kernel. Gains are exact float64 means over the herded part (see the
    module docstring), so the picks equal those of the plain dense greedy.
    Cost: one kernel pass plus, per pick, a few ``O(n)`` gain evaluations
    (lazy greedy: stale gains are upper bounds because coverage only grows).

    Args:
        sigma (str | float): kernel bandwidth, or 'auto' for 2 x the median
            pairwise distance of a random subsample.
        max_memory (int | str): bytes for the stored kernel (e.g. '4GB'),
            or 'auto' (most of the available memory, at most
            ``memory_cap``); larger pools are split and herded part by
            part (see :class:`SplitGreedy`).
        kernel_dtype (str): kernel storage, 'float32', 'float16' or
            'bfloat16' (half the memory; picks may change slightly).
        sigma_subsample (float): share of the points used by 'auto'.
        eval_batch (int): most stale candidates re-evaluated together by
            :meth:`portable_greedy` (CUDA or half kernels). Within a step
            the batches grow 1, 4, 16, ... up to this: most steps need one
            or two evaluations, the first ones hundreds.
        memory_cap (int | str): the most ``max_memory='auto'`` may take.
    """

    def __init__(self,
                 sigma: Union[str, float] = 'auto',
                 max_memory: Union[int, str] = 'auto',
                 kernel_dtype: str = 'float32',
                 sigma_subsample: float = 0.01,
                 eval_batch: int = 64,
                 memory_cap: Union[int, str] = '64GB') -> None:
        if kernel_dtype not in _KERNEL_DTYPES:
            raise ValueError(f'kernel_dtype={kernel_dtype!r} is not one of '
                             f'{sorted(_KERNEL_DTYPES)}')
        super().__init__(max_memory, _KERNEL_DTYPES[kernel_dtype],
                         memory_cap)
        if sigma != 'auto' and (isinstance(sigma, str) or not sigma > 0
                                or not math.isfinite(sigma)):
            raise ValueError(
                f"sigma must be 'auto' or a positive number, got {sigma!r}")
        if not 0 < sigma_subsample <= 1:
            raise ValueError('sigma_subsample must be in (0, 1], got '
                             f'{sigma_subsample}')
        if eval_batch < 1:
            raise ValueError(f'eval_batch must be >= 1, got {eval_batch}')
        self.sigma = sigma
        self.sigma_subsample = sigma_subsample
        self.eval_batch = eval_batch

    def pairwise_function(self, points: Tensor,
                          generator: torch.Generator) -> GaussianKernel:
        if self.sigma == 'auto':
            return GaussianKernel(
                median_distance_sigma(points, self.sigma_subsample,
                                      generator=generator))
        return GaussianKernel(float(self.sigma))

    def greedy(self, matrix: Tensor, budget: int,
               nearest: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """Exact lazy greedy: compiled for CPU float32 kernels (the usual
        case), :meth:`portable_greedy` for the others."""
        coverage = torch.zeros(matrix.shape[0], dtype=torch.float32,
                               device=matrix.device)
        if nearest is not None:
            # the storage precision of the kernel applies to all coverage;
            # a copy, as both loops update it in place
            coverage = nearest.to(matrix.dtype).to(torch.float32, copy=True)
        if compiled_herding.supports(matrix):
            return compiled_herding.lazy_greedy(matrix, coverage, budget)
        return self.portable_greedy(matrix, coverage, budget)

    def portable_greedy(self, matrix: Tensor, coverage: Tensor,
                        budget: int) -> Tuple[Tensor, Tensor]:
        """Lazy greedy in torch, for any device and kernel dtype.

        A priority queue keyed ``(-bound, index)``: a popped entry whose
        bound was computed at the current step is the exact argmax with the
        lowest-index tie-break, since every other bound is at least that
        entry's true gain and gains never increase.

        Args:
            matrix: symmetric ``[n, n]`` kernel.
            coverage: ``[n]`` float32 starting coverage (updated in place).
            budget: number of picks, ``1 <= budget <= n``.
        """
        gains_of = CoverageGains(matrix, coverage, self.eval_batch)
        queue = [(-total, index)
                 for index, total in enumerate(gains_of.all_gain_sums())]
        heapq.heapify(queue)
        fresh_at = [0] * matrix.shape[0]
        picks: List[int] = []
        gains: List[float] = []
        for step in track(range(budget), desc='MaxHerding', total=budget):
            batch = 1
            while fresh_at[queue[0][1]] != step:
                # the stale entries above the first fresh one, at most a batch
                stale = []
                while (queue and len(stale) < batch
                       and fresh_at[queue[0][1]] != step):
                    stale.append(heapq.heappop(queue)[1])
                for index, total in zip(stale, gains_of.gain_sums(stale)):
                    heapq.heappush(queue, (-total, index))
                    fresh_at[index] = step
                batch = min(4 * batch, self.eval_batch)
            neg_total, index = heapq.heappop(queue)
            picks.append(index)
            gains.append(-neg_total / matrix.shape[0])
            gains_of.cover(index)
        return (torch.tensor(picks, dtype=torch.long),
                torch.tensor(gains, dtype=torch.float64))
