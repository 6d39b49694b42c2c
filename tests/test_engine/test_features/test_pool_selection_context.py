import numpy as np
import pytest
import torch

from mmseg_al.engine import PoolFeatures, PoolSelectionContext
from mmseg_al.state import LabelStore
from helpers.pixel_model import FakePool, PixelModel, rgb_at


def make_context(round_idx=1, oracle_void=False, batch=2, model=None):
    pool, model = FakePool(), model or PixelModel()
    store = LabelStore(pool.image_ids, pool.image_shapes, model.num_classes)
    store.add('train/0001.png', [3, 7], [2, 255], round_idx=0)
    features = PoolFeatures(pool, model, feature_batch_size=batch)
    context = PoolSelectionContext(features, store, round_idx, seed=5,
                                   has_model=round_idx > 0,
                                   oracle_void=oracle_void)
    return context, pool, model


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


class EnsemblePixelModel(PixelModel):
    """PixelModel whose members are three linear maps of the feature."""

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(3)
        self.members = torch.randn(3, 3, self.num_classes,
                                   generator=generator)

    def pixel_member_logits(self, features):
        return features @ self.members


def test_member_log_probs_of_an_ensemble_on_the_clean_features():
    context, pool, model = make_context(model=EnsemblePixelModel())
    request = {0: torch.arange(6), 2: torch.tensor([1, 4])}
    members = context.member_log_probs(request)
    calls = len(model.backbone_calls)
    assert calls == 2  # the blocks of images 0 and 2
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
    with pytest.raises(RuntimeError, match='PixelModel gives no ensemble '
                       'member predictions.*PixelMLPEnsembleHead'):
        context.member_log_probs({0: torch.tensor([1])})
