from .memory import available_memory
from .ops_check import check_mmcv_ops
from .progress import track
from .seeding import derive_seed, numpy_rng, torch_generator

__all__ = [
    'available_memory', 'check_mmcv_ops', 'derive_seed', 'numpy_rng',
    'torch_generator', 'track'
]
