"""The active-learning loop as an mmengine job, and what it writes."""
from .active_learning_loop import ActiveLearningLoop, resolve_budget
from .autocast_optim_wrapper import AutocastOptimWrapper
from .checkpoint import mmengine_checkpoints_allowed
from .feature_cache import FeatureCache
from .fully_supervised_loop import FullySupervisedLoop
from .head_training import (HeadTrainer, HeadTrainingConfig,
                            HeadTrainingResult)
from .hooks import (DiffusionPretrainHook, LearningCurveHook,
                    QueryOverlayHook, RoundMetricsHook)
from .oracles import AnnotationRequired, FileOracle, GroundTruthOracle
from .pool_context import PoolSelectionContext
from .protocols import PixelPool, PointModel

__all__ = [
    'ActiveLearningLoop', 'AnnotationRequired', 'AutocastOptimWrapper',
    'DiffusionPretrainHook', 'FeatureCache', 'FileOracle',
    'FullySupervisedLoop', 'GroundTruthOracle', 'HeadTrainer',
    'HeadTrainingConfig', 'HeadTrainingResult', 'LearningCurveHook',
    'PixelPool', 'PointModel', 'PoolSelectionContext', 'QueryOverlayHook',
    'RoundMetricsHook', 'mmengine_checkpoints_allowed', 'resolve_budget'
]
