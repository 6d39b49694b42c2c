"""Load mmengine's own checkpoints with ``torch.load(weights_only=True)``.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, and
mmengine 0.10.7 calls it without the argument. Its checkpoints hold, besides
tensors, the message hub's :class:`HistoryBuffer` objects, numpy arrays,
scalars and dtypes, and each buffer's statistics methods (pickled as
``getattr(HistoryBuffer, 'mean')``). Rather than turning the safe loader off
(``weights_only=False`` executes arbitrary code from the file), we allow-list
exactly these globals; ``getattr`` is replaced by a function that only
resolves HistoryBuffer's registered statistics methods.
"""
from typing import Any, List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

try:  # numpy >= 2
    from numpy._core import multiarray as _np_multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _np_multiarray

#: Statistics HistoryBuffer registers on its first instantiation.
_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def history_buffer_statistic(owner: Any, name: str) -> Any:
    """Stand-in for ``getattr`` while unpickling a checkpoint.

    Resolves only ``HistoryBuffer.<statistic>``; anything else is refused,
    since a general ``getattr`` would let a crafted file reach arbitrary
    attributes.

    Args:
        owner: the object the pickle asks an attribute of.
        name: the attribute name.
    """
    allowed = set(_DEFAULT_STATISTICS) | set(HistoryBuffer._statistics_methods)
    if owner is not HistoryBuffer or name not in allowed:
        raise RuntimeError(
            f'Refusing getattr({owner!r}, {name!r}) while loading a '
            'checkpoint: only HistoryBuffer statistics methods '
            f'{sorted(allowed)} are allowed.')
    return getattr(HistoryBuffer, name)


def _numpy_dtype_classes() -> List[type]:
    """The dtype classes numpy 2 pickles (``numpy.dtypes.Float64DType``...)."""
    codes = '?bBhHiIlLqQefdgFDGUSM'
    return sorted({type(np.dtype(c)) for c in codes}, key=str)


def mmengine_checkpoint_globals() -> List[Any]:
    """Everything besides tensors that mmengine writes into a checkpoint.

    Entries are objects, or ``(object, 'qualified.name')`` pairs for names
    written by other numpy versions and for the restricted ``getattr``.
    """
    reconstruct = _np_multiarray._reconstruct
    scalar = _np_multiarray.scalar
    return [
        HistoryBuffer, np.ndarray, np.dtype, reconstruct, scalar,
        *_numpy_dtype_classes(),
        (reconstruct, 'numpy.core.multiarray._reconstruct'),
        (scalar, 'numpy.core.multiarray.scalar'),
        (history_buffer_statistic, 'builtins.getattr'),
    ]


def mmengine_checkpoints_allowed():
    """A context in which ``torch.load(weights_only=True)`` accepts
    mmengine's checkpoints: :func:`mmengine_checkpoint_globals` are
    allow-listed inside it only, never process-wide.

    ``tools/al_train.py`` runs the runner in it, so ``--resume`` and
    ``load_from`` work under torch's safe loader.
    """
    return torch.serialization.safe_globals(mmengine_checkpoint_globals())
