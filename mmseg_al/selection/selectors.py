"""Selectors: what the active-learning loop calls once per round.

Each selector composes Stage 1 (:class:`LocalGlobalCandidates`) and/or Stage 2
(:class:`ScoreRanking`) and returns, for a budget ``b``, exactly ``b``
distinct unlabelled pixels (fewer, with a warning, only when the pool is
exhausted), deterministically for a given context seed.
"""
from abc import ABCMeta, abstractmethod
from typing import List, Optional, Tuple

from mmseg_al.registry import TASK_UTILS
from .builder import build_selector
from .context import Selection, SelectionContext
from .pixel_requests import (check_candidate_mode, group_by_image,
                             sample_candidates)


class BaseSelector(metaclass=ABCMeta):
    """Validates the budget, then delegates to :meth:`_select`."""

    def select(self, context: SelectionContext, budget: int) -> Selection:
        """Pick ``budget`` unlabelled pixels of ``context``'s pool.

        Args:
            context: the pool, labelled set and model of this round.
            budget: number of pixels to pick (``>= 1``).

        Returns:
            The picks, best (or first picked) first.
        """
        if int(budget) != budget or budget < 1:
            raise ValueError(f'budget must be a positive integer, got '
                             f'{budget!r}')
        return self._select(context, int(budget))

    @abstractmethod
    def _select(self, context: SelectionContext, budget: int) -> Selection:
        """Pick ``budget`` pixels (already validated)."""


@TASK_UTILS.register_module()
class TwoStageSelector(BaseSelector):
    """Stage 1 builds a representative candidate set, Stage 2 ranks only
    those candidates.

    The candidates are at least ``budget`` pixels (when Stage 1 has that
    many local picks), so Stage 2 always has enough to choose from.

    Args:
        stage1 (dict): config of a :class:`LocalGlobalCandidates`.
        stage2 (dict): config of a :class:`ScoreRanking`.
    """

    def __init__(self,
                 stage1: dict = dict(type='LocalGlobalCandidates'),
                 stage2: dict = dict(type='ScoreRanking')) -> None:
        self.stage1 = build_selector(stage1)
        self.stage2 = build_selector(stage2)

    def _select(self, context: SelectionContext, budget: int) -> Selection:
        self.stage2.check_context(context)
        candidates = self.stage1.build(context, min_size=budget)
        by_image = group_by_image(candidates.image_index, candidates.pixels)
        return self.stage2.rank(context, by_image.items(), budget)


@TASK_UTILS.register_module()
class OneStageSelector(BaseSelector):
    """Stage 2 over all unlabelled candidates ("uncertainty only").

    Args:
        stage2 (dict): config of a :class:`ScoreRanking`.
        candidates_per_image (int, optional): rank a seeded random subset
            of at most this many candidates per image (key
            ``('candidates', image_id)``) to bound cost; None = all.
        candidates (str): ``'fixed'`` (default, the authors' protocol) or
            ``'per_round'``, as in :class:`LocalGlobalCandidates`; the same
            setting ranks the same candidates as Stage 1 herds from.
    """

    def __init__(self,
                 stage2: dict = dict(type='ScoreRanking'),
                 candidates_per_image: Optional[int] = None,
                 candidates: str = 'fixed') -> None:
        check_candidate_mode(candidates)
        self.stage2 = build_selector(stage2)
        self.candidates_per_image = candidates_per_image
        self.candidates = candidates

    def _select(self, context: SelectionContext, budget: int) -> Selection:
        # only this process's images: candidates are not drawn for others
        pool = ((image,
                 sample_candidates(context, image, self.candidates_per_image,
                                   self.candidates))
                for image in range(context.num_images)
                if context.owns(image))
        return self.stage2.rank(context, pool, budget)


@TASK_UTILS.register_module()
class HerdingSelector(BaseSelector):
    """Stage 1 straight to the budget: needs no model.

    The cold start of round 0, and the "herding only" baseline.

    Args:
        stage1 (dict): config of a :class:`LocalGlobalCandidates`.
    """

    def __init__(self,
                 stage1: dict = dict(type='LocalGlobalCandidates')) -> None:
        self.stage1 = build_selector(stage1)

    def _select(self, context: SelectionContext, budget: int) -> Selection:
        return self.stage1.build(context, size=budget)


@TASK_UTILS.register_module()
class ScheduledSelector(BaseSelector):
    """A different selector per range of rounds (paper section 4.3).

    Entry ``i`` is used for rounds up to and including its ``until_round``
    (and after the previous entry's); the last entry, without
    ``until_round``, covers every later round. For example::

        schedule=[
            dict(until_round=0, selector=dict(type='HerdingSelector')),
            dict(until_round=10, selector=dict(type='TwoStageSelector')),
            dict(selector=dict(
                type='OneStageSelector',
                stage2=dict(type='ScoreRanking', score='margin'))),
        ]

    Args:
        schedule (list[dict]): entries ``dict(until_round=int,
            selector=dict(...))``, ``until_round`` strictly increasing, the
            last one without ``until_round``.
        stage1 (dict, optional): Stage-1 candidates of the scheduled selectors
            that take one and set none (see :func:`build_selector`).
    """

    def __init__(self, schedule: List[dict],
                 stage1: Optional[dict] = None) -> None:
        if not schedule:
            raise ValueError('ScheduledSelector needs a non-empty schedule')
        self.schedule: List[Tuple[Optional[int], BaseSelector]] = []
        last_round = -1
        for position, entry in enumerate(schedule):
            if 'selector' not in entry:
                raise ValueError(
                    f'schedule entry {position} has no "selector": {entry}')
            until_round = entry.get('until_round')
            is_last = position == len(schedule) - 1
            if is_last and until_round is not None:
                raise ValueError(
                    f'the last schedule entry must have no "until_round" '
                    f'(it covers all later rounds), got {until_round}')
            if not is_last and (until_round is None
                                or until_round <= last_round):
                raise ValueError(
                    f'schedule entry {position} needs an "until_round" '
                    f'greater than {last_round}, got {until_round}')
            last_round = until_round if until_round is not None else last_round
            self.schedule.append(
                (until_round, build_selector(entry['selector'], stage1)))

    def selector_for(self, round_idx: int) -> BaseSelector:
        """The selector scheduled for ``round_idx``."""
        for until_round, selector in self.schedule[:-1]:
            if round_idx <= until_round:
                return selector
        return self.schedule[-1][1]

    def _select(self, context: SelectionContext, budget: int) -> Selection:
        return self.selector_for(context.round_idx).select(context, budget)
