"""Class-balanced re-weighting of acquisition scores.

Low budgets amplify class imbalance: a few hundred labels drawn by
uncertainty alone pile up on the frequent classes. Class balancing damps
the score of a pixel whose predicted class already holds more than its
share of the labels, so the rare classes get their turn. Two rules:

* ``'cbda'``: CBDA (Schachtsiek et al. 2023, arXiv 2311.14146). Each class
  has an *ideal budget*, a uniform share ``B / C`` of the ``B`` labels there
  will be after this round; its weight falls linearly as it fills that
  share and is floored at ``epsilon``, the knob of how hard it balances.
* ``'smooth'``: a gentler rule from the shares of the labels so far,
  ``1`` up to the uniform share, in inverse proportion above it.
"""
import torch
from torch import Tensor

from mmseg_al.registry import TASK_UTILS

CLASS_BALANCE_MODES = ('smooth', 'cbda')


@TASK_UTILS.register_module()
class ClassBalance:
    """Class weights from the labels revealed so far, applied to scores.

    With ``n_c`` labels of class ``c`` revealed so far, ``N = sum_c n_c``
    and ``C`` classes:

    * ``mode='cbda'``, with ``B = N + budget`` the labels after this round::

          w_c = max(1 - n_c / (B / C), epsilon)

      A class that has filled its ideal budget ``B / C`` gets ``epsilon``,
      so its pixels rank after those of any class still well under its
      share at equal score, yet never drop out (``epsilon > 0``).
    * ``mode='smooth'`` (smoothed share ``s_c = (n_c + 1) / (N + C)``)::

          w_c = min(1, (1 / C) / s_c) ** strength
              = min(1, (N + C) / (C (n_c + 1))) ** strength

      Classes at or under their share keep weight 1; a class over its
      share is down-weighted in proportion, never below ``C ** -strength``.
      Before any label is revealed all weights are 1.

    A pixel predicted as class ``c`` has its score ``x`` made less
    attractive by ``w_c``: larger-first scores become ``x w_c`` if
    ``x >= 0`` and ``x / w_c`` if ``x < 0``; smaller-first scores (margin)
    become ``x / w_c`` if ``x >= 0`` and ``x w_c`` if ``x < 0``.

    Args:
        mode (str): ``'smooth'`` or ``'cbda'``.
        strength (float): exponent of the ``'smooth'`` weights; 0 disables
            balancing, larger values balance harder.
        epsilon (float): floor of the ``'cbda'`` weights, in ``(0, 1]``;
            smaller values balance harder (1 disables balancing).
    """

    def __init__(self, mode: str = 'smooth', strength: float = 1.0,
                 epsilon: float = 0.1) -> None:
        if mode not in CLASS_BALANCE_MODES:
            raise ValueError(f'class balance mode must be one of '
                             f'{CLASS_BALANCE_MODES}, got {mode!r}')
        if strength < 0:
            raise ValueError(
                f'class balance strength must be >= 0, got {strength}')
        if not 0 < epsilon <= 1:
            raise ValueError(
                f'class balance epsilon must be in (0, 1], got {epsilon}')
        self.mode = mode
        self.strength = strength
        self.epsilon = epsilon

    def class_weights(self, class_counts: Tensor, budget: int = 0) -> Tensor:
        """``[C]`` float64 weights ``w_c``.

        Args:
            class_counts: ``[C]`` counts of the labels revealed so far.
            budget: labels this round will add (``'cbda'`` only).
        """
        counts = class_counts.double()
        num_classes = counts.numel()
        if self.mode == 'cbda':
            ideal = (counts.sum() + budget) / num_classes
            if ideal == 0:
                return torch.ones_like(counts)
            return (1 - counts / ideal).clamp_min(self.epsilon)
        ratio = (counts.sum() + num_classes) / (num_classes * (counts + 1))
        return ratio.clamp_max(1).pow(self.strength)

    def reweight(self, scores: Tensor, predicted_classes: Tensor,
                 class_counts: Tensor, descending: bool = True,
                 budget: int = 0) -> Tensor:
        """Scores damped by the weight of each pixel's predicted class.

        Args:
            scores: ``[n]`` acquisition scores.
            predicted_classes: ``[n]`` int64 argmax class of each pixel's
                clean prediction.
            class_counts: ``[C]`` counts of the labels revealed so far.
            descending: True if larger scores are picked first.
            budget: labels this round will add (``'cbda'`` only).

        Returns:
            ``[n]`` re-weighted scores, same dtype as ``scores``.
        """
        weights = self.class_weights(class_counts, budget)[predicted_classes]
        values = scores.double()
        shrink = (values >= 0) == descending
        damped = torch.where(shrink, values * weights, values / weights)
        return damped.to(scores.dtype)
