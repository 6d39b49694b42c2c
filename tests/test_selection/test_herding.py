"""MaxHerding and its kernels against the plain dense greedy and formulas."""
import logging
import math

import numpy as np
import pytest
import torch

from mmseg_al.registry import TASK_UTILS
from mmseg_al.selection import compiled_herding
from mmseg_al.selection import herding as herding_module
from mmseg_al.selection.herding import (WORKSPACE_BYTES, MaxHerding,
                                        PickResult, largest_remainder)
from mmseg_al.selection.kernels import (KERNEL_RESOLUTION, GaussianKernel,
                                        SquaredEuclidean,
                                        median_distance_sigma, parse_memory)
from mmseg_al.utils import torch_generator
from .reference_herding import dense_max_herding, reference_max_herding


def clustered(seed, num_points, dim, clusters=4, duplicates=0):
    """Gaussian-mixture points; the last ``duplicates`` rows copy the
    first ones exactly."""
    gen = torch_generator('points', seed)
    centers = 3 * torch.randn(clusters, dim, generator=gen)
    assign = torch.randint(0, clusters, (num_points, ), generator=gen)
    points = centers[assign] + torch.randn(num_points, dim, generator=gen)
    if duplicates:
        points[-duplicates:] = points[:duplicates]
    return points


def auto_sigma(points, seed):
    return median_distance_sigma(points, generator=torch_generator(seed))


def memory_for_side(side, itemsize=4):
    """A ``max_memory`` whose largest storable matrix has ``side`` rows."""
    return WORKSPACE_BYTES + itemsize * side * side


# ----------------------------------------------------------------- kernels


def test_kernel_values_match_formula_and_grid():
    points = clustered(0, 50, 6)
    sigma = 4.0
    kernel = GaussianKernel(sigma).matrix(points)
    sq = torch.cdist(points.double(), points.double())**2
    assert torch.allclose(kernel.double(), torch.exp(-sq / sigma**2),
                          atol=1e-6)
    scaled = kernel.double() / KERNEL_RESOLUTION
    assert torch.equal(scaled, scaled.round())
    distances = SquaredEuclidean().matrix(points)
    assert torch.allclose(distances.double(), sq, atol=1e-4)


@pytest.mark.parametrize('function', [GaussianKernel(5.0), SquaredEuclidean()])
def test_pairwise_values_do_not_depend_on_blocking(function):
    """A subset's matrix is the sub-block of the full one, bit for bit, and
    ``nearest`` is the row reduction of the dense cross values."""
    function.tile = 64  # several tiles, with a partial last one
    points = clustered(1, 300, 20)
    full = function.matrix(points)
    assert torch.equal(full, full.T)
    subset = torch.randperm(300, generator=torch_generator(1))[:130].sort()[0]
    assert torch.equal(function.matrix(points[subset]), full[subset][:,
                                                                     subset])
    others = clustered(2, 70, 20)
    cross = function(points, others)
    reduce = torch.amax if function.nearest_is_max else torch.amin
    assert torch.equal(function.nearest(points, others), reduce(cross, 1))
    assert torch.equal(function(points[subset], others), cross[subset])
    strided = points.T.contiguous().T  # same values, not contiguous
    assert torch.equal(function.matrix(strided), full)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_storage_stays_on_the_exact_grid(dtype):
    kernel = GaussianKernel(3.0).matrix(clustered(3, 80, 5), dtype=dtype)
    assert kernel.dtype == dtype
    scaled = kernel.double() / KERNEL_RESOLUTION
    assert torch.equal(scaled, scaled.round())


def test_auto_sigma_is_twice_the_lower_median_of_the_subsample():
    points = torch.tensor([[0., 0.], [3., 4.], [6., 8.], [0., 1.]])
    # all 4 points (fewer than 10): distances 1, 4.24, 5, 5, 9.22, 10
    pair_distances = sorted(
        math.dist(points[i].tolist(), points[j].tolist())
        for i in range(4) for j in range(i + 1, 4))
    expected = 2 * pair_distances[(len(pair_distances) - 1) // 2]
    sigma = median_distance_sigma(points, generator=torch_generator(0))
    assert sigma == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(10.0)


def test_auto_sigma_subsample_is_seeded():
    points = clustered(4, 2500, 3)
    sigma = median_distance_sigma(points, generator=torch_generator(7))
    # 1 % of 2500 = 25 points, drawn by the first randperm of the generator
    subset = torch.randperm(2500, generator=torch_generator(7))[:25]
    sample = points[subset].double().numpy()
    distances = [np.linalg.norm(sample[i] - sample[j])
                 for i in range(25) for j in range(i + 1, 25)]
    assert sigma == pytest.approx(2 * np.sort(distances)[149], rel=1e-12)
    assert median_distance_sigma(
        points, generator=torch_generator(7)) == sigma
    assert median_distance_sigma(
        points, generator=torch_generator(8)) != sigma


def test_auto_sigma_with_coinciding_points():
    points = torch.zeros(10, 3)
    assert median_distance_sigma(points) == 1.0
    points[:2] = torch.tensor([[3., 4., 0.], [6., 8., 0.]])
    # 28 of the 45 pairs coincide; positive distances: nine 5s, eight 10s
    assert median_distance_sigma(points) == pytest.approx(10.0)


def test_parse_memory():
    assert parse_memory('4GB') == 4 * 2**30
    assert parse_memory('512MB') == 512 * 2**20
    assert parse_memory('1.5 kb') == 1536
    assert parse_memory(1000) == 1000
    with pytest.raises(ValueError, match="'lots' is not a size"):
        parse_memory('lots')
    with pytest.raises(ValueError, match='positive'):
        parse_memory(0)


# ---------------------------------------------------------- exact greedy


@pytest.fixture(params=['compiled', 'portable'])
def greedy_loop(request, monkeypatch):
    """Run a test with each greedy loop: the compiled one (CPU float32) and
    the torch one (used for CUDA and half kernels, forced here)."""
    if request.param == 'portable':
        monkeypatch.setattr(compiled_herding, 'supports', lambda kernel: False)
    return request.param


@pytest.mark.parametrize('seed', range(16))
@pytest.mark.parametrize('with_labelled', [False, True])
def test_picks_equal_the_dense_greedy(seed, with_labelled, greedy_loop):
    gen = torch_generator('sizes', seed)
    num_points = int(torch.randint(20, 160, (1, ), generator=gen))
    dim = int(torch.randint(2, 12, (1, ), generator=gen))
    budget = int(torch.randint(1, num_points + 1, (1, ), generator=gen))
    points = clustered(seed, num_points, dim, duplicates=num_points // 5)
    labelled = (clustered(seed + 100, 7, dim) if with_labelled else None)
    herding = MaxHerding(eval_batch=1 + seed % 5)
    result = herding.select(points, budget, labelled, torch_generator(seed))
    picks, gains = reference_max_herding(points, budget,
                                         auto_sigma(points, seed), labelled)
    assert result.indices.tolist() == picks
    assert result.gains.tolist() == gains


def test_exact_ties_go_to_the_lowest_index(greedy_loop):
    # 1 and 2 are mirror images: exactly equal mean kernels
    points = torch.tensor([[0.], [1.], [3.], [4.], [1.], [3.]])
    result = MaxHerding(sigma=2.0).select(points, 6)
    assert result.indices[0] == 1
    assert sorted(result.indices.tolist()) == list(range(6))
    # once everything is covered the rest follows index order
    assert result.gains[-1] == 0


def test_first_pick_has_the_highest_mean_kernel():
    points = clustered(5, 90, 4)
    sigma = 3.0
    sq = torch.cdist(points.double(), points.double())**2
    mean_kernel = torch.exp(-sq / sigma**2).mean(0)
    result = MaxHerding(sigma=sigma).select(points, 3)
    assert result.indices[0] == int(torch.argmax(mean_kernel))
    assert float(result.gains[0]) == pytest.approx(float(mean_kernel.max()),
                                                   abs=1e-6)


def test_coverage_grows_by_the_gains():
    points = clustered(6, 120, 5)
    labelled = clustered(7, 5, 5)
    sigma = 3.0
    result = MaxHerding(sigma=sigma).select(points, 40, labelled)
    dist = torch.cdist(points.double(),
                       torch.cat([labelled, points]).double())
    kernel = torch.exp(-dist**2 / sigma**2)
    coverage = [kernel[:, :5].amax(1).mean()]
    for count in range(1, 41):
        chosen = torch.cat([torch.arange(5), 5 + result.indices[:count]])
        coverage.append(kernel[:, chosen].amax(1).mean())
    increments = torch.tensor(coverage).diff()
    assert torch.all(increments >= 0)
    assert torch.all(result.gains.diff() <= 0)  # submodular: gains shrink
    assert torch.allclose(increments, result.gains, atol=1e-5)


def test_labelled_points_are_coverage_not_candidates():
    points = clustered(8, 60, 3)
    # labelled copies of the 10 most central points: those are covered
    sigma = 3.0
    result = MaxHerding(sigma=sigma).select(points, 10)
    conditioned = MaxHerding(sigma=sigma).select(points, 10,
                                                 points[result.indices])
    assert not set(result.indices.tolist()) & set(
        conditioned.indices.tolist())


@pytest.mark.parametrize('dtype', [torch.float64, torch.float16])
def test_any_float_input_dtype(dtype):
    points = clustered(9, 70, 4).to(dtype)
    same = points.float()
    assert torch.equal(
        MaxHerding(sigma=3.0).select(points, 20).indices,
        MaxHerding(sigma=3.0).select(same, 20).indices)


@pytest.mark.parametrize('kernel_dtype', ['float16', 'bfloat16'])
def test_half_kernel_is_exact_greedy_on_its_own_kernel(kernel_dtype):
    points = clustered(10, 100, 6)
    labelled = clustered(11, 4, 6)
    dtype = getattr(torch, kernel_dtype)
    kernel = GaussianKernel(3.0)
    coverage = kernel.nearest(points, labelled).to(dtype).float()
    picks, gains = dense_max_herding(kernel.matrix(points, dtype), 50,
                                     coverage)
    result = MaxHerding(sigma=3.0, kernel_dtype=kernel_dtype).select(
        points, 50, labelled)
    assert result.indices.tolist() == picks
    assert result.gains.tolist() == gains


def test_registered_and_result_type():
    herding = TASK_UTILS.build(dict(type='MaxHerding', sigma=2.0))
    result = herding.select(clustered(12, 30, 3), 5)
    assert isinstance(result, PickResult) and len(result) == 5
    assert result.indices.dtype == torch.int64
    assert result.gains.dtype == torch.float64


# --------------------------------------------------------- split-and-herd


def test_largest_remainder():
    assert largest_remainder(10, [1, 1, 1]) == [4, 3, 3]
    assert largest_remainder(7, [5, 3, 2]) == [4, 2, 1]
    assert largest_remainder(0, [4, 4]) == [0, 0]
    gen = torch_generator('shares')
    for _ in range(50):
        sizes = torch.randint(1, 40, (5, ), generator=gen).tolist()
        total = int(torch.randint(0, sum(sizes) + 1, (1, ), generator=gen))
        shares = largest_remainder(total, sizes)
        assert sum(shares) == total
        assert all(abs(share - total * size / sum(sizes)) < 1
                   for share, size in zip(shares, sizes))


def test_number_of_parts_follows_max_memory():
    assert MaxHerding(max_memory=memory_for_side(30)).num_parts(30) == 1
    assert MaxHerding(max_memory=memory_for_side(30)).num_parts(31) == 2
    assert MaxHerding(max_memory=memory_for_side(30)).num_parts(90) == 3
    assert MaxHerding(max_memory=memory_for_side(30, 2),
                      kernel_dtype='float16').num_parts(90) == 3
    with pytest.raises(ValueError, match='leaves no room'):
        MaxHerding(max_memory='1MB')


def test_one_part_is_the_unsplit_greedy():
    points = clustered(13, 90, 4)
    labelled = clustered(14, 6, 4)
    result = MaxHerding(max_memory=memory_for_side(90)).select(
        points, 30, labelled, torch_generator(3))
    picks, gains = reference_max_herding(points, 30, auto_sigma(points, 3),
                                         labelled)
    assert result.indices.tolist() == picks
    assert result.gains.tolist() == gains


@pytest.mark.parametrize('with_labelled', [False, True])
def test_parts_are_conditioned_on_earlier_picks(with_labelled):
    points = clustered(15, 90, 4, duplicates=10)
    labelled = clustered(16, 6, 4) if with_labelled else None
    result = MaxHerding(max_memory=memory_for_side(30)).select(
        points, 20, labelled, torch_generator(4))
    # reference: sigma on all points, then the partition, from one generator
    gen = torch_generator(4)
    sigma = median_distance_sigma(points, generator=gen)
    parts = torch.randperm(90, generator=gen).tensor_split(3)
    expected, expected_gains = [], []
    for part, share in zip(parts, [7, 7, 6]):
        part = part.sort()[0]
        conditions = [points[expected]] + ([labelled] if with_labelled
                                           else [])
        picks, gains = reference_max_herding(points[part], share, sigma,
                                             torch.cat(conditions))
        expected += part[picks].tolist()
        expected_gains += gains
    assert result.indices.tolist() == expected
    assert result.gains.tolist() == expected_gains


# ------------------------------------------------------------ edge cases


def test_budget_edge_cases():
    points = clustered(17, 10, 3)
    with pytest.raises(ValueError, match=r'number of points \(10\), got 11'):
        MaxHerding().select(points, 11)
    with pytest.raises(ValueError, match=r'got -1'):
        MaxHerding().select(points, -1)
    with pytest.raises(TypeError, match='budget must be an int, got 2.0'):
        MaxHerding().select(points, 2.0)
    assert len(MaxHerding().select(points, np.int64(2))) == 2
    everything = MaxHerding().select(points, 10)
    assert sorted(everything.indices.tolist()) == list(range(10))
    empty = MaxHerding().select(torch.zeros(0, 3), 0)
    assert empty.indices.shape == (0, ) and empty.gains.shape == (0, )
    assert len(MaxHerding().select(points, 0)) == 0


def test_bad_inputs_are_refused():
    points = clustered(18, 10, 3)
    bad = points.clone()
    bad[3, 1] = float('nan')
    with pytest.raises(ValueError, match='points contain NaN or inf'):
        MaxHerding().select(bad, 2)
    with pytest.raises(ValueError, match='labelled contains NaN or inf'):
        MaxHerding().select(points, 2, labelled=torch.full((1, 3), math.inf))
    with pytest.raises(ValueError, match=r'labelled must be \[m, 3\]'):
        MaxHerding().select(points, 2, labelled=torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r'points must be \[n, d\]'):
        MaxHerding().select(points[0], 1)
    with pytest.raises(ValueError, match="kernel_dtype='int8'"):
        MaxHerding(kernel_dtype='int8')
    with pytest.raises(ValueError, match="sigma must be 'auto'"):
        MaxHerding(sigma='median')
    with pytest.raises(ValueError, match="sigma must be 'auto'"):
        MaxHerding(sigma=0.0)


def test_auto_memory_is_most_of_the_available_memory_up_to_the_cap(
        monkeypatch):
    available = {'cpu': 8 * 2**30}
    monkeypatch.setattr(herding_module, 'available_memory',
                        lambda device: available['cpu'])
    herding = MaxHerding(memory_cap='4GB')
    assert herding.memory_budget() == 4 * 2**30  # the cap
    available['cpu'] = 2 * 2**30
    assert herding.memory_budget() == int(0.75 * 2 * 2**30)
    available['cpu'] = None  # not reported: the cap
    assert herding.memory_budget() == 4 * 2**30
    # an explicit budget ignores what is available
    assert MaxHerding(max_memory='1GB').memory_budget() == 2**30


def test_auto_memory_solves_exactly_what_fits(monkeypatch):
    # room for a 90 x 90 kernel at 75 %: 90 points are one part, 91 two
    side_bytes = memory_for_side(90)
    monkeypatch.setattr(herding_module, 'available_memory',
                        lambda device: math.ceil(side_bytes / 0.75))
    assert MaxHerding().num_parts(90) == 1
    assert MaxHerding().num_parts(91) == 2
    assert MaxHerding(memory_cap=memory_for_side(30)).num_parts(90) == 3


def test_split_pools_log_parts_and_expected_agreement(monkeypatch):
    messages = []
    monkeypatch.setattr(herding_module, 'print_log',
                        lambda message, **kwargs: messages.append(
                            (message, kwargs.get('level'))))
    points = clustered(15, 90, 4)
    MaxHerding(max_memory=memory_for_side(30)).select(points, 6)
    MaxHerding(max_memory=memory_for_side(90)).select(points, 6)
    split, whole = messages
    assert split[0].startswith('MaxHerding: 90 points in 3 part(s)')
    assert 'MaxHerding: 98.1 % agreed with 2 parts' in split[0]
    assert split[1] is None  # INFO
    assert whole[0].endswith('exact greedy picks')
    assert whole[1] == logging.DEBUG


def test_bad_memory_cap_is_named():
    with pytest.raises(ValueError, match="memory_cap='lots' is not a size"):
        MaxHerding(memory_cap='lots')
    with pytest.raises(ValueError, match="memory_cap='1MB' leaves no room"):
        MaxHerding(memory_cap='1MB')
