"""The active-learning run as an mmengine job."""
from .active_learning_loop import ActiveLearningLoop
from .autocast_optim_wrapper import AutocastOptimWrapper
from .checkpoint import mmengine_checkpoints_allowed
from .feature_cache import FeatureCache
from .fully_supervised_loop import FullySupervisedLoop
from .head_training import (HeadTrainer, HeadTrainingConfig,
                            HeadTrainingResult)
from .hooks import DiffusionPretrainHook, LearningCurveHook, QueryOverlayHook
from .pool_context import PoolSelectionContext
from .protocols import PixelPool, PointModel

__all__ = [
    'ActiveLearningLoop', 'AutocastOptimWrapper', 'DiffusionPretrainHook',
    'FeatureCache', 'FullySupervisedLoop', 'HeadTrainer',
    'HeadTrainingConfig', 'HeadTrainingResult', 'LearningCurveHook',
    'PixelPool', 'PointModel', 'PoolSelectionContext', 'QueryOverlayHook',
    'mmengine_checkpoints_allowed'
]
