"""Human annotation: the web annotator, its oracle and Label Studio files.

The server libraries are optional (``pip install mmseg-al[annotate]``) and
imported only when a server is built.
"""
from .round_answers import AnswerError, RoundAnswers
from .web_oracle import WebOracle

__all__ = ['AnswerError', 'RoundAnswers', 'WebOracle']
