"""Exact coverage gain sums, and the two lazy greedy loops that use them."""
import subprocess
import sys

import pytest
import torch

from mmseg_al.selection import compiled_herding
from mmseg_al.selection.coverage import CoverageGains
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
@pytest.mark.parametrize('count', [1, 5, 64])
def test_gain_sums_equal_the_formula(dtype, count):
    kernel, coverage = kernel_and_coverage(dtype)
    indices = torch.randperm(300, generator=torch_generator(count))[:count]
    gains = CoverageGains(kernel, coverage.clone(), max_rows=64)
    assert gains.gain_sums(indices.tolist()) == formula(
        kernel, coverage, indices)


def test_buffers_serve_calls_of_any_size():
    kernel, coverage = kernel_and_coverage(torch.float32)
    gains = CoverageGains(kernel, coverage.clone(), max_rows=16)
    for indices in ([5, 9, 200, 7] * 4, [3], [], list(range(100, 111))):
        assert gains.gain_sums(indices) == (
            formula(kernel, coverage, indices) if indices else [])
    with pytest.raises(ValueError, match='17 rows .* max_rows=16'):
        gains.gain_sums(list(range(17)))


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


@pytest.mark.parametrize('with_labelled', [False, True])
def test_compiled_and_portable_loops_equal_the_dense_greedy(with_labelled):
    """Both loops, with batches large enough for the first steps of the
    portable one to need many rows."""
    points = clustered(3, 400, 6)
    labelled = clustered(4, 9, 6) if with_labelled else None
    kernel = GaussianKernel(3.0)
    matrix = kernel.matrix(points)
    start = (torch.zeros(400) if labelled is None else
             kernel.nearest(points, labelled))
    picks, gains = reference_max_herding(points, 120, 3.0, labelled)
    assert compiled_herding.supports(matrix)
    compiled = compiled_herding.lazy_greedy(matrix, start.clone(), 120)
    portable = MaxHerding(eval_batch=64).portable_greedy(
        matrix, start.clone(), 120)
    for indices, values in (compiled, portable):
        assert indices.tolist() == picks
        assert values.tolist() == gains


def test_herding_uses_the_compiled_loop_for_cpu_float32(monkeypatch):
    calls = []

    def spy(*args):
        calls.append(args[0].dtype)
        return compiled_lazy_greedy(*args)

    compiled_lazy_greedy = compiled_herding.lazy_greedy
    monkeypatch.setattr(compiled_herding, 'lazy_greedy', spy)
    points = clustered(5, 50, 4)
    MaxHerding(sigma=3.0).select(points, 5)
    MaxHerding(sigma=3.0, kernel_dtype='float16').select(points, 5)
    assert calls == [torch.float32]


def test_empty_budget_gives_empty_picks():
    kernel, coverage = kernel_and_coverage(torch.float32, num_points=20)
    for indices, gains in (
            compiled_herding.lazy_greedy(kernel, coverage.clone(), 0),
            MaxHerding().portable_greedy(kernel, coverage.clone(), 0)):
        assert indices.dtype == torch.long and indices.numel() == 0
        assert gains.dtype == torch.float64 and gains.numel() == 0


def test_compiled_loop_only_for_cpu_float32():
    kernel = torch.zeros(3, 3)
    assert compiled_herding.supports(kernel)
    assert not compiled_herding.supports(kernel.half())
    assert not compiled_herding.supports(kernel.bfloat16())


def test_compiled_loop_works_without_a_writable_cache():
    """Read-only installs compile in every process instead of failing."""
    code = '\n'.join([
        'import numba.core.caching as caching',
        'caching.CacheImpl._locator_classes = []  # nowhere to cache',
        'import torch',
        'from mmseg_al.selection import compiled_herding',
        'kernel = torch.tensor([[1.0, 0.5], [0.5, 1.0]])',
        'picks, _ = compiled_herding.lazy_greedy(kernel, torch.zeros(2), 2)',
        'print(picks.tolist())',
    ])
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == '[0, 1]'
