"""Queries to answers: who answers a round (the dataset's labels, a person
through a file, the browser or Label Studio), what they are shown, and how
their answers are stored.

The server libraries are optional (``pip install mmseg-al[annotate]``) and
imported only when a server is built.
"""
from .oracles import AnnotationRequired, FileOracle, GroundTruthOracle
from .query_round import PoolImages, QueryRound, read_answers
from .region_expansion import (RegionExpansion, SuperpixelExpansion,
                               expand_clicks)
from .sam_expansion import SAMExpansion
from .round_answers import AnswerError, RoundAnswers
from .web_oracle import WebOracle

__all__ = [
    'AnnotationRequired', 'AnswerError', 'FileOracle', 'GroundTruthOracle',
    'PoolImages', 'QueryRound', 'RegionExpansion', 'RoundAnswers',
    'SAMExpansion', 'SuperpixelExpansion', 'WebOracle', 'expand_clicks',
    'read_answers'
]
