"""Stage 1 over a context: local picks per image, then global picks."""
from typing import List

import pytest
import torch

from mmseg_al.registry import TASK_UTILS
from mmseg_al.selection.herding import MaxHerding
from mmseg_al.selection.candidate_set import LocalGlobalCandidates
from .tensor_context import random_context


@TASK_UTILS.register_module(force=True)
class RecordingMaxHerding(MaxHerding):
    """MaxHerding that records every call, so tests can see what the pool
    asked for (the generator is recorded as a copy of its state)."""

    calls: List[dict] = []

    def select(self, points, budget, labelled=None, generator=None):
        copy = torch.Generator().set_state(generator.get_state())
        type(self).calls.append(
            dict(points=points, budget=budget, labelled=labelled,
                 generator=copy))
        return super().select(points, budget, labelled, generator)


def make_pool(**kwargs) -> LocalGlobalCandidates:
    RecordingMaxHerding.calls = []
    kwargs.setdefault('picker', dict(type='RecordingMaxHerding'))
    return LocalGlobalCandidates(**kwargs)


def as_pairs(selection) -> set:
    return set(zip(selection.image_index.tolist(), selection.pixels.tolist()))


def test_pool_holds_distinct_unlabelled_usable_pixels():
    context = random_context(num_images=5, side=6, labelled_fraction=0.3)
    context.usable[:, :6] = False  # first row of every image is unusable
    pool = make_pool(candidates_per_image=None, local_budget=4,
                     keep_ratio=0.5).build(context)
    pairs = as_pairs(pool)
    assert len(pairs) == len(pool) == round(0.5 * 5 * 4)
    for image, pixel in pairs:
        assert not context.labelled[image, pixel]
        assert context.usable[image, pixel]


def test_local_picks_are_conditioned_on_the_image_labelled_pixels():
    context = random_context(num_images=3, side=5, labelled_fraction=0.2)
    make_pool(candidates_per_image=None, local_budget=3).build(context)
    *local_calls, global_call = RecordingMaxHerding.calls
    assert len(local_calls) == 3
    for image, call in enumerate(local_calls):
        labelled = context.labelled_pixels(image)
        assert torch.equal(call['labelled'],
                           context.clean_features[image, labelled])
        candidates = context.candidate_pixels(image)
        assert torch.equal(call['points'],
                           context.clean_features[image, candidates])
        keyed = context.generator('local', context.image_ids[image])
        assert torch.equal(call['generator'].get_state(), keyed.get_state())
    all_labelled = context.clean_features[context.labelled]
    assert torch.equal(global_call['labelled'], all_labelled)
    assert global_call['points'].shape[0] == 9
    assert global_call['budget'] == round(0.5 * 9)
    assert torch.equal(global_call['generator'].get_state(),
                       context.generator('global').get_state())


def test_no_labelled_pixels_means_no_conditioning():
    context = random_context(num_images=2, side=4)
    make_pool(candidates_per_image=None, local_budget=2).build(context)
    assert all(call['labelled'] is None
               for call in RecordingMaxHerding.calls)


def test_images_with_few_candidates_give_all_of_them():
    context = random_context(num_images=3, side=4)
    context.usable[1] = False
    context.usable[1, [3, 7]] = True  # 2 candidates < local_budget
    context.usable[2] = False  # an empty image
    pool = make_pool(candidates_per_image=None, local_budget=5,
                     keep_ratio=1.0).build(context)
    pairs = as_pairs(pool)
    assert {(1, 3), (1, 7)} <= pairs
    assert not any(image == 2 for image, _ in pairs)
    assert len(pairs) == 5 + 2
    # the picker is only asked when it has a choice to make
    assert [call['budget'] for call in RecordingMaxHerding.calls] == [5]


@pytest.mark.parametrize('candidates, key_round', [('per_round', 1),
                                                   ('fixed', 0)])
def test_candidate_subset_is_seeded_by_image_id(candidates, key_round):
    context = random_context(num_images=3, side=8)
    assert context.round_idx == 1
    make_pool(candidates_per_image=10, local_budget=2,
              candidates=candidates).build(context)
    first = [call['points'] for call in RecordingMaxHerding.calls[:3]]
    for image, points in enumerate(first):
        generator = context.generator('candidates', context.image_ids[image],
                                      round_idx=key_round)
        keep = torch.randperm(64, generator=generator)[:10].sort().values
        assert torch.equal(points, context.clean_features[image, keep])


def test_pool_is_deterministic_and_seed_dependent():
    def pairs(seed):
        context = random_context(num_images=4, side=8, seed=seed)
        pool = make_pool(candidates_per_image=12, local_budget=3)
        return pool.build(context).pixels.tolist()

    assert pairs(0) == pairs(0)
    assert pairs(0) != pairs(1)


def test_explicit_size_and_min_size():
    context = random_context(num_images=4, side=5)
    pool = make_pool(candidates_per_image=None, local_budget=4)
    assert len(pool.build(context, size=3)) == 3
    assert len(pool.build(context, min_size=11)) == 11  # 0.5 * 16 < 11
    assert len(pool.build(context)) == 8


def test_global_picks_come_in_pick_order_with_gains():
    context = random_context(num_images=3, side=5, labelled_fraction=0.1)
    pool = make_pool(candidates_per_image=None, local_budget=4).build(
        context, size=5)
    global_call = RecordingMaxHerding.calls[-1]
    # the recorded points are the local picks; re-pick to get the order
    result = MaxHerding().select(global_call['points'], 5,
                                 global_call['labelled'],
                                 global_call['generator'])
    expected = global_call['points'][result.indices]
    got = torch.stack([
        context.clean_features[image, pixel]
        for image, pixel in zip(pool.image_index, pool.pixels)
    ])
    assert torch.equal(got, expected)
    assert torch.allclose(pool.scores, result.gains.float())


def test_size_above_the_union_warns_and_takes_all():
    context = random_context(num_images=2, side=4)
    with pytest.warns(UserWarning, match='hold only 4; taking all'):
        pool = make_pool(candidates_per_image=None,
                         local_budget=2).build(context, size=10)
    assert len(as_pairs(pool)) == 4
    assert torch.isnan(pool.scores).all()


def test_exhausted_pool_warns_and_is_empty():
    context = random_context(num_images=2, side=3, labelled_fraction=1.0)
    with pytest.warns(UserWarning, match='pool is empty'):
        pool = make_pool().build(context, size=3)
    assert len(pool) == 0


def test_feature_requests_are_batched_over_images():
    context = random_context(num_images=7, side=4, images_per_request=3)
    make_pool(candidates_per_image=None, local_budget=2).build(context)
    assert [list(request) for request in context.feature_requests] == [
        [0, 1, 2], [3, 4, 5], [6]]


@pytest.mark.parametrize('kwargs, message', [
    (dict(candidates_per_image=0), 'candidates_per_image must be >= 1'),
    (dict(local_budget=0), 'local_budget must be >= 1'),
    (dict(keep_ratio=1.5), r'keep_ratio must be in \(0, 1\]'),
])
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_pool(**kwargs)
