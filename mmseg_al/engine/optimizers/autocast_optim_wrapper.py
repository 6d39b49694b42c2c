"""Mixed-precision head training where mmengine's AmpOptimWrapper cannot
run.

``AmpOptimWrapper`` asserts a GPU (it needs a CUDA ``GradScaler``), so
``--amp`` would fail on a CPU. bfloat16 has float32's exponent range and
needs no loss scaling, so autocasting is all mixed precision takes there:
``tools/al_train.py --amp`` picks this wrapper (bfloat16) on CPU machines
and ``AmpOptimWrapper`` on GPUs, as mmseg's ``tools/train.py`` does.
"""
from contextlib import contextmanager
from typing import Union

import torch
from mmengine.optim import OptimWrapper
from mmengine.runner.amp import autocast
from mmseg.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` autocasts to ``dtype``.

    Args:
        dtype: ``'bfloat16'`` (the only autocast type of CPUs) or a
            ``torch.dtype``.
        **kwargs: as ``OptimWrapper`` (``optimizer``,
            ``accumulative_counts``, ``clip_grad``).
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16',
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        self.cast_dtype = dtype

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), autocast(dtype=self.cast_dtype):
            yield
