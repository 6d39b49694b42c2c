"""Pixel selection: Stage-1 candidate sets, Stage-2 scores, selectors."""
from .builder import build_selector
from .class_balance import ClassBalance
from .context import Selection, SelectionContext
from .coreset import CoreSet
from .herding import MaxHerding, PickResult
from .candidate_set import LocalGlobalCandidates
from .ranking import SCORE_NAMES, ScoreRanking
from .selectors import (BaseSelector, HerdingSelector, OneStageSelector,
                        ScheduledSelector, TwoStageSelector)

__all__ = [
    'BaseSelector', 'ClassBalance', 'CoreSet', 'HerdingSelector',
    'LocalGlobalCandidates', 'MaxHerding', 'OneStageSelector', 'PickResult',
    'SCORE_NAMES', 'ScheduledSelector', 'ScoreRanking', 'Selection',
    'SelectionContext', 'TwoStageSelector', 'build_selector'
]
