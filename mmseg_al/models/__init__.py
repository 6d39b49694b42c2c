from . import backbones, decode_heads, segmentors  # noqa: F401
from .pretrain_hook import DiffusionPretrainHook  # noqa: F401
