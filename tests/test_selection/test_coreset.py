"""CoreSet (k-center greedy) against a plain k-center reference."""
import math

import pytest
import torch

from mmseg_al.registry import TASK_UTILS
from mmseg_al.selection.coreset import CoreSet
from mmseg_al.selection.kernels import SquaredEuclidean
from mmseg_al.utils import torch_generator
from .test_herding import clustered, memory_for_side


def plain_k_center(distances, budget, labelled_distances=None):
    """Farthest-point greedy recomputing every point's nearest centre at
    every step; ``distances`` [n, n] and ``labelled_distances`` [n, m]."""
    num_points = distances.shape[0]
    picks = []
    if labelled_distances is None or labelled_distances.shape[1] == 0:
        picks.append(int(torch.argmin(distances.amax(1))))
        labelled_distances = torch.full((num_points, 0), math.inf)
    while len(picks) < budget:
        centres = torch.cat([labelled_distances, distances[:, picks]], 1)
        nearest = centres.amin(1)
        nearest[picks] = -1
        picks.append(int(torch.argmax(nearest)))
    return picks


def reference_coreset(points, budget, labelled=None):
    distances = SquaredEuclidean()
    labelled_distances = (None if labelled is None else
                          distances(points, labelled))
    return plain_k_center(distances.matrix(points), budget,
                          labelled_distances)


@pytest.mark.parametrize('seed', range(10))
@pytest.mark.parametrize('with_labelled', [False, True])
def test_picks_equal_the_plain_k_center(seed, with_labelled):
    gen = torch_generator('sizes', seed)
    num_points = int(torch.randint(10, 150, (1, ), generator=gen))
    budget = int(torch.randint(1, num_points + 1, (1, ), generator=gen))
    points = clustered(seed, num_points, 5, duplicates=num_points // 4)
    labelled = clustered(seed + 50, 6, 5) if with_labelled else None
    result = CoreSet().select(points, budget, labelled)
    assert result.indices.tolist() == reference_coreset(
        points, budget, labelled)


def test_gains_are_distances_to_the_nearest_centre():
    points = clustered(20, 80, 3)
    labelled = clustered(21, 4, 3)
    result = CoreSet().select(points, 30, labelled)
    exact = torch.cdist(points.double(), labelled.double()).amin(1)
    for step, index in enumerate(result.indices.tolist()):
        assert float(result.gains[step]) == pytest.approx(
            float(exact[index]), rel=1e-4, abs=1e-3)
        exact = torch.minimum(
            exact, torch.cdist(points.double(), points[index, None].double())
            [:, 0])
    assert torch.all(result.gains.diff() <= 0)  # the radius only shrinks


def test_first_pick_without_centres_is_the_one_centre():
    points = torch.tensor([[0.], [10.], [4.], [6.], [5.], [5.]])
    result = CoreSet().select(points, 3)
    assert result.indices.tolist() == [4, 0, 1]
    assert result.gains[0] == math.inf
    assert result.gains[1:].tolist() == pytest.approx([5., 5.])


def test_agrees_with_float64_distances():
    points = clustered(22, 60, 4)
    distances = torch.cdist(points.double(), points.double())
    expected = plain_k_center(distances, 25)
    assert CoreSet().select(points, 25).indices.tolist() == expected


def test_parts_are_conditioned_on_earlier_picks():
    points = clustered(23, 60, 4)
    labelled = clustered(24, 3, 4)
    result = CoreSet(max_memory=memory_for_side(20)).select(
        points, 12, labelled, torch_generator(5))
    parts = torch.randperm(60, generator=torch_generator(5)).tensor_split(3)
    expected = []
    for part in parts:
        part = part.sort()[0]
        centres = torch.cat([labelled, points[expected]])
        expected += part[reference_coreset(points[part], 4,
                                           centres)].tolist()
    assert result.indices.tolist() == expected


def test_registered_and_errors():
    coreset = TASK_UTILS.build(dict(type='CoreSet'))
    points = clustered(25, 10, 2)
    assert sorted(coreset.select(points, 10).indices.tolist()) == list(
        range(10))
    with pytest.raises(ValueError, match=r'number of points \(10\), got 11'):
        coreset.select(points, 11)
    points[0, 0] = math.nan
    with pytest.raises(ValueError, match='NaN or inf'):
        coreset.select(points, 1)
