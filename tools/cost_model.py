"""What a paper-dataset run costs, before starting it.

    python tools/cost_model.py [--seconds-per-pass S] [--gpus 1 8]

Everything but the time comes from the experiment configs and the pool and
evaluation sizes: UNet passes (one pass = the ``T`` timesteps of one
image), candidate feature memory, the Stage-1 union, and the global herding
kernel and its parts under the config's ``max_memory`` (under
:data:`HERDING_MEMORY` where it is ``'auto'``, which sizes it from the
machine's free memory). A second table gives the passes of a round when
the run keeps its features (``train_cfg.feature_memory``) and the memory
each kept set needs. Times multiply the passes by
``--seconds-per-pass``, by default 0.045 s: measured on one NVIDIA H200
(imagenet_256 UNet, T = 3, fp32, batch 8). Measure your GPU with
``benchmarks/bench_gpu.py`` (``features_<precision>`` lines,
``s_per_image``) and pass that. Herding, head training and data loading
are not included; ``bench_gpu.py``'s ``herding_*`` lines time the herding.
"""
import argparse
import math
import os.path as osp
from dataclasses import dataclass
from typing import Iterator, List, Optional, Tuple

import torch
from mmengine.config import Config

from mmseg_al.state.run_file import resolve_budget
from mmseg_al.models.backbones import DiffusionBackbone
from mmseg_al.selection import build_selector
from mmseg_al.selection.kernels import parse_memory

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: Herding budget of the table's parts where a config leaves it 'auto' (a
#: machine with more free memory herds in fewer parts).
HERDING_MEMORY = '4GB'
#: name -> (config, pool images, evaluation images), docs/method.md "Datasets"
DATASETS = {
    'CamVid': ('configs/edald/camvid.py', 367, 233),
    'ADE-Bed': ('configs/edald/ade_bed.py', 964, 650),
    'Cityscapes': ('configs/edald/cityscapes.py', 2975, 500),
    'Pascal-Context': ('configs/edald/pascal_context.py', 4998, 5105),
}
#: The measured H200 figure (fp32, T = 3, batch 8), seconds per pass.
H200_FP32_SECONDS_PER_PASS = 0.045


@dataclass
class RunCost:
    """Per-round and per-run quantities of one dataset's config.

    Attributes:
        pool: pool images ``N``; evaluation: evaluation images ``E``.
        budget: pixels per round ``b``.
        block: images per request, the unit dealt to ranks.
        rounds: rounds of the run.
        round_passes: UNet passes of a selecting round (``r >= 1``) when
            the features are not kept: Stage 1 (one clean pass per image),
            Stage 2 (``M + 1`` draws per image of its pool, at most every
            image), the new labels' clean features (the blocks of at most
            ``min(b, N)`` images) and the evaluation.
        run_passes: all passes of the run (round 0 has Stage 1 only, and
            the BatchNorm calibration sample once).
        label_passes: the new labels' passes in a round.
        calibration: whether the calibration sample has a pass of its
            own (every pool image, once per run).
        kept_round_passes: the passes of a round when the features are
            kept: the noise draws (``noise_draws='per_round'``; with
            ``'per_run'`` only round 1 has them).
        kept_run_passes: all passes of such a run, with per-round and with
            per-run draws.
        kept_gb: memory of the kept clean features (fixed candidates and
            calibration sample), of the kept noise draws (``per_run``), and
            of the kept evaluation maps.
        candidate_mb: clean candidate features of one image (MB).
        request_gb: one request: a block of ``feature_batch_size`` images.
        union: Stage-1 union ``K x N``; kept: what global herding keeps.
        union_features_gb: the union's features, on the main rank only.
        kernel_gb: the unsplit union kernel; parts: the parts it is split
            into under ``max_memory``; part_kernel_gb: one part's kernel.
    """
    pool: int
    evaluation: int
    budget: int
    block: int
    rounds: int
    round_passes: int
    run_passes: int
    label_passes: int
    calibration: bool
    kept_round_passes: int
    kept_run_passes: Tuple[int, int]
    kept_gb: Tuple[float, float, float]
    selection_passes_per_image: int
    candidate_mb: float
    request_gb: float
    union: int
    kept: int
    union_features_gb: float
    kernel_gb: float
    parts: int
    part_kernel_gb: float

    def images_per_rank(self, gpus: int) -> int:
        """Pool images of the busiest rank: blocks are dealt in turn."""
        blocks = math.ceil(self.pool / self.block)
        return min(self.pool, math.ceil(blocks / gpus) * self.block)

    def passes_per_rank(self, gpus: int, selecting: bool = True) -> int:
        """Passes of the busiest rank in one round (the evaluation is
        split evenly)."""
        per_image = self.selection_passes_per_image if selecting else 1
        labels = math.ceil(self.label_passes / gpus)
        return (self.images_per_rank(gpus) * per_image + labels +
                math.ceil(self.evaluation / gpus))

    def run_passes_per_rank(self, gpus: int) -> int:
        """Passes of the busiest rank over the run (round 0: Stage 1 only,
        and the calibration sample once)."""
        calibration = self.images_per_rank(gpus) * self.calibration
        return (self.passes_per_rank(gpus, selecting=False) + calibration +
                (self.rounds - 1) * self.passes_per_rank(gpus))


def run_cost(config: str, pool: int, evaluation: int) -> RunCost:
    """The quantities of ``config`` over a pool of ``pool`` images."""
    cfg = Config.fromfile(osp.join(REPO, config))
    loop = cfg.train_cfg
    selector = build_selector(loop.selector, loop.get('stage1'))
    stage1, herding = selector.stage1, selector.stage1.picker
    draws, score = selector.stage2.num_draws, selector.stage2.score
    if score not in ('edald', 'ebald', 'dald', 'bald'):
        raise ValueError(f'{config}: the cost model knows draw-based '
                         f'scores, not {score!r}')
    with torch.device('meta'):  # shapes only, no weights
        backbone = DiffusionBackbone(unet=dict(cfg.model.backbone.unet),
                                     steps=cfg.model.backbone.steps,
                                     blocks=cfg.model.backbone.blocks)
        maps = backbone._read_out(torch.zeros(1, 3, 256, 256), 0)
    dim = backbone.feature_dim
    map_bytes = len(cfg.model.backbone.steps) * sum(
        m.numel() for m in maps) * 4
    budget = resolve_budget(loop.budget, pool)
    noise_draws = draws + (score in ('edald', 'ebald'))
    if score in ('bald', 'ebald'):  # MC dropout: no noise draw
        noise_draws = 0
    per_image = 1 + noise_draws
    block = loop.feature_batch_size
    labels = min(pool, block * min(budget, pool))
    calibration = loop.head_training.get('bn_calibration_pixels', 0)
    round_passes = pool * per_image + labels + evaluation
    first_round = pool + labels + evaluation + (pool if calibration else 0)
    kept_round = pool * noise_draws
    kept_pixels = pool * stage1.candidates_per_image + calibration
    union = stage1.local_budget * pool
    memory = herding.max_memory or parse_memory(HERDING_MEMORY)
    parts = herding.parts_within(union, memory)
    itemsize = herding.matrix_dtype.itemsize
    candidate_bytes = stage1.candidates_per_image * dim * 4
    return RunCost(
        pool=pool, evaluation=evaluation, budget=budget,
        block=loop.feature_batch_size,
        rounds=loop.rounds,
        round_passes=round_passes,
        run_passes=first_round + (loop.rounds - 1) * round_passes,
        label_passes=labels,
        calibration=bool(calibration),
        kept_round_passes=kept_round,
        kept_run_passes=(pool + evaluation + (loop.rounds - 1) * kept_round,
                         pool + evaluation + kept_round),
        kept_gb=(kept_pixels * dim * 4 / 1e9,
                 kept_pixels * dim * 4 * noise_draws / 1e9,
                 evaluation * map_bytes / 1e9),
        selection_passes_per_image=per_image,
        candidate_mb=candidate_bytes / 1e6,
        request_gb=loop.feature_batch_size * candidate_bytes / 1e9,
        union=union,
        kept=max(round(stage1.keep_ratio * union), budget),
        union_features_gb=union * dim * 4 / 1e9,
        kernel_gb=union**2 * itemsize / 1e9,
        parts=parts,
        part_kernel_gb=math.ceil(union / parts)**2 * itemsize / 1e9)


def minutes(passes: int, seconds_per_pass: float) -> str:
    return f'{passes * seconds_per_pass / 60:.1f}'


def table(seconds_per_pass: float, gpus: List[int]) -> Iterator[str]:
    """The Markdown cost table, one row per dataset."""
    header = ['dataset', 'N / E', 'b', 'passes / round',
              'passes / run']
    for count in gpus:
        header += [f'min / round, {count} GPU', f'min / run, {count} GPU']
    header += ['candidates / image', 'union -> kept', 'kernel',
               'parts (4 GB)']
    yield '| ' + ' | '.join(header) + ' |'
    yield '|' + '---|' * len(header)
    for name, (config, pool, evaluation) in DATASETS.items():
        cost = run_cost(config, pool, evaluation)
        row = [name, f'{pool} / {evaluation}', str(cost.budget),
               f'{cost.round_passes:,}', f'{cost.run_passes:,}']
        for count in gpus:
            row += [minutes(cost.passes_per_rank(count), seconds_per_pass),
                    minutes(cost.run_passes_per_rank(count),
                            seconds_per_pass)]
        row += [f'{cost.candidate_mb:.0f} MB',
                f'{cost.union:,} -> {cost.kept:,}',
                f'{cost.kernel_gb:.1f} GB',
                f'{cost.parts} x {cost.part_kernel_gb:.1f} GB']
        yield '| ' + ' | '.join(row) + ' |'


def kept_table() -> Iterator[str]:
    """The Markdown table of a run that keeps its features."""
    header = ['dataset', 'passes / round, not kept',
              'passes / round, kept (per-round draws)',
              'passes / run, kept (per-round draws)',
              'passes / run, kept (per-run draws)', 'clean features',
              '+ noise draws (per-run)', '+ evaluation maps']
    yield '| ' + ' | '.join(header) + ' |'
    yield '|' + '---|' * len(header)
    for name, (config, pool, evaluation) in DATASETS.items():
        cost = run_cost(config, pool, evaluation)
        clean, draws, maps = cost.kept_gb
        row = [name, f'{cost.round_passes:,}',
               f'{cost.kept_round_passes:,}',
               *(f'{passes:,}' for passes in cost.kept_run_passes),
               f'{clean:.1f} GB', f'{draws:.1f} GB', f'{maps:.1f} GB']
        yield '| ' + ' | '.join(row) + ' |'


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seconds-per-pass', type=float,
                        default=H200_FP32_SECONDS_PER_PASS,
                        help='UNet seconds per image for all timesteps '
                        '(default: the H200 fp32 measurement)')
    parser.add_argument('--gpus', type=int, nargs='+', default=[1, 8])
    args = parser.parse_args(argv)
    for line in table(args.seconds_per_pass, args.gpus):
        print(line)
    print()
    for line in kept_table():
        print(line)


if __name__ == '__main__':
    main()
