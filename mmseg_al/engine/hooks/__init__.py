"""Hooks of an active-learning run: its outputs and its setup."""
from .diffusion_pretrain_hook import DiffusionPretrainHook
from .learning_curve_hook import LearningCurveHook
from .query_overlay_hook import QueryOverlayHook

__all__ = [
    'DiffusionPretrainHook', 'LearningCurveHook', 'QueryOverlayHook'
]
