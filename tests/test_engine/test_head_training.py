import math

import pytest
import torch

from mmseg_al.engine import HeadTrainingConfig, train_head
from mmseg_al.engine.head_training import RecentAccuracy, batch_indices
from mmseg_al.utils import torch_generator
from .point_model import PointModel

OPTIM = dict(type='OptimWrapper',
             optimizer=dict(type='Adam', lr=1e-2, weight_decay=1e-5))
COSINE = dict(type='CosineAnnealingLR', T_max=5, eta_min=1e-6, by_epoch=True)


def blobs(n=40, seed=0):
    """Three well separated classes in 3-d."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    centres = torch.eye(3) * 4
    return centres[labels] + 0.3 * torch.randn(n, 3, generator=gen), labels


@pytest.mark.parametrize('num,size', [(1, 4), (5, 4), (9, 4), (8, 4)])
def test_batches_cover_everything_with_at_least_two_items(num, size):
    batches = batch_indices(num, size, torch_generator(0, 'b'))
    assert all(b.numel() >= 2 for b in batches)
    if num > 1:
        assert sorted(torch.cat(batches).tolist()) == list(range(num))
        assert len(batches) == max(1, num // size)


def test_training_fits_and_is_reproducible():
    features, labels = blobs()
    settings = HeadTrainingConfig(max_epochs=20, batch_size=8, patience=50)
    heads, results = [], []
    for _ in range(2):
        model = PointModel()
        _, _, result = train_head(model, features, labels, OPTIM, COSINE,
                                  settings, seed=3, round_idx=2)
        heads.append(model.head.state_dict())
        results.append(result)
        assert not model.training
        accuracy = (model.point_logits(features).argmax(1) == labels).float()
        assert accuracy.mean() > 0.95
    for key in heads[0]:
        torch.testing.assert_close(heads[0][key], heads[1][key])
    assert results[0] == results[1]
    assert results[0].epochs == 20 and results[0].iterations == 100


def test_scheduler_steps_once_per_epoch():
    features, labels = blobs(16)
    settings = HeadTrainingConfig(max_epochs=3, batch_size=4)
    optim_wrapper, schedulers, result = train_head(
        PointModel(), features, labels, OPTIM, COSINE, settings, seed=0,
        round_idx=0)
    assert result.iterations == 12
    expected = 1e-6 + (1e-2 - 1e-6) * (1 + math.cos(math.pi * 3 / 5)) / 2
    assert optim_wrapper.get_lr()['lr'][0] == pytest.approx(expected)
    assert schedulers[0].last_step == 3


def test_early_stop_after_patience_once_accurate():
    features, labels = blobs()
    settings = HeadTrainingConfig(max_epochs=200, batch_size=8, patience=5,
                                  acc_threshold=0.95)
    _, _, result = train_head(PointModel(), features, labels, OPTIM, None,
                              settings, seed=0, round_idx=0)
    assert result.epochs < 200 and result.accuracy > 0.95
    strict = HeadTrainingConfig(max_epochs=10, batch_size=8, patience=1,
                                acc_threshold=1.0)  # never exceeded
    _, _, result = train_head(PointModel(), features, labels, OPTIM, None,
                              strict, seed=0, round_idx=0)
    assert result.epochs == 10


def test_void_labels_are_skipped():
    features, labels = blobs(12)
    settings = HeadTrainingConfig(max_epochs=2, batch_size=4)
    with_void = torch.cat([features, 100 * torch.ones(5, 3)])
    heads = []
    for feats, labs in ((features, labels),
                        (with_void, torch.cat([labels, torch.full((5, ),
                                                                  255)]))):
        model = PointModel()
        _, _, result = train_head(model, feats, labs, OPTIM, None, settings,
                                  seed=0, round_idx=0)
        assert result.iterations == 6 and math.isfinite(result.loss)
        heads.append(model.head.state_dict())
    for key in heads[0]:
        torch.testing.assert_close(heads[0][key], heads[1][key])
    model = PointModel()
    all_void = torch.full_like(labels, 255)
    _, _, result = train_head(model, features, all_void, OPTIM, None,
                              settings, seed=0, round_idx=0)
    assert result.iterations == 0


def test_bad_settings_name_the_key():
    with pytest.raises(ValueError, match='head_training.batch_size'):
        HeadTrainingConfig(batch_size=0)


def test_dropout_head_is_retrained_identically_whatever_the_global_rng():
    """A resumed process starts from another global RNG state; training-time
    dropout must not depend on it."""
    features, labels = blobs()
    settings = HeadTrainingConfig(max_epochs=3, batch_size=8)
    heads = []
    for global_seed in (1, 2):
        model = PointModel()
        model.head = torch.nn.Sequential(
            torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Dropout(0.5),
            torch.nn.Linear(8, 3))
        torch.manual_seed(global_seed)
        train_head(model, features, labels, OPTIM, None, settings, seed=3,
                   round_idx=1)
        heads.append(model.head.state_dict())
        assert torch.initial_seed() == global_seed  # global state untouched
    for key in heads[0]:
        torch.testing.assert_close(heads[0][key], heads[1][key])


def test_recent_accuracy_counts_the_last_epoch_of_pixels():
    recent = RecentAccuracy(span=10)
    assert recent.update(2, 4) == pytest.approx(2 / 4)
    assert recent.update(4, 4) == pytest.approx(6 / 8)
    # 12 pixels seen: the first batch drops out only once the other
    # batches alone cover the span
    assert recent.update(1, 4) == pytest.approx(7 / 12)
    assert recent.update(4, 4) == pytest.approx(9 / 12)
    assert recent.update(6, 6) == pytest.approx(10 / 10)
