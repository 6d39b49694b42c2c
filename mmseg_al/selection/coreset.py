"""Core-set: k-center greedy selection on feature matrices.

The alternative Stage 1 (Sener & Savarese, 2018): each pick is the point
farthest from its nearest centre, where the centres are the labelled
points and the picks so far, so the picks cover the pool with the
smallest radius the greedy can reach (a 2-approximation).
"""
import math
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple, Union

import torch
from torch import Tensor

from mmseg_al.registry import TASK_UTILS
from mmseg_al.utils import track
from .herding import SplitGreedy
from .kernels import SquaredEuclidean


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch CPU ops on one thread, restoring the setting after.

    Each k-center step is a few ``O(n)`` vector operations, for which
    thread start-up and joins cost more than they save (far more on a busy
    machine).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@TASK_UTILS.register_module()
class CoreSet(SplitGreedy):
    """k-center greedy, conditioned on labelled points.

    Without any centre (no labelled point, first part), the first pick is
    the 1-centre: the point whose farthest point is nearest. Ties go to the
    lowest index. Squared distances are computed once per (part of the)
    pool in reproducible float32 tiles (see :mod:`.kernels`) and stored, so
    each pick costs ``O(n)``; pools whose ``n x n`` matrix exceeds
    ``max_memory`` are split as in :class:`~.herding.SplitGreedy`.

    ``select`` returns as gains the distance of each pick to its nearest
    centre at the time it was picked (inf for a first pick without centre).

    Args:
        max_memory (int | str): bytes for the stored distance matrix, or
            'auto' (most of the available memory, at most ``memory_cap``).
        memory_cap (int | str): the most ``max_memory='auto'`` may take.
    """

    def __init__(self, max_memory: Union[int, str] = 'auto',
                 memory_cap: Union[int, str] = '64GB') -> None:
        super().__init__(max_memory, torch.float32, memory_cap)

    def pairwise_function(self, points: Tensor,
                          generator: torch.Generator) -> SquaredEuclidean:
        return SquaredEuclidean()

    def greedy(self, matrix: Tensor, budget: int,
               nearest: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """Farthest-point picks on a stored squared-distance matrix."""
        picks, gains = [], []
        if nearest is None:
            first = int(torch.argmin(matrix.amax(1)))
            picks.append(first)
            gains.append(math.inf)
            nearest = matrix[first].clone()
            nearest[first] = -1  # picked points never win again
        else:
            nearest = nearest.clone()
        with single_thread():
            for _ in track(range(len(picks), budget), desc='CoreSet',
                           total=budget - len(picks)):
                index = int(torch.argmax(nearest))
                picks.append(index)
                gains.append(math.sqrt(float(nearest[index])))
                torch.minimum(nearest, matrix[index], out=nearest)
                nearest[index] = -1
        return torch.tensor(picks), torch.tensor(gains, dtype=torch.float64)
