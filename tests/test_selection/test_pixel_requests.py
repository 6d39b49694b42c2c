"""Pixel requests: seeded candidate subsets, blocks of images per process,
grouping."""
import pytest
import torch

from mmseg_al.selection.pixel_requests import (group_by_image,
                                               sample_candidates)
from .tensor_context import ProcessView, random_context


def test_sample_candidates_keeps_all_when_under_the_limit():
    context = random_context(num_images=2, side=3, labelled_fraction=0.3)
    assert torch.equal(sample_candidates(context, 1, None),
                       context.candidate_pixels(1))
    assert torch.equal(sample_candidates(context, 1, 100),
                       context.candidate_pixels(1))


def test_sample_candidates_is_a_sorted_seeded_subset_keyed_by_image_id():
    context = random_context(num_images=2, side=6)
    subset = sample_candidates(context, 0, 7)
    assert subset.numel() == 7 == subset.unique().numel()
    assert torch.equal(subset, subset.sort().values)
    assert set(subset.tolist()) <= set(context.candidate_pixels(0).tolist())
    renamed = random_context(num_images=2, side=6)
    renamed.image_ids = ['img1', 'img0']  # same id, other position
    assert torch.equal(sample_candidates(renamed, 1, 7), subset)
    assert not torch.equal(sample_candidates(context, 1, 7), subset)


ITEMS = [(0, torch.arange(3)), (1, torch.arange(0)), (2, torch.arange(4)),
         (3, torch.arange(9)), (4, torch.arange(1)), (7, torch.arange(2))]


def test_requests_are_blocks_of_images_skipping_empty_ones():
    context = random_context(num_images=8, side=3, images_per_request=3)
    requests = list(context.requests(iter(ITEMS)))
    assert [list(request) for request in requests] == [[0, 2], [3, 4], [7]]
    assert torch.equal(requests[1][3], torch.arange(9))


def test_processes_get_whole_blocks_in_turn():
    context = random_context(num_images=8, side=3, images_per_request=2)
    shares = [[list(request) for request in
               ProcessView(context, rank, 2).requests(iter(ITEMS))]
              for rank in range(2)]
    assert shares == [[[0], [4]], [[2, 3], [7]]]
    assert [image for image in range(8)
            if ProcessView(context, 1, 2).owns(image)] == [2, 3, 6, 7]


def test_group_by_image_sorts_images_and_pixels():
    image_index = torch.tensor([2, 0, 2, 0, 5])
    pixels = torch.tensor([9, 4, 1, 3, 0])
    groups = group_by_image(image_index, pixels)
    assert list(groups) == [0, 2, 5]
    assert [groups[i].tolist() for i in groups] == [[3, 4], [1, 9], [0]]


def test_fixed_candidates_are_the_round0_subset_minus_labelled_pixels():
    round0 = random_context(num_images=2, side=6, round_idx=0)
    first = sample_candidates(round0, 1, 12, 'fixed')
    assert torch.equal(first, sample_candidates(round0, 1, 12, 'per_round'))
    # round 3: four of the round-0 candidates and two other pixels labelled
    labelled = round0.labelled.clone()
    outside = [p for p in range(36) if p not in first.tolist()][:2]
    labelled[1, first[:4]] = True
    labelled[1, outside] = True
    later = random_context(num_images=2, side=6, round_idx=3)
    later.labelled = labelled
    assert torch.equal(sample_candidates(later, 1, 12, 'fixed'), first[4:])
    redrawn = sample_candidates(later, 1, 12, 'per_round')
    assert redrawn.numel() == 12
    assert not set(redrawn.tolist()) <= set(first.tolist())
    labelled_pixels = labelled[1].nonzero().flatten().tolist()
    assert not set(redrawn.tolist()) & set(labelled_pixels)


def test_per_round_candidates_are_redrawn_every_round():
    subsets = [
        sample_candidates(random_context(num_images=1, side=6, round_idx=r),
                          0, 12, mode) for r in (1, 2)
        for mode in ('per_round', 'fixed')
    ]
    assert not torch.equal(subsets[0], subsets[2])
    assert torch.equal(subsets[1], subsets[3])


def test_bad_candidate_mode_is_rejected():
    context = random_context(num_images=1, side=3)
    with pytest.raises(ValueError, match="candidates must be one of "
                       r"\('fixed', 'per_round'\), got 'once'"):
        sample_candidates(context, 0, 4, 'once')
