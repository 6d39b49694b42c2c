"""Dense prediction: PixelMLPHead's linear trick vs. the dense reference.

The reference upsamples every UNet read-out to full resolution, concatenates
them into the ``D x H x W`` feature tensor, L2-normalises each pixel and
applies the MLP. Ours (``PixelMLPHead.forward``) projects each map at native
resolution and never builds that tensor. The UNet forward is the same for
both paths, so only the head part (feature maps -> logits) is measured:

* ``max_abs_diff``: on real UNet read-outs (random weights) of one image;
* ``time_ratio``: ours / dense, best of several alternating runs;
* ``peak_mem_ratio``: ours / dense, peak RSS growth of the head part, each
  measured in its own fresh subprocess.

Prints one JSON line per case, then one for the same case with LEDM's
ensemble of 10 MLPs (``PixelMLPEnsembleHead``, members one at a time;
``peak_vs_single_head``: its peak over the single head's). Targets:
peak_mem_ratio <= 0.2, time_ratio <= 0.7, max_abs_diff <= 1e-4.

    python benchmarks/bench_features.py            # the full cases
    python benchmarks/bench_features.py --quick    # one small case, < 1 min
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mmseg_al.models.backbones import DiffusionBackbone  # noqa: E402
from mmseg_al.models.decode_heads import (  # noqa: E402
    PixelMLPEnsembleHead, PixelMLPHead)

PRESET = ROOT / 'configs/_base_/models/edald_imagenet256.py'

#: name -> (UNet width, input size, number of classes)
CASES: Dict[str, Tuple[int, int, int]] = {
    'imagenet256-w64-256px-11cls': (64, 256, 11),
    'imagenet256-w64-256px-30cls': (64, 256, 30),
}
QUICK_CASES = {'imagenet256-w64-128px-11cls': (64, 128, 11)}
REPEATS = 3
#: Members of the ensemble case (LEDM's).
ENSEMBLE_MODELS = 10


def make_head(in_channels: int, num_classes: int,
              num_models: int) -> PixelMLPHead:
    """A single head (``num_models=0``) or an ensemble, in eval mode."""
    if num_models == 0:
        return PixelMLPHead(in_channels=in_channels,
                            num_classes=num_classes).eval()
    return PixelMLPEnsembleHead(in_channels=in_channels,
                                num_classes=num_classes,
                                num_models=num_models).eval()


def build(width: int, num_classes: int, num_models: int = 0
          ) -> Tuple[DiffusionBackbone, PixelMLPHead]:
    """The preset's UNet architecture at another width, random weights."""
    unet = Config.fromfile(str(PRESET)).model.backbone.unet
    torch.manual_seed(0)
    backbone = DiffusionBackbone(
        unet=dict(unet, num_channels=width, num_head_channels=width // 4))
    return backbone, make_head(backbone.feature_dim, num_classes, num_models)


def dense_reference(head: PixelMLPHead, maps: Sequence[torch.Tensor],
                    size: Tuple[int, int]) -> torch.Tensor:
    """Upsample all, concatenate, normalise, MLP per pixel."""
    features = torch.cat([
        F.interpolate(m, size=size, mode='bilinear', align_corners=False)
        for m in maps
    ], dim=1)
    features = F.normalize(features, dim=1)
    batch, dim, height, width = features.shape
    logits = head.forward_pixels(
        features.permute(0, 2, 3, 1).reshape(-1, dim))
    return logits.view(batch, height, width, -1).permute(0, 3, 1, 2)


def paths(head: PixelMLPHead, size: Tuple[int, int]
          ) -> Dict[str, Callable[[Sequence[torch.Tensor]], torch.Tensor]]:
    return {
        'ours': lambda maps: head(maps, size, normalize=True),
        'dense': lambda maps: dense_reference(head, maps, size),
    }


def memory_status_mb(field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak) of this process.

    ``VmHWM`` belongs to the address space, so unlike ``ru_maxrss`` it does
    not inherit the parent's peak across fork + exec.
    """
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f'{field} missing from /proc/self/status')


@torch.no_grad()
def peak_growth_mb(spec: dict) -> float:
    """Peak RSS growth of one head forward over the resident maps (run in
    a fresh process)."""
    torch.manual_seed(0)
    head = make_head(sum(shape[1] for shape in spec['shapes']),
                     spec['num_classes'], spec['num_models'])
    run = paths(head, (spec['size'], spec['size']))[spec['path']]
    # Warm up on a 4x smaller input so that one-off library initialisation
    # (thread pools, kernel caches) is not counted as the head's memory.
    shrink = 4
    paths(head, (spec['size'] // shrink, ) * 2)[spec['path']]([
        torch.randn(n, c, max(h // shrink, 1), max(w // shrink, 1))
        for n, c, h, w in spec['shapes']
    ])
    maps = [torch.randn(shape) for shape in spec['shapes']]
    # Growth past the larger of the resident size and any earlier peak
    # (imports may leave a transient peak a few MB above the resident size).
    baseline = max(memory_status_mb('VmRSS'), memory_status_mb('VmHWM'))
    run(maps)
    return memory_status_mb('VmHWM') - baseline


def measure_in_subprocess(spec: dict) -> float:
    out = subprocess.run(
        [sys.executable, __file__, '--memory-worker', json.dumps(spec)],
        check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


@torch.no_grad()
def run_case(case: str, width: int, size: int, num_classes: int,
             num_models: int = 0) -> dict:
    backbone, head = build(width, num_classes, num_models)
    image = torch.rand(1, 3, size, size) * 2 - 1
    maps = backbone(image, ['bench/0000.png'])
    forwards = paths(head, (size, size))
    outputs = {name: fn(maps) for name, fn in forwards.items()}
    seconds = {name: float('inf') for name in forwards}
    for _ in range(REPEATS):
        for name, fn in forwards.items():
            start = time.perf_counter()
            fn(maps)
            seconds[name] = min(seconds[name], time.perf_counter() - start)
    peak = {
        name: measure_in_subprocess(
            dict(path=name, size=size, num_classes=num_classes,
                 num_models=num_models,
                 shapes=[tuple(m.shape) for m in maps]))
        for name in forwards
    }
    return {
        'case': case + (f'-ensemble{num_models}' if num_models else ''),
        'measured': 'head part only (feature maps -> logits); the UNet '
        'forward is shared by both paths and excluded',
        'feature_dim': backbone.feature_dim,
        'max_abs_diff': float(
            (outputs['ours'] - outputs['dense']).abs().max()),
        'peak_mem_ratio': round(peak['ours'] / peak['dense'], 4),
        'time_ratio': round(seconds['ours'] / seconds['dense'], 4),
        'ours_peak_mb': round(peak['ours'], 1),
        'dense_peak_mb': round(peak['dense'], 1),
        'ours_s': round(seconds['ours'], 4),
        'dense_s': round(seconds['dense'], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='one small case, under a minute')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch intra-op threads (default 1: stable '
                        'timings on a shared machine)')
    parser.add_argument('--memory-worker', metavar='JSON',
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_worker:
        print(peak_growth_mb(json.loads(args.memory_worker)))
        return
    for case, spec in (QUICK_CASES if args.quick else CASES).items():
        single = run_case(case, *spec)
        print(json.dumps(single), flush=True)
        ensemble = run_case(case, *spec, num_models=ENSEMBLE_MODELS)
        ensemble['peak_vs_single_head'] = round(
            ensemble['ours_peak_mb'] / single['ours_peak_mb'], 4)
        print(json.dumps(ensemble), flush=True)


if __name__ == '__main__':
    main()
