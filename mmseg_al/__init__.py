"""mmseg-al: low-budget pixel active learning for MMSegmentation.

Importing this package registers every model, dataset, loop, hook and
selector it provides (configs pull it in with ``custom_imports``).
"""
from .utils import check_mmcv_ops
from .version import __version__

check_mmcv_ops()

from . import datasets, engine, models, selection, state  # noqa: E402,F401

__all__ = ['__version__']
