"""Stage 2: score candidate pixels with the current model, keep the top b.

The pool is scored one block of images at a time and only the best ``b``
pixels seen so far are kept, so memory stays bounded even when every
unlabelled pixel of the dataset is a candidate (single-stage selection).
With several processes, each keeps the best ``b`` of the images it owns;
the main process merges them (a pixel of the overall top ``b`` is in the
top ``b`` of its own process) and shares the result.
"""
import warnings
from typing import Dict, Iterable, List, Optional, Tuple, Union

import torch
from torch import Tensor

from mmseg_al.registry import TASK_UTILS
from mmseg_al.utils import track
from .class_balance import ClassBalance
from .context import Selection, SelectionContext
from .pixel_requests import ImagePixels, empty_selection, image_pixel_order
from .scores import (balanced_entropy, check_power_args, ensemble_e,
                     entropy, entropy_augmented_mi, least_confidence,
                     margin, mean_log_probs, mutual_information, power_keys,
                     released_edald, vote_entropy)

#: Scores of the clean prediction.
CLEAN_SCORES = dict(
    entropy=entropy, margin=margin, least_confidence=least_confidence)
#: Scores of stochastic predictions, and whether they are MC-dropout passes
#: (True) or diffusion noise draws (False).
STOCHASTIC_SCORES = dict(
    bald=True, ebald=True, dald=False, edald=False, balentacq=False,
    edald_released=False)
#: Scores of the members of an ensemble head (committee scores).
COMMITTEE_SCORES = dict(
    vote_entropy=vote_entropy, ensemble_mi=mutual_information,
    ensemble_e=ensemble_e)
SCORE_NAMES = ('random', *CLEAN_SCORES, *STOCHASTIC_SCORES,
               *COMMITTEE_SCORES)


class _TopB:
    """The ``budget`` best pixels seen so far, best first.

    A stable sort of ``[kept, new]`` keeps, among equal keys, the earlier
    pixel first; fed in ascending (image, pixel) order, ties therefore go
    to the lowest (image, pixel).
    """

    def __init__(self, budget: int, descending: bool) -> None:
        self.budget = budget
        self.descending = descending
        self.kept: Optional[Tuple[Tensor, ...]] = None

    def update(self, keys: Tensor, scores: Tensor, image_index: Tensor,
               pixels: Tensor, log_probs: Tensor) -> None:
        new = (keys, scores, image_index, pixels, log_probs)
        if self.kept is not None:
            new = tuple(torch.cat(pair) for pair in zip(self.kept, new))
        order = torch.sort(
            new[0], descending=self.descending, stable=True).indices
        order = order[:self.budget]
        self.kept = tuple(values[order] for values in new)

    def by_image(self) -> Dict[int, Tuple[Tensor, ...]]:
        """The kept ``(keys, scores, image_index, pixels, log_probs)`` of
        each image, in ascending pixel order."""
        if self.kept is None:
            return {}
        _, _, image_index, pixels, _ = self.kept
        order = image_pixel_order(image_index, pixels)
        images, counts = torch.unique_consecutive(image_index[order],
                                                  return_counts=True)
        return {
            int(image): tuple(values[rows] for values in self.kept)
            for image, rows in zip(images, order.split(counts.tolist()))
        }

    def selection(self) -> Selection:
        if self.kept is None:
            return empty_selection()
        _, scores, image_index, pixels, log_probs = self.kept
        known = None if log_probs.isnan().any() else log_probs.float()
        return Selection(image_index, pixels, scores.float(), known)


@TASK_UTILS.register_module()
class ScoreRanking:
    """Rank pool pixels by an acquisition score and keep the top ``b``.

    Scores (see :mod:`mmseg_al.selection.scores`): ``'random'`` (needs no
    model), ``'entropy'``, ``'margin'`` (smaller first),
    ``'least_confidence'`` on the clean prediction; ``'bald'`` (MI over
    MC-dropout passes ``1..M``), ``'dald'`` (MI over noise draws ``1..M``),
    ``'ebald'`` / ``'edald'`` (the same plus the entropy of the independent
    pass / draw ``0``), ``'balentacq'`` (over noise draws ``1..M``),
    ``'edald_released'`` (what the authors' released code computes for
    eDALD: :func:`~mmseg_al.selection.scores.released_edald` over the
    clean prediction and draws ``2..M``, not the paper's formula);
    committee scores over the members of an ensemble head (clean
    features): ``'vote_entropy'``, ``'ensemble_mi'`` (LEDM's uncertainty),
    ``'ensemble_e'`` (ensemble MI + entropy of the mean prediction).

    Optionally the score is class-balanced (:class:`ClassBalance`, by the
    clean predicted class), then, with ``power=True``, the top ``b`` is
    sampled with probability proportional to ``score ** beta`` (PowerBALD,
    PowerDALD, ...); margin then enters as its uncertainty ``1 - margin``.
    Random numbers are keyed by ``('random' | 'power', image_id)``.
    Ties go to the lowest (image, pixel).

    Args:
        score (str): one of :data:`SCORE_NAMES`.
        num_draws (int): ``M``, stochastic passes of BALD/DALD-type scores
            (at least 2).
        power (bool): stochastic top-b instead of deterministic top-b.
        beta (float): power of the sampling probabilities.
        noise (str): ``'gumbel'`` (exact power sampling) or ``'pareto'``.
        class_balance (bool | dict): False, True, or the kwargs of
            :class:`ClassBalance` (e.g. ``dict(mode='cbda',
            epsilon=0.1)``); True is the ``'smooth'`` rule.
    """

    def __init__(self,
                 score: str = 'edald',
                 num_draws: int = 5,
                 power: bool = False,
                 beta: float = 1.0,
                 noise: str = 'gumbel',
                 class_balance: Union[bool, dict] = False) -> None:
        if score not in SCORE_NAMES:
            raise ValueError(f'unknown score {score!r}; choose one of '
                             f'{", ".join(SCORE_NAMES)}')
        if score in STOCHASTIC_SCORES and num_draws < 2:
            raise ValueError(f"score '{score}' needs num_draws >= 2 to "
                             f'measure disagreement, got {num_draws}')
        if power:
            check_power_args(beta, noise)
            if score == 'balentacq':
                raise ValueError("power sampling needs non-negative scores "
                                 "and 'balentacq' can be negative; use "
                                 'power=False')
        self.score = score
        self.num_draws = num_draws
        self.power = power
        self.beta = beta
        self.noise = noise
        if isinstance(class_balance, dict):
            self.class_balance: Optional[ClassBalance] = ClassBalance(
                **class_balance)
        else:
            self.class_balance = ClassBalance() if class_balance else None

    @property
    def needs_model(self) -> bool:
        """Whether predictions are used (by any score but random, and by
        class balance)."""
        return self.score != 'random' or self.class_balance is not None

    @property
    def descending(self) -> bool:
        """Whether larger keys are picked first."""
        return self.power or self.score != 'margin'

    def check_context(self, context: SelectionContext) -> None:
        """Fail early, before any costly stage, if there is no model."""
        if self.needs_model and not context.has_model:
            balanced = ' with class balance' * (self.class_balance is not None)
            raise RuntimeError(
                f"score '{self.score}'{balanced} needs a trained model, but "
                f'round {context.round_idx} has none; select the first '
                'labels with a cold-start selector (HerdingSelector, or '
                "ScoreRanking with score='random')")

    def rank(self,
             context: SelectionContext,
             pool: Iterable[ImagePixels],
             budget: int) -> Selection:
        """The ``budget`` best pixels of ``pool``, best first.

        Args:
            context: the selection context.
            pool: ``(image, sorted pixels)`` pairs in ascending image order
                (may be lazy); this process scores the images it owns.
            budget: number of pixels wanted; a smaller pool is returned
                whole, with a warning.

        Returns:
            The picks; ``scores`` are the (class-balanced) scores, before
            any power-sampling noise.
        """
        self.check_context(context)
        class_counts = context.class_counts()
        best = _TopB(budget, self.descending)
        requests = track(context.requests(pool),
                         desc=f'Stage 2: {self.score} scores')
        for request in requests:
            images = list(request)
            counts = [request[image].numel() for image in images]
            image_index = torch.repeat_interleave(
                torch.tensor(images), torch.tensor(counts))
            scores, clean, predicted = self._score(context, request,
                                                   image_index)
            if self.class_balance is not None:
                scores = self.class_balance.reweight(
                    scores, clean.argmax(-1), class_counts,
                    self.descending, budget)
            keys = self._power_keys(context, scores, images, counts)
            if predicted is None:
                predicted = scores.new_full(
                    (len(scores), context.num_classes), float('nan'))
            best.update(keys, scores, image_index,
                        torch.cat([request[image] for image in images]),
                        predicted)
        kept = context.collect(best.by_image())
        selection = None
        if kept is not None:
            merged = _TopB(budget, self.descending)
            if kept:  # in (image, pixel) order: ties as in one process
                merged.update(*(torch.cat(values)
                                for values in zip(*kept.values())))
            selection = merged.selection()
            if len(selection) < budget:
                warnings.warn(
                    f'Stage 2 was asked for {budget} pixels but the pool '
                    f'holds only {len(selection)}; taking all.')
        return context.share(selection)

    def _score(self, context: SelectionContext, request: Dict[int, Tensor],
               image_index: Tensor
               ) -> Tuple[Tensor, Optional[Tensor], Optional[Tensor]]:
        """``[n]`` scores of a request (larger = more uncertain, except
        margin without power), the clean log-probabilities if the score or
        class balance used them, and the prediction the score computed
        (see ``Selection.log_probs``; None for none).

        Args:
            context: the selection context.
            request: ``{image: pixels}``.
            image_index: ``[n]`` image of each requested pixel.
        """
        clean = predicted = None
        if self.score in CLEAN_SCORES or self.class_balance is not None:
            clean = predicted = _log_probs(context, request)
        if self.score == 'random':
            scores = torch.cat([
                torch.rand(pixels.numel(), generator=context.generator(
                    'random', context.image_ids[image]))
                for image, pixels in request.items()
            ])
        elif self.score in CLEAN_SCORES:
            scores = CLEAN_SCORES[self.score](clean)
            if self.score == 'margin' and self.power:
                scores = 1 - scores
        elif self.score in COMMITTEE_SCORES:
            members = context.member_log_probs(request)
            members = torch.cat([members[image] for image in request],
                                1).cpu()
            scores = COMMITTEE_SCORES[self.score](members)
            # the ensemble's own prediction (its vote, say), not the mean
            predicted = _log_probs(context, request)
        else:
            scores, predicted = self._stochastic_score(context, request)
        bad = ~torch.isfinite(scores)
        if bad.any():
            first = image_index[bad][0]
            raise FloatingPointError(
                f"score '{self.score}' gave {int(bad.sum())} NaN/inf values "
                f"(first on image '{context.image_ids[first]}'); check the "
                "model's log-probabilities for NaN")
        return scores, clean, predicted

    def _stochastic_score(self, context: SelectionContext,
                          request: Dict[int, Tensor]
                          ) -> Tuple[Tensor, Tensor]:
        """BALD/DALD-type scores from draws ``1..M`` (and draw 0), and the
        mean prediction over the draws they used."""
        mc_dropout = STOCHASTIC_SCORES[self.score]
        released = self.score == 'edald_released'
        draws = torch.stack([
            _log_probs(context, request, draw, mc_dropout)
            for draw in range(1 + released, self.num_draws + 1)
        ])
        if released:  # the code's first draw is the clean prediction
            clean = _log_probs(context, request)
            draws = torch.cat([clean[None], draws])
            return released_edald(draws, clean), mean_log_probs(draws)
        if self.score in ('ebald', 'edald'):
            extra = _log_probs(context, request, 0, mc_dropout)
            return (entropy_augmented_mi(draws, extra),
                    mean_log_probs(torch.cat([draws, extra[None]])))
        scores = balanced_entropy(draws) if self.score == 'balentacq' \
            else mutual_information(draws)
        return scores, mean_log_probs(draws)

    def _power_keys(self, context: SelectionContext, scores: Tensor,
                    images: List[int], counts: List[int]) -> Tensor:
        """Sort keys: the scores, or power-sampling keys whose noise is
        keyed per image."""
        if not self.power:
            return scores.double()
        return torch.cat([
            power_keys(
                image_scores, self.beta, self.noise,
                context.generator('power', context.image_ids[image]))
            for image, image_scores in zip(images, scores.split(counts))
        ])


def _log_probs(context: SelectionContext,
               request: Dict[int, Tensor],
               draw: Optional[int] = None,
               mc_dropout: bool = False) -> Tensor:
    """Log-probabilities of a request, concatenated in request order, on
    the CPU (where scores are ranked and noise is drawn)."""
    result = context.log_probs(request, draw=draw, mc_dropout=mc_dropout)
    return torch.cat([result[image] for image in request]).cpu()
