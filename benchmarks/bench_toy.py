"""Toy benchmark: random, one-stage, two-stage and CBDA-balanced eDALD,
LEDM-AL, and LEDM fully supervised.

Runs a toy config once per (method, seed) through ``tools/al_train.py`` in
a subprocess and prints one JSON line per method::

    {"method": "edald_two-stage", "seeds": [0, 1, 2], "rounds": 10,
     "final_labelled_pixels": 600, "final_mIoU_mean": ..., "final_mIoU_std":
     ..., "wall_s_mean": ..., "wall_s_std": ..., "final_mIoU": [...]}

The eDALD methods run ``configs/edald/toy.py`` and differ only in the
selector of rounds >= 1 (the cold start is the same herding); one-stage
ranks the same 300 seeded candidates per image that Stage 1 herds from;
``edald_two-stage_cbda`` multiplies the eDALD scores by CBDA's class
weights (``epsilon=0.1``). ``ledm-al_two-stage`` runs
``configs/ledm/toy.py``: the same UNet and schedule with an ensemble of 10
pixel MLPs and Stage 2 ranked by the ensemble's mutual information.
``ledm_fully-supervised`` is the reference row: that ensemble trained on
every pixel of the pool (``FullySupervisedLoop``, 3 head epochs; it has
no rounds, so ``--rounds`` does not apply to it). The
toy UNet checkpoint is made before the first timed run, so wall times
measure the active-learning loop alone.

    python benchmarks/bench_toy.py            # 3 seeds, 10 rounds
    python benchmarks/bench_toy.py --quick    # random and two-stage, 1 seed

Every line also gives the run's UNet passes (images through the backbone,
summed over the rounds of ``metrics.json``). ``--quick`` runs random and
two-stage eDALD (10 rounds, seed 0), prints their ratio::

    {"case": "two-stage_vs_random", "wall_ratio": ..., "passes_ratio": ...}

and runs the two-stage job again beside two CPU hogs (2-thread torch jobs,
as other experiments on a shared machine) and prints its slowdown against
the run alone, measured in the same invocation::

    {"case": "beside_cpu_hogs", "method": "edald_two-stage", "hogs": 2,
     "wall_s_alone": ..., "wall_s_beside_hogs": ..., "slowdown": ...,
     "fair_share_slowdown": 3}

``fair_share_slowdown`` is what an equal share of the cores among the
``hogs + 1`` jobs would give.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOY_CONFIG = osp.join(REPO, 'configs', 'edald', 'toy.py')
LEDM_TOY_CONFIG = osp.join(REPO, 'configs', 'ledm', 'toy.py')
LEDM_FULL_TOY_CONFIG = osp.join(
    REPO, 'configs', 'ledm',
    'ledm-full_adm64-t2b4_all-px_toy-scenes-64x64.py')

#: Config lines each method adds to its toy config.
METHODS: Dict[str, str] = {
    'random': """
train_cfg = dict(selector=dict(
    _delete_=True, type='OneStageSelector',
    stage2=dict(type='ScoreRanking', score='random'),
    candidates_per_image=300))
""",
    'edald_one-stage': """
train_cfg = dict(selector=dict(
    _delete_=True, type='OneStageSelector',
    stage2=dict(type='ScoreRanking', score='edald', num_draws=2),
    candidates_per_image=300))
""",
    'edald_two-stage': '',
    'edald_two-stage_cbda': """
train_cfg = dict(selector=dict(
    stage2=dict(class_balance=dict(mode='cbda', epsilon=0.1))))
""",
    'ledm-al_two-stage': '',
    'ledm_fully-supervised': '',
}
#: The toy config of each method (default: the eDALD toy).
METHOD_CONFIGS: Dict[str, str] = {
    'ledm-al_two-stage': LEDM_TOY_CONFIG,
    'ledm_fully-supervised': LEDM_FULL_TOY_CONFIG,
}


#: A CPU hog: a 2-thread torch job that runs until it is killed.
HOG = """
import torch
torch.set_num_threads(2)
a = torch.randn(256, 256)
while True:
    a @ a
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true',
                        help='random and two-stage eDALD, 1 seed')
    parser.add_argument('--seeds', type=int, nargs='+', default=None)
    parser.add_argument('--rounds', type=int, default=None)
    parser.add_argument('--methods', nargs='+', choices=sorted(METHODS),
                        default=None)
    parser.add_argument('--work-dir', default=None,
                        help='keep the runs here (default: a temp dir)')
    return parser.parse_args()


def ensure_toy_checkpoint() -> None:
    """Make the toy UNet checkpoint as the config's hook would."""
    sys.path.insert(0, REPO)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    from mmseg_al.models.pretraining import pretrain_denoiser

    cfg = Config.fromfile(TOY_CONFIG)
    hook = dict(cfg.custom_hooks[0])
    if osp.isfile(hook['checkpoint']):
        return
    init_default_scope('mmseg')
    pool = DATASETS.build(cfg.train_dataloader.dataset)
    hook.pop('type')
    checkpoint = hook.pop('checkpoint')
    pretrain_denoiser(pool.image_paths, checkpoint,
                      unet=dict(cfg.model.backbone.unet), **hook)


def run_once(method: str, seed: int, rounds: int, work_root: str,
             suffix: str = '') -> Dict:
    name = f'{method}_seed{seed}{suffix}'
    config = osp.join(work_root, f'{name}.py')
    with open(config, 'w', encoding='utf-8') as f:
        base = METHOD_CONFIGS.get(method, TOY_CONFIG)
        f.write(f'_base_ = [{base!r}]\n' + METHODS[method])
    work_dir = osp.join(work_root, name)
    options = [] if base == LEDM_FULL_TOY_CONFIG else [
        '--cfg-options', f'train_cfg.rounds={rounds}']
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools', 'al_train.py'), config,
         '--work-dir', work_dir, '--seed', str(seed)] + options,
        cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f'{name} failed (exit {proc.returncode}):\n'
                           f'{proc.stderr[-3000:]}')
    with open(osp.join(work_dir, 'metrics.json'), encoding='utf-8') as f:
        entries = json.load(f)['rounds']
    return dict(mIoU=entries[-1]['mIoU'],
                pixels=entries[-1]['labelled_pixels'], rounds=len(entries),
                wall=wall, passes=sum(sum(e.get('unet_passes', {}).values())
                                      for e in entries))


def beside_cpu_hogs(method: str, seed: int, rounds: int, work_root: str,
                    alone: Dict, hogs: int = 2) -> Dict:
    """Run ``method`` again while ``hogs`` CPU hogs run."""
    procs = [subprocess.Popen([sys.executable, '-c', HOG])
             for _ in range(hogs)]
    try:
        busy = run_once(method, seed, rounds, work_root, '_beside_hogs')
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    return dict(case='beside_cpu_hogs', method=method, hogs=hogs,
                wall_s_alone=round(alone['wall'], 1),
                wall_s_beside_hogs=round(busy['wall'], 1),
                slowdown=round(busy['wall'] / alone['wall'], 2),
                fair_share_slowdown=hogs + 1)


def summary(method: str, seeds: List[int], runs: List[Dict]) -> Dict:
    mious = [r['mIoU'] for r in runs]
    walls = [r['wall'] for r in runs]

    def std(values):
        return statistics.stdev(values) if len(values) > 1 else 0.0

    return dict(
        method=method, seeds=seeds, rounds=runs[-1]['rounds'],
        final_labelled_pixels=runs[-1]['pixels'],
        final_mIoU_mean=round(statistics.mean(mious), 2),
        final_mIoU_std=round(std(mious), 2),
        wall_s_mean=round(statistics.mean(walls), 1),
        wall_s_std=round(std(walls), 1),
        unet_passes_mean=round(statistics.mean(r['passes'] for r in runs)),
        final_mIoU=[round(m, 2) for m in mious])


def main() -> None:
    args = parse_args()
    seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    rounds = args.rounds or 10
    methods = args.methods or (['random', 'edald_two-stage'] if args.quick
                               else list(METHODS))
    os.chdir(REPO)  # the toy config's data and checkpoint paths
    ensure_toy_checkpoint()
    work_root = args.work_dir or tempfile.mkdtemp(prefix='bench_toy-')
    os.makedirs(work_root, exist_ok=True)
    rows = {}
    for method in methods:
        runs = [run_once(method, seed, rounds, work_root) for seed in seeds]
        rows[method] = summary(method, seeds, runs)
        print(json.dumps(rows[method]), flush=True)
        if args.quick and method == 'edald_two-stage':
            print(json.dumps(beside_cpu_hogs(method, seeds[0], rounds,
                                             work_root, runs[0])),
                  flush=True)
    if {'random', 'edald_two-stage'} <= set(rows):
        two, one = rows['edald_two-stage'], rows['random']
        print(json.dumps(dict(
            case='two-stage_vs_random',
            wall_ratio=round(two['wall_s_mean'] / one['wall_s_mean'], 2),
            passes_ratio=round(
                two['unet_passes_mean'] / max(one['unet_passes_mean'], 1),
                2))), flush=True)


if __name__ == '__main__':
    main()
