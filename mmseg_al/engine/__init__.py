"""The active-learning loop as an mmengine job, and what it writes."""
from .active_learning_loop import ActiveLearningLoop, resolve_budget
from .checkpoint import allow_mmengine_checkpoints
from .feature_cache import FeatureCache
from .head_training import HeadTrainingConfig, train_head
from .oracles import AnnotationRequired, FileOracle, GroundTruthOracle
from .pool_context import PoolSelectionContext

# mmengine's runner loads its own checkpoints with torch.load's
# weights_only=True default (torch >= 2.6): allow-list what they contain.
allow_mmengine_checkpoints()

__all__ = [
    'ActiveLearningLoop', 'AnnotationRequired', 'FeatureCache', 'FileOracle',
    'GroundTruthOracle', 'HeadTrainingConfig', 'PoolSelectionContext',
    'allow_mmengine_checkpoints', 'resolve_budget', 'train_head'
]
