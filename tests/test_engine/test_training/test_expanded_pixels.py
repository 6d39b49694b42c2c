"""Expanded pixels in head training: the per-click cap, the loss weight."""
import numpy as np
import torch
import torch.nn.functional as F

from mmseg_al.engine.training.expanded_pixels import (capped_expansion,
                                                      expanded_weights)
from mmseg_al.engine.training.pixel_batches import LabelledPixels
from mmseg_al.state import LabelStore
from mmseg_al.utils import numpy_rng
from helpers.pixel_model import PixelModel

IDS = ['a.png', 'b.png']


def regions_store():
    """a: click 0 (class 1) with 30 expanded pixels, click 99 (class 2)
    with 3; b: click 5 (class 0) with none."""
    store = LabelStore(IDS, [(10, 10), (4, 4)], 3)
    store.add_many([('a.png', 0, 1), ('a.png', 99, 2), ('b.png', 5, 0)], 0)
    store.add_expanded(['a.png'] * 33, list(range(1, 31)) + [96, 97, 98],
                       [0] * 30 + [99] * 3, 0)
    return store


def test_large_regions_keep_a_seeded_subset_of_their_click():
    store = regions_store()
    capped, left_out = capped_expansion(store, 10, seed=3)
    assert left_out == 20
    assert (capped.num_clicks, capped.num_expanded) == (3, 13)
    chosen = np.arange(1, 31)[numpy_rng(3, 'expansion', 'a.png', 0).choice(
        30, 10, replace=False)]
    np.testing.assert_array_equal(
        capped.pixels('a.png'), np.sort(np.r_[0, chosen, 96, 97, 98, 99]))
    np.testing.assert_array_equal(capped.pixels('b.png'), [5])
    # the same subset in every round (it grows with later rounds only)
    again, _ = capped_expansion(store, 10, seed=3)
    np.testing.assert_array_equal(again.pixels('a.png'),
                                  capped.pixels('a.png'))
    assert capped_expansion(store, None, seed=3) == (store, 0)


def test_weights_follow_the_order_of_the_labelled_features():
    store = regions_store()
    weights = expanded_weights(store, 0.25)
    flags = np.r_[store.expanded('a.png'), store.expanded('b.png')]
    np.testing.assert_array_equal(weights.numpy(),
                                  np.where(flags, 0.25, 1.0))
    assert expanded_weights(store, 1.0) is None
    assert expanded_weights(LabelStore(IDS, [(10, 10), (4, 4)], 3),
                            0.5) is None


def test_the_loss_weighs_each_pixel_by_its_weight():
    torch.manual_seed(0)
    model = PixelModel(loss_decode=dict(type='CrossEntropyLoss'))
    features = torch.randn(6, 3)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    weights = torch.tensor([1.0, 1.0, 0.5, 0.5, 0.5, 1.0])
    batch = LabelledPixels(features, labels, weights=weights)[
        torch.tensor([0, 2, 5])]
    loss = model.loss_pixels(batch['inputs'], batch['data_samples'],
                             batch['weights'])['decode.loss_ce']
    expected = (F.cross_entropy(model.pixel_logits(features[[0, 2, 5]]),
                                labels[[0, 2, 5]], reduction='none')
                * weights[[0, 2, 5]]).mean()
    torch.testing.assert_close(loss, expected)
    assert 'weights' not in LabelledPixels(features, labels)[
        torch.tensor([0, 1])]
