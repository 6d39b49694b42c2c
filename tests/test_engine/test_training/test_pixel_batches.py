"""Seeded mini-batches of the labelled pixels."""
import pytest
import torch

from mmseg_al.engine.training.pixel_batches import (PixelBatchSampler,
                                                    batch_indices)
from mmseg_al.utils import torch_generator


@pytest.mark.parametrize('num,size', [(1, 4), (5, 4), (9, 4), (8, 4),
                                      (10, 4), (3, 2)])
def test_batches_cover_everything_with_at_least_two_items(num, size):
    batches = batch_indices(num, size, torch_generator(0, 'b'))
    assert all(b.numel() >= 2 for b in batches)
    assert len(PixelBatchSampler(num, size, 0, 0)) == len(batches)
    if num > 1:
        assert sorted(torch.cat(batches).tolist()) == list(range(num))
        assert len(batches) == max(1, num // size) + (num % size > 1)


def test_sampler_shuffles_per_epoch_and_member():
    sampler = PixelBatchSampler(10, 4, seed=1, round_idx=2)
    first = [b.tolist() for b in sampler]
    assert first == [b.tolist() for b in batch_indices(
        10, 4, torch_generator(1, 'batches', 2, 0))]
    sampler.set_epoch(1)
    assert [b.tolist() for b in sampler] != first
    assert len(sampler) == 3
    members = PixelBatchSampler(10, 4, seed=1, round_idx=2, num_members=3)
    batches = list(members)
    assert [tuple(b.shape) for b in batches] == [(3, 4), (3, 4), (3, 2)]
    for m in range(3):
        expected = batch_indices(10, 4, torch_generator(1, 'batches', 2, 0,
                                                        m))
        assert [b[m].tolist() for b in batches] == [
            e.tolist() for e in expected]


def test_stretched_epochs_continue_with_further_shuffles():
    sampler = PixelBatchSampler(10, 4, seed=1, round_idx=2, min_batches=7)
    batches = [b.tolist() for b in sampler]
    assert len(sampler) == len(batches) == 7
    passes = [batch_indices(10, 4, torch_generator(1, 'batches', 2, 0, *p))
              for p in ((), (1,), (2,))]
    assert batches == [b.tolist() for p in passes for b in p][:7]
    # a pass longer than min_batches is left as it is
    assert len(PixelBatchSampler(10, 4, 1, 2, min_batches=2)) == 3
