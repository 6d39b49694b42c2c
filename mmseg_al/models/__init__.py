from . import backbones, decode_heads, segmentors  # noqa: F401
