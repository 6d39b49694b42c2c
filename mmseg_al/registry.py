"""Where mmseg-al registers what it adds: mmseg's own registries.

Models, datasets, metrics, loops and hooks are registered in mmseg's
``MODELS``, ``DATASETS``, ``METRICS``, ``LOOPS`` and ``HOOKS``. Every
active-learning component (selectors, Stage-1 candidate sets and pickers,
class balance, oracles, region expansions) is registered in mmseg's
``TASK_UTILS``, re-exported here as the one place to register and build
them. One scope rule follows:
configs run with ``default_scope='mmseg'`` (every mmseg config does), where
``TASK_UTILS.build`` finds all of them, nested configs included, with no
scope switching.
"""
from mmseg.registry import TASK_UTILS

__all__ = ['TASK_UTILS']
