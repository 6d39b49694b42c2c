"""The loops of an active-learning job, their contracts, and the
checkpoint allow-list of ``--resume``."""
from .active_learning_loop import ActiveLearningLoop
from .checkpoint_allowlist import mmengine_checkpoints_allowed
from .fully_supervised_loop import FullySupervisedLoop
from .head_loop import HeadLoop
from .protocols import PixelModel, PixelPool

__all__ = [
    'ActiveLearningLoop', 'FullySupervisedLoop', 'HeadLoop', 'PixelModel',
    'PixelPool', 'mmengine_checkpoints_allowed'
]
