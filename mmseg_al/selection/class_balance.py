"""Class-balanced re-weighting of acquisition scores (CBDA).

Low budgets amplify class imbalance: a few hundred labels drawn by
uncertainty alone pile up on the frequent classes. CBDA (Kim et al. 2023)
damps the score of a pixel whose predicted class already holds more than
its share of the revealed labels, so the rare classes get their turn.
"""
import torch
from torch import Tensor

from mmseg_al.registry import TASK_UTILS


@TASK_UTILS.register_module()
class ClassBalance:
    """Class weights from the labels revealed so far, applied to scores.

    With ``n_c`` labels of class ``c`` revealed so far, ``N = sum_c n_c``
    and ``C`` classes, the smoothed share of class ``c`` is
    ``s_c = (n_c + 1) / (N + C)`` and its ideal share is ``1 / C``. The
    weight is::

        w_c = min(1, (1 / C) / s_c) ** strength
            = min(1, (N + C) / (C (n_c + 1))) ** strength

    Classes at or under their share keep weight 1; a class over its share
    is down-weighted in proportion, never below ``C ** -strength`` (since
    ``s_c < 1``), so never to 0. Before any label is revealed all weights
    are 1.

    A pixel predicted as class ``c`` has its score ``x`` made less
    attractive by ``w_c``: larger-first scores become ``x w_c`` if
    ``x >= 0`` and ``x / w_c`` if ``x < 0``; smaller-first scores (margin)
    become ``x / w_c`` if ``x >= 0`` and ``x w_c`` if ``x < 0``.

    Args:
        strength (float): exponent of the weights; 0 disables balancing,
            larger values balance harder.
    """

    def __init__(self, strength: float = 1.0) -> None:
        if strength < 0:
            raise ValueError(
                f'class balance strength must be >= 0, got {strength}')
        self.strength = strength

    def class_weights(self, class_counts: Tensor) -> Tensor:
        """``[C]`` float64 weights ``w_c`` from ``[C]`` label counts."""
        counts = class_counts.double()
        num_classes = counts.numel()
        ratio = (counts.sum() + num_classes) / (num_classes * (counts + 1))
        return ratio.clamp_max(1).pow(self.strength)

    def reweight(self, scores: Tensor, predicted_classes: Tensor,
                 class_counts: Tensor, descending: bool = True) -> Tensor:
        """Scores damped by the weight of each pixel's predicted class.

        Args:
            scores: ``[n]`` acquisition scores.
            predicted_classes: ``[n]`` int64 argmax class of each pixel's
                clean prediction.
            class_counts: ``[C]`` counts of the labels revealed so far.
            descending: True if larger scores are picked first.

        Returns:
            ``[n]`` re-weighted scores, same dtype as ``scores``.
        """
        weights = self.class_weights(class_counts)[predicted_classes]
        values = scores.double()
        shrink = (values >= 0) == descending
        damped = torch.where(shrink, values * weights, values / weights)
        return damped.to(scores.dtype)
