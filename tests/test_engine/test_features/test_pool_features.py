"""Canonical, cached, counted pixel features of the pool."""
import torch

from mmseg_al.engine import PoolFeatures
from mmseg_al.state import LabelStore
from helpers.pixel_model import FakePool, PixelModel, rgb_at


def make_features(batch=2, num_images=3, **kwargs):
    pool, model = FakePool(num_images=num_images), PixelModel()
    store = LabelStore(pool.image_ids, pool.image_shapes, model.num_classes)
    store.add('train/0001.png', [3, 7], [2, 255], round_idx=0)
    features = PoolFeatures(pool, model, feature_batch_size=batch, **kwargs)
    return features, store, pool, model


def test_a_request_runs_whole_blocks_and_keeps_request_order():
    features, store, pool, model = make_features(batch=2)
    request = {2: torch.tensor([5, 1]), 0: torch.tensor([0]),
               1: torch.tensor([19, 4])}
    feats = features.features(request)
    assert list(feats) == [2, 0, 1]
    assert model.backbone_calls == [['train/0000.png', 'train/0001.png'],
                                    ['train/0002.png']]
    for i, pixels in request.items():
        torch.testing.assert_close(feats[i], rgb_at(pool, i, pixels))
    # image 1 alone: its block's other image still runs with it
    model.backbone_calls.clear()
    features.features({1: torch.tensor([4])}, draw=0, round_idx=3)
    assert model.backbone_calls == [['train/0000.png', 'train/0001.png']]
    assert features.passes == {'candidates': 3, 'draws': 2}
    calls = len(model.backbone_calls)
    empty = features.features({1: torch.zeros(0, dtype=torch.long)})
    assert empty[1].shape == (0, 3) and len(model.backbone_calls) == calls


def test_labelled_pixels_are_kept_across_rounds():
    features, store, pool, model = make_features()
    feats, classes = features.labelled(store)
    torch.testing.assert_close(feats, rgb_at(pool, 1, [3, 7]))
    assert classes.tolist() == [2, 255]
    assert len(model.backbone_calls) == 1 and len(features.cache) == 2
    assert features.passes == {'labelled': 2}
    features.labelled(store)
    features.features({1: torch.tensor([7])})
    assert len(model.backbone_calls) == 1  # served from the cache
    features.features({1: torch.tensor([7, 8])})
    assert len(model.backbone_calls) == 2  # pixel 8 is not kept
    assert len(features.cache) == 2


def test_fixed_candidates_are_kept_once_their_block_ran():
    candidates = {0: torch.tensor([1, 2]), 1: torch.tensor([0, 9]),
                  2: torch.tensor([4])}
    features, store, pool, model = make_features(
        candidates=candidates.__getitem__)
    features.features({1: torch.tensor([9])})
    assert model.backbone_calls == [['train/0000.png', 'train/0001.png']]
    assert len(features.cache) == 4  # both images' candidates
    found = features.features({0: torch.tensor([2, 1]),
                               1: torch.tensor([0])})
    assert len(model.backbone_calls) == 1
    torch.testing.assert_close(found[0], rgb_at(pool, 0, [2, 1]))
    # draws are new every round unless they are per run
    features.features({1: torch.tensor([9])}, draw=0, round_idx=1)
    features.features({1: torch.tensor([9])}, draw=0, round_idx=2)
    assert len(model.backbone_calls) == 3


def test_per_run_draws_are_round_0_draws_kept_for_the_run():
    features, store, pool, model = make_features(
        per_run_draws=True, candidates=lambda image: torch.tensor([6]))
    first = features.features({2: torch.tensor([6])}, draw=1, round_idx=4)
    torch.testing.assert_close(first[2], rgb_at(pool, 2, [6]) + 0.02)
    again = features.features({2: torch.tensor([6])}, draw=1, round_idx=7)
    torch.testing.assert_close(again[2], first[2])
    assert len(model.backbone_calls) == 1


def test_a_feature_does_not_depend_on_its_request():
    """The same pixel, requested with other images or alone: its block of
    3 images runs whole either way, so the batch a feature comes from (and
    with a real backbone its last bits) is the same."""
    features, _, _, model = make_features(batch=3, num_images=5)
    together = features.features({0: torch.tensor([3]), 4: torch.tensor([1]),
                                  1: torch.tensor([2])})
    fresh, _, _, alone_model = make_features(batch=3, num_images=5)
    alone = fresh.features({1: torch.tensor([2])})
    block = ['train/0000.png', 'train/0001.png', 'train/0002.png']
    assert model.backbone_calls[0] == alone_model.backbone_calls[0] == block
    assert torch.equal(alone[1], together[1])


def test_a_stream_runs_only_its_images_and_keeps_nothing():
    features, store, pool, model = make_features(batch=2)
    found = features.stream({2: torch.tensor([1]), 1: torch.tensor([0])})
    assert model.backbone_calls == [['train/0001.png', 'train/0002.png']]
    torch.testing.assert_close(found[2], rgb_at(pool, 2, [1]))
    assert len(features.cache) == 0
    assert features.passes == {'ground_truth': 2}
