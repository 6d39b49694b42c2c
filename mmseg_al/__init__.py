"""mmseg-al: low-budget pixel active learning for MMSegmentation.

Importing this package registers every model, dataset, metric, loop, hook
and active-learning component it provides (configs pull it in with
``custom_imports``), and does nothing else besides checking that mmcv was
built with its compiled ops, without which mmseg cannot be imported.
"""
from .utils import check_mmcv_ops
from .version import __version__

check_mmcv_ops()

from . import (annotation, datasets, engine, evaluation,  # noqa: E402,F401
               models, selection, state)

__all__ = ['__version__']
