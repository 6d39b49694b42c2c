import numpy as np
import pytest
import torch

from mmseg_al.engine import FeatureCache, PoolSelectionContext
from mmseg_al.state import LabelStore
from .point_model import FakePool, PointModel


def make_context(round_idx=1, oracle_void=False, batch=2, cache=None):
    pool, model = FakePool(), PointModel()
    store = LabelStore(pool.image_ids, pool.image_shapes, model.num_classes)
    store.add('train/0001.png', [3, 7], [2, 255], round_idx=0)
    context = PoolSelectionContext(
        pool, model, store, FeatureCache() if cache is None else cache,
        round_idx, seed=5, has_model=round_idx > 0, feature_batch_size=batch,
        oracle_void=oracle_void)
    return context, pool, model


def rgb_at(pool, image, pixels):
    """The preprocessed colour: BGR file -> RGB, scaled to [-1, 1]."""
    image = torch.from_numpy(pool.images[image][::-1].copy()).float()
    return (image.flatten(1)[:, pixels].T - 127.5) / 127.5


def test_candidates_exclude_labelled_and_optionally_void():
    context, _, _ = make_context()
    assert context.labelled_pixels(1).tolist() == [3, 7]
    assert context.candidate_pixels(1).tolist() == [
        p for p in range(20) if p not in (3, 7)]
    assert context.candidate_pixels(0).tolist() == list(range(20))
    void_aware, pool, _ = make_context(oracle_void=True)
    void = set(np.flatnonzero(pool.labels[0].reshape(-1) == 255))
    assert 0 in void
    assert void_aware.candidate_pixels(0).tolist() == [
        p for p in range(20) if p not in void]
    assert context.class_counts().tolist() == [0, 0, 1]


def test_features_are_batched_and_in_request_order():
    context, pool, model = make_context(batch=2)
    request = {2: torch.tensor([5, 1]), 0: torch.tensor([0]),
               1: torch.tensor([19, 4])}
    feats = context.features(request)
    assert list(feats) == [2, 0, 1]
    assert model.backbone_calls == [['train/0000.png', 'train/0001.png'],
                                    ['train/0002.png']]
    for i, pixels in request.items():
        torch.testing.assert_close(feats[i], rgb_at(pool, i, pixels))
    draw = context.features({0: torch.tensor([0])}, draw=1)
    torch.testing.assert_close(draw[0], rgb_at(pool, 0, [0]) + 0.02 + 1)
    calls = len(model.backbone_calls)
    empty = context.features({1: torch.zeros(0, dtype=torch.long)})
    assert empty[1].shape == (0, 3) and len(model.backbone_calls) == calls


def test_labelled_set_is_cached_across_rounds():
    cache = FeatureCache()
    context, pool, model = make_context(cache=cache)
    feats, classes = context.labelled_set()
    torch.testing.assert_close(feats, rgb_at(pool, 1, [3, 7]))
    assert classes.tolist() == [2, 255]
    assert len(model.backbone_calls) == 1 and len(cache) == 2
    context.labelled_set()
    context.features({1: torch.tensor([7])})
    assert len(model.backbone_calls) == 1  # served from the cache
    context.features({1: torch.tensor([7, 8])})
    assert len(model.backbone_calls) == 2  # pixel 8 is not cached


def test_log_probs_need_a_model_and_seeded_dropout():
    cold, _, _ = make_context(round_idx=0)
    with pytest.raises(RuntimeError, match='cold-start selector'):
        cold.log_probs({0: torch.tensor([1])})
    context, _, model = make_context()
    model.eval()
    request = {0: torch.arange(20), 2: torch.arange(20)}
    clean = context.log_probs(request)
    torch.testing.assert_close(clean[0].exp().sum(1), torch.ones(20))
    with pytest.raises(ValueError, match='draw index'):
        context.log_probs(request, mc_dropout=True)
    first = context.log_probs(request, draw=0, mc_dropout=True)
    again = context.log_probs(request, draw=0, mc_dropout=True)
    other = context.log_probs(request, draw=1, mc_dropout=True)
    torch.testing.assert_close(first[2], again[2])
    assert not torch.allclose(first[2], other[2])
    assert not torch.allclose(first[0], first[2])


def test_mc_dropout_passes_see_the_clean_features_once():
    context, _, model = make_context()
    request = {0: torch.arange(20), 2: torch.arange(20)}
    model.dropout = 0.0  # a pass without dropout is the clean prediction
    clean = context.log_probs(request)
    calls = len(model.backbone_calls)
    passes = [context.log_probs(request, draw=k, mc_dropout=True)
              for k in range(4)]
    for result in passes:
        for i in request:
            torch.testing.assert_close(result[i], clean[i])
    # The noise draws are never run for MC dropout; the clean features of
    # the request were extracted once, for the clean prediction.
    assert len(model.backbone_calls) == calls


class EnsemblePointModel(PointModel):
    """PointModel whose members are three linear maps of the feature."""

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(3)
        self.members = torch.randn(3, 3, self.num_classes,
                                   generator=generator)

    def point_member_logits(self, features):
        return features @ self.members


def test_member_log_probs_of_an_ensemble_on_the_clean_features():
    context, pool, _ = make_context()
    model = EnsemblePointModel()
    context.model = model
    request = {0: torch.arange(6), 2: torch.tensor([1, 4])}
    members = context.member_log_probs(request)
    calls = len(model.backbone_calls)
    assert calls == 1  # one backbone call for the two images
    for image, pixels in request.items():
        expected = (rgb_at(pool, image, pixels) @ model.members).log_softmax(
            -1)
        torch.testing.assert_close(members[image], expected)
    context.log_probs(request)  # the clean prediction reuses the features
    assert len(model.backbone_calls) == calls


def test_member_log_probs_need_an_ensemble_and_a_model():
    cold, _, _ = make_context(round_idx=0)
    with pytest.raises(RuntimeError, match='cold-start selector'):
        cold.member_log_probs({0: torch.tensor([1])})
    context, _, _ = make_context()
    with pytest.raises(RuntimeError, match='PointModel gives no ensemble '
                       'member predictions.*PixelMLPEnsembleHead'):
        context.member_log_probs({0: torch.tensor([1])})
