"""Pixel features of the pool: batched, cached and sharded over ranks, and
the selection contract over them."""
from .feature_cache import FeatureCache
from .pool_features import PoolFeatures
from .pool_selection_context import PoolSelectionContext

__all__ = ['FeatureCache', 'PoolFeatures', 'PoolSelectionContext']
