"""GPU figures: feature throughput per precision, CUDA herding at pool
scale, and the toy run on CUDA.

Prints one JSON line per case (and exits 0 with a message when there is
no CUDA device):

* ``features_<precision>``: the imagenet_256 UNet of the presets (random
  weights), batches of ``--batch`` 256x256 images, the three timesteps of
  the presets: ``s_per_image``, ``peak_mem_gb``, ``speedup_vs_fp32`` (fp32
  measured in the same run) and ``max_rel_diff_vs_fp32`` (largest relative
  Frobenius difference of a read-out map to fp32's on the same batch).
  Target: ``speedup_vs_fp32 >= 4`` for bf16 on H100/H200-class GPUs.
* ``herding_<pool>``: MaxHerding on CUDA at the ADE-Bed global pool
  (n = 48,200) and the Cityscapes union (n = 2975 x 50 = 148,750), d = 6144,
  keeping half: ``time_s``, ``peak_mem_gb``, ``parts``, and ``identical``:
  whether our first 100 picks equal the plain dense greedy's on the same
  CUDA kernel (of the first ``part_size`` points).
* ``toy_round``: ``configs/edald/toy.py`` for ``--rounds`` rounds on CUDA
  in fp32 and in bf16, one line per round with the seconds of each phase
  from metrics.json; ``toy_bf16_picks``: the share of each round's fp32
  picks that bf16 picks too (target: at least 0.95).

    python benchmarks/bench_gpu.py
    python benchmarks/bench_gpu.py --cases features --compile
"""
import argparse
import json
import math
import os
import os.path as osp
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / 'tests'), str(ROOT / 'benchmarks')]

from bench_herding import mixture  # noqa: E402
from bench_toy import ensure_toy_checkpoint  # noqa: E402
from mmengine.config import Config  # noqa: E402

from mmseg_al.models.backbones import DiffusionBackbone  # noqa: E402
from mmseg_al.selection.herding import MaxHerding  # noqa: E402
from mmseg_al.selection.kernels import (GaussianKernel,  # noqa: E402
                                        median_distance_sigma)
from mmseg_al.utils import torch_generator  # noqa: E402
from test_selection.reference_herding import dense_herding_steps  # noqa

PRESET = ROOT / 'configs/_base_/models/edald_imagenet256.py'
TOY_CONFIG = ROOT / 'configs/edald/toy.py'
#: pool -> (n, budget, max_memory of the kernel)
HERDING_CASES = {
    'ade_bed': (48200, 24100, '16GB'),
    'cityscapes_union': (148750, 74375, '32GB'),
}
DIM = 6144
REF_PICKS = 100
CASES = ('features', 'herding', 'toy')


def gigabytes(num_bytes: int) -> float:
    return round(num_bytes / 2**30, 2)


def feature_cases(batch: int, batches: int, compile_too: bool
                  ) -> Iterator[dict]:
    """s per image, peak memory and difference to fp32, per precision."""
    backbone_cfg = Config.fromfile(str(PRESET)).model.backbone
    settings = [('fp32', False), ('bf16', False), ('fp16', False)]
    if compile_too:
        settings.append(('bf16', True))
    torch.manual_seed(0)
    state = DiffusionBackbone(unet=dict(backbone_cfg.unet)).state_dict()
    images = torch.rand(batch, 3, 256, 256, device='cuda') * 2 - 1
    ids = [f'img{i}' for i in range(batch)]
    reference, fp32_time = None, None
    for precision, compiled in settings:
        backbone = DiffusionBackbone(
            unet=dict(backbone_cfg.unet), steps=backbone_cfg.steps,
            blocks=backbone_cfg.blocks, noise_seed=0, precision=precision,
            compile=compiled)
        backbone.load_state_dict(state)
        backbone.cuda()
        for _ in range(2 if not compiled else 3):  # warm-up (compilation)
            maps = backbone(images, ids)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for _ in range(batches):
            maps = backbone(images, ids)
        torch.cuda.synchronize()
        s_per_image = (time.perf_counter() - start) / (batches * batch)
        line = dict(case=f'features_{precision}' + '_compiled' * compiled,
                    batch=batch, timesteps=len(backbone_cfg.steps),
                    s_per_image=round(s_per_image, 4),
                    peak_mem_gb=gigabytes(torch.cuda.max_memory_allocated()))
        if reference is None:
            reference, fp32_time = [m.cpu() for m in maps], s_per_image
        else:
            line['speedup_vs_fp32'] = round(fp32_time / s_per_image, 2)
            line['max_rel_diff_vs_fp32'] = round(max(
                float((m.cpu() - r).norm() / r.norm())
                for m, r in zip(maps, reference)), 5)
        yield line
        del backbone, maps
        torch.cuda.empty_cache()


def herding_cases(seed: int) -> Iterator[dict]:
    """CUDA MaxHerding at pool scale, and its first picks against the
    dense greedy on the same CUDA kernel."""
    for name, (num_points, budget, max_memory) in HERDING_CASES.items():
        points = mixture(num_points, DIM, 300, seed).cuda()
        herding = MaxHerding(max_memory=max_memory)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        herding.select(points, budget,
                       generator=torch_generator(seed, 'herding'))
        torch.cuda.synchronize()
        time_s = time.perf_counter() - start
        peak = torch.cuda.max_memory_allocated()
        parts = herding.num_parts(num_points)
        part_size = math.ceil(num_points / parts)
        part = points[:part_size]
        sigma = median_distance_sigma(
            part, generator=torch_generator(seed, 'herding'))
        kernel = GaussianKernel(sigma).matrix(part)
        ours = herding.greedy(kernel, REF_PICKS, None)[0].tolist()
        steps = dense_herding_steps(kernel)
        reference = [next(steps)[0] for _ in range(REF_PICKS)]
        yield dict(case=f'herding_{name}', n=num_points, d=DIM,
                   budget=budget, max_memory=max_memory, parts=parts,
                   time_s=round(time_s, 2), peak_mem_gb=gigabytes(peak),
                   part_size=part_size, identical=ours == reference)
        del points, part, kernel
        torch.cuda.empty_cache()


def round_picks(work_dir: str, rounds: int) -> List[set]:
    """The ``(image, pixel)`` pairs labelled in each round of a run."""
    state = np.load(osp.join(work_dir, 'al_state',
                             f'round_{rounds - 1:02d}.npz'))
    picks: List[set] = [set() for _ in range(rounds)]
    for image, pixel, round_idx in zip(state['image_ids'], state['pixels'],
                                       state['rounds']):
        picks[int(round_idx)].add((str(image), int(pixel)))
    return picks


def toy_cases(rounds: int) -> Iterator[dict]:
    """Seconds per round by phase of the toy run on CUDA, in fp32 and
    bf16, and the overlap of each round's picks."""
    os.chdir(ROOT)  # the toy config's data and checkpoint paths
    ensure_toy_checkpoint()
    picks = {}
    for precision in ('fp32', 'bf16'):
        work_dir = tempfile.mkdtemp(prefix=f'bench_gpu_toy_{precision}-')
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, osp.join(ROOT, 'tools', 'al_train.py'),
             str(TOY_CONFIG), '--work-dir', work_dir, '--cfg-options',
             f'train_cfg.rounds={rounds}',
             f'model.backbone.precision={precision}'],
            check=True, capture_output=True)
        wall_s = time.perf_counter() - start
        with open(osp.join(work_dir, 'metrics.json'),
                  encoding='utf-8') as file:
            entries = json.load(file)['rounds']
        for entry in entries:
            yield dict(case='toy_round', precision=precision,
                       round=entry['round'], mIoU=entry['mIoU'],
                       seconds={k: round(v, 2)
                                for k, v in entry['seconds'].items()},
                       wall_s_all_rounds=round(wall_s, 1))
        picks[precision] = round_picks(work_dir, rounds)
    yield dict(case='toy_bf16_picks', overlap_with_fp32=[
        round(len(low & ref) / len(ref), 4)
        for low, ref in zip(picks['bf16'], picks['fp32'])])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--cases', nargs='+', choices=CASES,
                        default=list(CASES))
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--batches', type=int, default=5,
                        help='timed batches per precision')
    parser.add_argument('--compile', action='store_true',
                        help='also time bf16 with torch.compile')
    parser.add_argument('--rounds', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print('bench_gpu: no CUDA device, nothing measured (run it on a GPU '
              'machine)', file=sys.stderr)
        print(json.dumps(dict(case='skipped', reason='no CUDA device')))
        return 0
    runs: Dict[str, Callable[[], Iterator[dict]]] = dict(
        features=lambda: feature_cases(args.batch, args.batches,
                                       args.compile),
        herding=lambda: herding_cases(args.seed),
        toy=lambda: toy_cases(args.rounds))
    device = torch.cuda.get_device_name()
    for case in args.cases:
        for line in runs[case]():
            print(json.dumps(dict(line, device=device)), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
