"""Exact coverage gain sums, whichever library computes them."""
import pytest
import torch

from mmseg_al.selection import coverage as coverage_module
from mmseg_al.selection.coverage import NUMPY_ROWS, CoverageGains
from mmseg_al.selection.herding import MaxHerding
from mmseg_al.selection.kernels import GaussianKernel
from mmseg_al.utils import torch_generator
from .reference_herding import reference_max_herding
from .test_herding import clustered


def kernel_and_coverage(dtype, num_points=300):
    points = clustered(0, num_points, 5)
    kernel = GaussianKernel(3.0).matrix(points, dtype)
    # a coverage on the same grid, as after a few picks
    coverage = kernel[:3].float().amax(0)
    return kernel, coverage


def formula(kernel, coverage, indices):
    """sum_x max(k(x, j), c_x) - sum_x c_x in float64 (exact on the grid)."""
    rows = kernel[indices].double()
    return (torch.maximum(rows, coverage.double()).sum(1) -
            coverage.double().sum()).tolist()


@pytest.mark.parametrize('dtype',
                         [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize('count', [1, NUMPY_ROWS, NUMPY_ROWS + 1, 64])
def test_gain_sums_equal_the_formula(dtype, count):
    kernel, coverage = kernel_and_coverage(dtype)
    indices = torch.randperm(300, generator=torch_generator(count))[:count]
    gains = CoverageGains(kernel, coverage.clone(), max_rows=64)
    assert gains.gain_sums(indices.tolist()) == formula(
        kernel, coverage, indices)


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_all_gain_sums_cover_every_row(dtype):
    kernel, coverage = kernel_and_coverage(dtype)
    gains = CoverageGains(kernel, coverage.clone(), max_rows=7)
    assert gains.all_gain_sums() == formula(kernel, coverage,
                                            torch.arange(300))


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_cover_raises_the_coverage_in_place(dtype):
    kernel, start = kernel_and_coverage(dtype)
    coverage = start.clone()
    gains = CoverageGains(kernel, coverage, max_rows=8)
    gains.cover(42)
    expected = torch.maximum(start, kernel[42].float())
    assert torch.equal(coverage, expected)
    assert gains.covered == expected.double().sum().item()
    assert gains.gain_sums([42]) == [0.0]  # a pick gains nothing twice
    assert gains.gain_sums([7]) == formula(kernel, expected, [7])


@pytest.mark.parametrize('numpy_rows', [0, 64])
@pytest.mark.parametrize('with_labelled', [False, True])
def test_picks_do_not_depend_on_the_library(monkeypatch, numpy_rows,
                                            with_labelled):
    """All numpy, all torch and the mix give the dense greedy's picks, with
    batches large enough for the first steps to need many rows."""
    monkeypatch.setattr(coverage_module, 'NUMPY_ROWS', numpy_rows)
    points = clustered(3, 400, 6)
    labelled = clustered(4, 9, 6) if with_labelled else None
    picks, gains = reference_max_herding(points, 120, 3.0, labelled)
    result = MaxHerding(sigma=3.0, eval_batch=64).select(
        points, 120, labelled)
    assert result.indices.tolist() == picks
    assert result.gains.tolist() == gains
