"""MaxHerding against the plain dense greedy: time, memory, identical picks.

Prints one JSON line per case::

    {"case", "n", "d", "budget", "identical", "time_s", "ref_time_s",
     "speedup", "peak_rss_mb", ...}

The reference (tests/test_selection/reference_herding.py) recomputes every
gain at every step, so its cost per pick is constant: it runs its first
``ref_picks`` picks, each timed, and its time is the median pick time
times the budget, plus the kernel (``kernel_s``). ``identical`` says
whether our first ``ref_picks`` picks, in order, equal the reference's.
``time_s`` is our median over ``repeats`` whole selections (bandwidth,
kernel, greedy); ``first_time_s`` is the first one, which also pays
one-off costs such as thread-pool start-up and loading (or compiling) the
numba greedy. Our selections and the reference's picks take turns and the
figures are medians, so a shared machine whose speed drifts during the run
affects both alike. Both pay for the kernel, which bounds the total
``speedup``; ``greedy_speedup`` is the ratio of the greedy phases alone
(ours timed on the reference's kernel, in the same rounds). Data are a
seeded Gaussian mixture, L2-normalised like the diffusion features.

Cases:
    n4000            n=4000, d=512, b=2000 (``--quick`` runs only this one).
    n4000_float16    the same with a float16 / bfloat16 kernel: overlap of
    n4000_bfloat16   the picks with the float32 ones.
    ade_bed_global   the ADE-Bed global pool, n=48,200, d=6144, b=24,100,
                     unsplit (the n^2 kernel, built once, serves both the
                     lazy greedy and the reference's first picks).
    ade_bed_split    the same pool with max_memory='4GB' (split-and-herd,
                     2 parts), end to end: overlap with unsplit.

Each case runs in its own process, so ``peak_rss_mb`` (measured right after
our first selection, before the reference runs) is per case.

Usage::

    python benchmarks/bench_herding.py --quick
    nice python benchmarks/bench_herding.py --cases ade_bed_global
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / 'tests')]

from mmseg_al.selection.herding import MaxHerding  # noqa: E402
from mmseg_al.selection.kernels import (GaussianKernel,  # noqa: E402
                                        median_distance_sigma)
from mmseg_al.utils import torch_generator  # noqa: E402
from test_selection.reference_herding import dense_herding_steps  # noqa: E402

CASES: Dict[str, dict] = {
    'n4000': dict(n=4000, d=512, budget=2000, clusters=64, ref_picks=200,
                  repeats=5),
    'n4000_float16': dict(n=4000, d=512, budget=2000, clusters=64,
                          kernel_dtype='float16', compare_to='n4000',
                          repeats=5),
    'n4000_bfloat16': dict(n=4000, d=512, budget=2000, clusters=64,
                           kernel_dtype='bfloat16', compare_to='n4000',
                           repeats=5),
    'ade_bed_global': dict(n=48200, d=6144, budget=24100, clusters=300,
                           ref_picks=100, shared_kernel=True),
    'ade_bed_split': dict(n=48200, d=6144, budget=24100, clusters=300,
                          max_memory='4GB', compare_to='ade_bed_global'),
}
QUICK = ['n4000']


def mixture(num_points: int, dim: int, clusters: int, seed: int
            ) -> torch.Tensor:
    """L2-normalised Gaussian mixture with clusters of different spread,
    generated in chunks to keep the peak near the output size."""
    gen = torch_generator('bench_herding', seed)
    centers = torch.randn(clusters, dim, generator=gen)
    spread = 0.5 + torch.rand(clusters, generator=gen)
    assign = torch.randint(0, clusters, (num_points, ), generator=gen)
    points = torch.empty(num_points, dim)
    for chunk in torch.arange(num_points).split(4096):
        noise = torch.randn(chunk.numel(), dim, generator=gen)
        points[chunk] = centers[assign[chunk]] + spread[assign[chunk],
                                                        None] * noise
    return torch.nn.functional.normalize(points, dim=1)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_kernel(points: torch.Tensor, seed: int):
    """The float32 kernel with the 'auto' bandwidth, and its build time."""
    start = time.perf_counter()
    sigma = median_distance_sigma(points,
                                  generator=torch_generator(seed, 'herding'))
    kernel = GaussianKernel(sigma).matrix(points)
    return kernel, time.perf_counter() - start


def timed_greedy(herding: MaxHerding, kernel: torch.Tensor, budget: int):
    """Our greedy phase alone on a built kernel: picks and seconds."""
    start = time.perf_counter()
    picks = herding.greedy(kernel, budget, None)[0]
    return picks, time.perf_counter() - start


def run_case(name: str, spec: dict, seed: int, out_dir: Path) -> dict:
    """Measure one case (in a child process); save the picks.

    Our selection and the reference's picks take turns (``repeats``
    rounds), so a change in the machine's speed affects both alike.
    """
    points = mixture(spec['n'], spec['d'], spec['clusters'], seed)
    budget, ref_picks = spec['budget'], spec.get('ref_picks', 0)
    repeats = spec.get('repeats', 1)
    herding = MaxHerding(kernel_dtype=spec.get('kernel_dtype', 'float32'),
                         max_memory=spec.get('max_memory', 'auto'))
    record = dict(threads=torch.get_num_threads(),
                  load_avg=os.getloadavg()[0], repeats=repeats,
                  parts=(1 if spec.get('shared_kernel') else
                         herding.num_parts(spec['n'])))
    times, kernel_times, greedy_times, pick_times, reference = (
        [], [], [], [], [])
    steps = None
    for round_ in range(repeats):
        start = time.perf_counter()
        if spec.get('shared_kernel'):
            kernel, kernel_s = build_kernel(points, seed)
            picks, greedy_s = timed_greedy(herding, kernel, budget)
        else:
            picks = herding.select(
                points, budget,
                generator=torch_generator(seed, 'herding')).indices
        times.append(time.perf_counter() - start)
        if round_ == 0:
            record['peak_rss_mb'] = peak_rss_mb()
        if not ref_picks:
            continue
        if not spec.get('shared_kernel'):
            kernel, kernel_s = build_kernel(points, seed)
            greedy_s = timed_greedy(herding, kernel, budget)[1]
        kernel_times.append(kernel_s)
        greedy_times.append(greedy_s)
        if steps is None:
            steps = dense_herding_steps(kernel)
        for _ in range(len(reference), ref_picks * (round_ + 1) // repeats):
            start = time.perf_counter()
            reference.append(next(steps)[0])
            pick_times.append(time.perf_counter() - start)
    time_s = statistics.median(times)
    record.update(time_s=time_s, first_time_s=round(times[0], 2))
    torch.save(picks, out_dir / f'{name}.pt')
    if ref_picks:
        kernel_s = statistics.median(kernel_times)
        ref_greedy_s = statistics.median(pick_times) * budget
        record.update(
            ref_picks=ref_picks,
            ref_time_s=kernel_s + ref_greedy_s,
            ref_pick_ms=[round(1e3 * min(pick_times), 1),
                         round(1e3 * max(pick_times), 1)],
            kernel_s=round(kernel_s, 2),
            greedy_speedup=round(
                ref_greedy_s / statistics.median(greedy_times), 1),
            ref_kernel_mb=round(spec['n']**2 * 4 / 2**20),
            identical=picks[:ref_picks].tolist() == reference)
    return record


def overlap(ours: torch.Tensor, other: torch.Tensor) -> float:
    common = set(ours.tolist()) & set(other.tolist())
    return len(common) / max(1, ours.numel())


def report(name: str, spec: dict, record: dict, out_dir: Path) -> dict:
    time_s = record.pop('time_s')
    line = dict(case=name, n=spec['n'], d=spec['d'], budget=spec['budget'],
                identical=record.pop('identical', None),
                time_s=round(time_s, 2),
                ref_time_s=None, speedup=None,
                peak_rss_mb=round(record.pop('peak_rss_mb')))
    if 'ref_time_s' in record:
        ref_time_s = record.pop('ref_time_s')
        line['ref_time_s'] = round(ref_time_s, 1)
        line['speedup'] = round(ref_time_s / time_s, 1)
    compare_to = spec.get('compare_to')
    if compare_to and (out_dir / f'{compare_to}.pt').exists():
        ours = torch.load(out_dir / f'{name}.pt')
        other = torch.load(out_dir / f'{compare_to}.pt')
        line[f'overlap_with_{compare_to}'] = round(overlap(ours, other), 4)
        line[f'same_order_as_{compare_to}'] = torch.equal(ours, other)
    line.update(record)
    return line


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='only the n=4000 case (under a minute)')
    parser.add_argument('--cases', nargs='+', choices=sorted(CASES),
                        help='cases to run (default: all)')
    parser.add_argument('--ref-picks', type=int,
                        help='override the number of reference picks')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out-dir', type=Path,
                        help='where picks are kept (default: a temp dir)')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix='bench_herding_'))
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(run_case(spec.pop('name'), spec, args.seed,
                                  out_dir)))
        return
    names = QUICK if args.quick else (args.cases or list(CASES))
    for name in names:
        spec = dict(CASES[name], name=name)
        if args.ref_picks is not None and spec.get('ref_picks'):
            spec['ref_picks'] = args.ref_picks
        if args.quick:
            spec['ref_picks'] = 100
        child = subprocess.run(
            [sys.executable, __file__, '--child', json.dumps(spec),
             '--seed', str(args.seed), '--out-dir', str(out_dir)],
            check=True, stdout=subprocess.PIPE, text=True)
        record = json.loads(child.stdout.strip().splitlines()[-1])
        print(json.dumps(report(name, CASES[name], record, out_dir)),
              flush=True)


if __name__ == '__main__':
    main()
