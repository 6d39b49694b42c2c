"""The active-learning job as mmengine extensions: loops (``runner/``),
head training (``training/``), pixel features (``features/``), optimizer
wrappers (``optimizers/``) and hooks (``hooks/``)."""
from .features import FeatureCache, PoolFeatures, PoolSelectionContext
from .hooks import DiffusionPretrainHook, LearningCurveHook, QueryOverlayHook
from .optimizers import AutocastOptimWrapper
from .runner import (ActiveLearningLoop, FullySupervisedLoop, PixelModel,
                     PixelPool, mmengine_checkpoints_allowed)
from .training import HeadTrainer, HeadTrainingConfig, HeadTrainingResult

__all__ = [
    'ActiveLearningLoop', 'AutocastOptimWrapper', 'DiffusionPretrainHook',
    'FeatureCache', 'FullySupervisedLoop', 'HeadTrainer',
    'HeadTrainingConfig', 'HeadTrainingResult', 'LearningCurveHook',
    'PixelModel', 'PixelPool', 'PoolFeatures', 'PoolSelectionContext',
    'QueryOverlayHook', 'mmengine_checkpoints_allowed'
]
