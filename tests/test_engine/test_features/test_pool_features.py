"""Batched, cached pixel features of the pool."""
import torch

from mmseg_al.engine import FeatureCache, PoolFeatures
from mmseg_al.state import LabelStore
from helpers.pixel_model import FakePool, PixelModel, rgb_at


def make_features(batch=2, cache=None):
    pool, model = FakePool(), PixelModel()
    store = LabelStore(pool.image_ids, pool.image_shapes, model.num_classes)
    store.add('train/0001.png', [3, 7], [2, 255], round_idx=0)
    features = PoolFeatures(pool, model,
                            FeatureCache() if cache is None else cache,
                            round_idx=1, feature_batch_size=batch)
    return features, store, pool, model


def test_features_are_batched_and_in_request_order():
    features, store, pool, model = make_features(batch=2)
    request = {2: torch.tensor([5, 1]), 0: torch.tensor([0]),
               1: torch.tensor([19, 4])}
    feats = features.features(request)
    assert list(feats) == [2, 0, 1]
    assert model.backbone_calls == [['train/0000.png', 'train/0001.png'],
                                    ['train/0002.png']]
    for i, pixels in request.items():
        torch.testing.assert_close(feats[i], rgb_at(pool, i, pixels))
    draw = features.features({0: torch.tensor([0])}, draw=1)
    torch.testing.assert_close(draw[0], rgb_at(pool, 0, [0]) + 0.02 + 1)
    calls = len(model.backbone_calls)
    empty = features.features({1: torch.zeros(0, dtype=torch.long)})
    assert empty[1].shape == (0, 3) and len(model.backbone_calls) == calls


def test_labelled_set_is_cached_across_rounds():
    cache = FeatureCache()
    features, store, pool, model = make_features(cache=cache)
    feats, classes = features.labelled(store)
    torch.testing.assert_close(feats, rgb_at(pool, 1, [3, 7]))
    assert classes.tolist() == [2, 255]
    assert len(model.backbone_calls) == 1 and len(cache) == 2
    features.labelled(store)
    features.features({1: torch.tensor([7])})
    assert len(model.backbone_calls) == 1  # served from the cache
    features.features({1: torch.tensor([7, 8])})
    assert len(model.backbone_calls) == 2  # pixel 8 is not cached
