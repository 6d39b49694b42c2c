"""Label efficiency: methods x seeds on a toy config, with paired CIs.

The default config is the toy in the paper's regime (N = 300 pool images,
b = 0.1 N = 30 pixels a round, M = 5 draws, 10 rounds). A method is that
config plus a few lines (:data:`METHODS`): the selectors compared in the
paper, LEDM-AL and the fully supervised reference (LEDM's ensemble on
every pool pixel, one head epoch), and one-change ablations of two-stage
eDALD (the released code's score, M = 2, per-round draws, per-round,
fewer or more candidates, no early stop, longer or DDeP pretraining),
random on those longer or DDeP pretrained UNets, and two-stage eDALD with
SuperpixelExpansion (the same clicks a round, each spread over its
superpixel).

Runs each (method, seed) through ``tools/al_train.py`` in a subprocess and
prints one JSON line per method::

    {"method": "edald_two-stage", "seeds": [0, 1, 2, 3, 4],
     "labelled_pixels": [12, 24, ...], "mIoU_mean": [...],
     "final_mIoU_mean": ..., "final_mIoU_std": ..., "auc_mean": ...,
     "diff_to_random": ..., "diff_to_random_ci95": [lo, hi],
     "gap_recovered": ..., "worst_drop": ..., "worst_mean_drop": ...,
     "min_classes_hit": ..., "wall_s_mean": ...}

- ``auc``: the area under a run's learning curve (mIoU against labelled
  pixels, trapezoids) divided by its pixel span: the curve's mean height.
- ``diff_to_random``: the mean over seeds of (method - random) final mIoU,
  paired by seed, with a 95 % bootstrap CI over seeds (10,000 resamples,
  seeded); ``diff_auc_to_random`` likewise for the AUC. A method beats
  random only where the CI excludes 0.
- ``gap_recovered``: ``(method - random) / (fully supervised - random)``,
  when the ``fully-supervised`` method ran too or ``--full-miou`` is given.
- ``worst_drop``: the largest fall of mIoU between consecutive rounds of
  any seed; ``worst_mean_drop``: the same on the mean curve.
- ``min_classes_hit``: the fewest classes with IoU > 0 of any round of any
  seed once ``--min-pixels`` (30) pixels are labelled.
- With region expansion, ``expanded_pixels_mean`` (per round, mean over
  seeds; ``labelled_pixels`` stays the clicks) and ``expanded_accuracy``:
  the percentage of the final round's expanded pixels whose class is the
  ground truth's (pixels void in the ground truth left out), mean over
  seeds.

``--reference METHOD`` also pairs every method with ``METHOD``
(``diff_to_reference``, e.g. the ablations with ``edald_two-stage``);
``--baseline-dir DIR`` pairs every method with the same method's runs in
``DIR`` (e.g. another head recipe, given with ``--cfg-options``) and
reports ``diff_to_baseline`` with its CI.

Finished runs in ``--work-dir`` are reused (a run is finished when its
``metrics.json`` has every round), so an interrupted benchmark continues
where it stopped and new methods can be added to a finished one. Each run
gets ``cores / --jobs`` CPU threads; a finished run made with another
count is refused, since the thread count can change a feature's last bits
and so a pick. So is one made on another backbone checkpoint (its sha256
is recorded): the toy UNet is pretrained on first use, and a pretraining
with another thread count gives other weights.

    python benchmarks/bench_label_efficiency.py --work-dir work_dirs/le \\
        --methods random herding entropy_two-stage margin_two-stage \\
        edald_one-stage edald_two-stage edald_two-stage_cbda \\
        ledm-al_two-stage fully-supervised \\
        --plot docs/images/label_efficiency.png
    python benchmarks/bench_label_efficiency.py --work-dir work_dirs/le \\
        --methods edald_two-stage edald-released_two-stage \\
        --reference edald_two-stage
    python benchmarks/bench_label_efficiency.py --work-dir work_dirs/le \\
        --methods edald_two-stage edald_two-stage_superpixels \\
        --reference edald_two-stage
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
#: The toy in the paper's regime: N = 300, b = 0.1 N, M = 5, 10 rounds.
TOY_PAPER_REGIME = osp.join(
    REPO, 'configs', 'edald',
    'edald-2stage_adm64-t2b4-m5_10r-b0.1n_toy-scenes-300img-64x64.py')


def _one_stage(score: str) -> str:
    """Stage 2 alone, over the same fixed candidates Stage 1 herds from."""
    return f"""
train_cfg = dict(selector=dict(
    _delete_=True, type='OneStageSelector',
    stage2=dict(type='ScoreRanking', score='{score}',
                num_draws={{{{_base_.train_cfg.selector.stage2.num_draws}}}}),
    candidates_per_image={{{{_base_.train_cfg.stage1.candidates_per_image}}}}))
"""


def _two_stage(score: str) -> str:
    return f"""
train_cfg = dict(selector=dict(stage2=dict(
    _delete_=True, type='ScoreRanking', score='{score}')))
"""


#: LEDM's model on the benchmark's UNet: an ensemble of 10 pixel MLPs
#: (majority vote) on one fixed noise.
LEDM = """
model = dict(
    backbone=dict(noise_seed=0),
    decode_head=dict(type='PixelMLPEnsembleHead', num_models=10,
                     predict='vote'))
"""


def _pretraining(name: str, **hook) -> str:
    """The benchmark's config with another pretraining of its UNet, saved
    to its own checkpoint."""
    options = ''.join(f', {k}={v!r}' for k, v in hook.items())
    return f"""
checkpoint = 'checkpoints/toy_scenes_300_{name}.pt'
model = dict(backbone=dict(checkpoint=checkpoint))
custom_hooks = [dict(type='DiffusionPretrainHook', checkpoint=checkpoint,
                     batch_size=4, lr=1e-3{options})]
"""


#: Longer pretraining of the UNet, and DDeP's objective.
PRETRAIN_600 = _pretraining('ddpm600', iterations=600, max_timestep=400)
DDEP = _pretraining('ddep', iterations=600, timestep=100, freeze_encoder=True)

#: Config lines each method adds to the benchmark's config.
METHODS: Dict[str, str] = {
    'random': _one_stage('random'),
    'herding': """
train_cfg = dict(selector=dict(_delete_=True, type='HerdingSelector'))
""",
    'entropy_two-stage': _two_stage('entropy'),
    'margin_two-stage': _two_stage('margin'),
    'edald_one-stage': _one_stage('edald'),
    'edald_two-stage': '',
    'edald_two-stage_cbda': """
train_cfg = dict(selector=dict(
    stage2=dict(class_balance=dict(mode='cbda', epsilon=0.1))))
""",
    'ledm-al_two-stage': LEDM + """
train_cfg = dict(selector=dict(stage2=dict(
    _delete_=True, type='ScoreRanking', score='ensemble_mi')))
""",
    'fully-supervised': LEDM + """
train_cfg = dict(
    _delete_=True, type='FullySupervisedLoop', images_per_group=30,
    head_training=dict(max_epochs=1), feature_batch_size=8, seed=None)
""",
    # ablations of two-stage eDALD, each one change
    'edald-released_two-stage': _two_stage('edald_released'),
    'edald_two-stage_m2': """
train_cfg = dict(selector=dict(stage2=dict(num_draws=2)))
""",
    'edald_two-stage_per-round-draws': """
train_cfg = dict(noise_draws='per_round')
""",
    'edald_two-stage_per-round-candidates': """
train_cfg = dict(stage1=dict(candidates='per_round'))
""",
    'edald_two-stage_100-candidates': """
train_cfg = dict(stage1=dict(candidates_per_image=100))
""",
    'edald_two-stage_1000-candidates': """
train_cfg = dict(stage1=dict(candidates_per_image=1000))
""",
    'edald_two-stage_no-early-stop': """
train_cfg = dict(head_training=dict(patience=10**9))
""",
    'edald_two-stage_pretrain-600': PRETRAIN_600,
    'edald_two-stage_ddep': DDEP,
    # random on the same UNets: is a gain the features' or the selection's?
    'random_pretrain-600': _one_stage('random') + PRETRAIN_600,
    'random_ddep': _one_stage('random') + DDEP,
    'edald_two-stage_superpixels': """
train_cfg = dict(expansion=dict(type='SuperpixelExpansion'))
""",
}
FULL = 'fully-supervised'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=TOY_PAPER_REGIME,
                        help='the config of the methods (default: the toy '
                        'in the paper\'s regime)')
    parser.add_argument('--methods', nargs='+', choices=sorted(METHODS),
                        default=['random', 'edald_two-stage'])
    parser.add_argument('--seeds', type=int, nargs='+',
                        default=[0, 1, 2, 3, 4])
    parser.add_argument('--rounds', type=int, default=None)
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='KEY=VALUE overrides for every run')
    parser.add_argument('--work-dir', default='work_dirs/label_efficiency')
    parser.add_argument('--baseline-dir', default=None)
    parser.add_argument('--reference', default=None, choices=sorted(METHODS),
                        help='also pair every method with this one '
                        '(diff_to_reference)')
    parser.add_argument('--full-miou', type=float, default=None)
    parser.add_argument('--min-pixels', type=int, default=30)
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs at once (each gets cores / jobs threads)')
    parser.add_argument('--plot', default=None,
                        help='write the learning curves (PNG) here')
    return parser.parse_args(argv)


def read_curve(work_dir: str) -> Optional[List[dict]]:
    path = osp.join(work_dir, 'metrics.json')
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as file:
        return json.load(file)['rounds']


def finished_run(root: str, method: str, seed: int,
                 rounds: Optional[int]) -> Optional[dict]:
    """The curve and wall time of a finished run in ``root``, or None."""
    work_dir = osp.join(root, f'{method}_seed{seed}')
    curve = read_curve(work_dir)
    timing = osp.join(work_dir, 'bench_wall.json')
    if curve is None or not osp.isfile(timing) or (
            method != FULL and rounds and len(curve) < rounds):
        return None
    with open(timing, encoding='utf-8') as file:
        record = json.load(file)
    return dict(curve=curve, wall=record['wall_s'],
                threads=record.get('threads'),
                checkpoint=record.get('checkpoint_sha256'), work_dir=work_dir)


def checkpoint_digest(config: str,
                      options: Sequence[str] = ()) -> Optional[str]:
    """The sha256 of the backbone checkpoint ``config`` (with the
    ``KEY=VALUE`` options) reads, or None while it does not exist: a UNet
    pretrained anew (e.g. with another thread count) gives other features,
    so other picks."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(dict(option.split('=', 1) for option in options))
    path = cfg.model.backbone.get('checkpoint')
    if not path:
        return None
    path = osp.join(REPO, path)  # runs start in REPO; joins keep absolutes
    if not osp.isfile(path):
        return None
    with open(path, 'rb') as file:
        return hashlib.sha256(file.read()).hexdigest()


def run_once(method: str, seed: int, args: argparse.Namespace,
             threads: int) -> dict:
    """One run, or the finished one found in the work dir."""
    name = f'{method}_seed{seed}'
    work_dir = osp.join(args.work_dir, name)
    config = osp.join(args.work_dir, f'{name}.py')
    found = finished_run(args.work_dir, method, seed, args.rounds)
    recorded = found and found['checkpoint']
    if recorded and recorded != checkpoint_digest(config, args.cfg_options):
        raise SystemExit(
            f'{work_dir} ran on another backbone checkpoint than the one '
            f'{config} reads now (changed or missing since): restore that '
            'checkpoint, or use another --work-dir')
    if found is not None and found['threads'] not in (None, threads):
        # the thread count changes features in their last bits, so picks
        raise SystemExit(
            f'{work_dir} ran with {found["threads"]} CPU thread(s), this '
            f'invocation gives each run {threads} (--jobs {args.jobs}): use '
            'the same --jobs as that run or another --work-dir')
    if found is None:
        with open(config, 'w', encoding='utf-8') as file:
            base = args.config
            file.write(f'_base_ = [{base!r}]\n' + METHODS[method])
        options = list(args.cfg_options)
        if method != FULL and args.rounds:
            options.append(f'train_cfg.rounds={args.rounds}')
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, osp.join(REPO, 'tools', 'al_train.py'), config,
             '--work-dir', work_dir, '--seed', str(seed), '--resume=auto'] +
            (['--cfg-options'] + options if options else []),
            cwd=REPO, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f'{name} failed (exit {proc.returncode}):\n'
                               f'{proc.stderr[-3000:]}')
        with open(osp.join(work_dir, 'bench_wall.json'), 'w',
                  encoding='utf-8') as file:
            json.dump(dict(wall_s=time.perf_counter() - start,
                           threads=threads,
                           checkpoint_sha256=checkpoint_digest(
                               config, args.cfg_options)),
                      file)
        found = finished_run(args.work_dir, method, seed, args.rounds)
    return found


def auc(curve: Sequence[dict]) -> float:
    """Mean height of the mIoU-against-pixels curve (trapezoids)."""
    pixels = [e['labelled_pixels'] for e in curve]
    miou = [e['mIoU'] for e in curve]
    if len(curve) == 1:
        return miou[0]
    return float(np.trapezoid(miou, pixels) / (pixels[-1] - pixels[0]))


def paired_ci(diffs: Sequence[float], resamples: int = 10000,
              seed: int = 0) -> List[float]:
    """95 % percentile-bootstrap CI of the mean of paired differences."""
    diffs = np.asarray(diffs, dtype=float)
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(diffs),
                               (resamples, len(diffs)))].mean(1)
    return [round(float(q), 2) for q in np.percentile(means, [2.5, 97.5])]


def expanded_accuracy(store, ground_truth) -> Optional[float]:
    """Percentage of ``store``'s expanded pixels whose class is the ground
    truth's (``ground_truth(image id) -> [H, W]``), leaving out pixels
    void there; None without any."""
    correct = counted = 0
    for image_id in store.labelled_image_ids():
        expanded = store.expanded(image_id)
        if not expanded.any():
            continue
        truth = np.asarray(ground_truth(image_id)).reshape(-1)[
            store.pixels(image_id)[expanded]]
        known = truth != store.ignore_index
        correct += int((truth[known] ==
                        store.classes(image_id)[expanded][known]).sum())
        counted += int(known.sum())
    return round(100 * correct / counted, 2) if counted else None


def run_expanded_accuracy(work_dir: str) -> Optional[float]:
    """:func:`expanded_accuracy` of a finished run's latest labels."""
    sys.path.insert(0, REPO)
    from mmseg_al.annotation.saved_run import load_labels
    store, pool = load_labels(work_dir)
    return expanded_accuracy(
        store, lambda image_id: pool.ground_truth(pool.index_of(image_id)))


def worst_drop(miou: Sequence[float]) -> float:
    return max([0.0] + [a - b for a, b in zip(miou, miou[1:])])


def summarise(method: str, seeds: List[int], runs: List[dict],
              min_pixels: int) -> dict:
    curves = [r['curve'] for r in runs]
    finals = [c[-1]['mIoU'] for c in curves]
    mean_curve = np.mean([[e['mIoU'] for e in c] for c in curves], axis=0)
    hits = [sum(v is not None and v > 0
                for v in e['per_class_IoU'].values())
            for c in curves for e in c if e['labelled_pixels'] >= min_pixels]

    def std(values):
        return statistics.stdev(values) if len(values) > 1 else 0.0

    row = dict(
        method=method, seeds=seeds,
        labelled_pixels=[e['labelled_pixels'] for e in curves[0]],
        mIoU_mean=[round(float(m), 2) for m in mean_curve],
        final_mIoU_mean=round(statistics.mean(finals), 2),
        final_mIoU_std=round(std(finals), 2),
        final_mIoU=[round(m, 2) for m in finals],
        auc_mean=round(statistics.mean(auc(c) for c in curves), 2),
        worst_drop=round(max(worst_drop([e['mIoU'] for e in c])
                             for c in curves), 2),
        worst_mean_drop=round(worst_drop(mean_curve.tolist()), 2),
        min_classes_hit=min(hits) if hits else None,
        wall_s_mean=round(statistics.mean(r['wall'] for r in runs), 1))
    if 'expanded_pixels' in curves[0][0]:
        row['expanded_pixels_mean'] = [
            round(float(n), 1) for n in np.mean(
                [[e['expanded_pixels'] for e in c] for c in curves], axis=0)]
        row['expanded_accuracy'] = round(statistics.mean(
            r['expanded_accuracy'] for r in runs), 2)
    return row


def add_pairing(row: dict, runs: List[dict], other: List[dict],
                name: str) -> None:
    """``diff_<name>`` (final mIoU) and ``diff_auc_<name>`` with CIs."""
    finals = [r['curve'][-1]['mIoU'] - o['curve'][-1]['mIoU']
              for r, o in zip(runs, other)]
    aucs = [auc(r['curve']) - auc(o['curve']) for r, o in zip(runs, other)]
    row[f'diff_{name}'] = round(statistics.mean(finals), 2)
    row[f'diff_{name}_ci95'] = paired_ci(finals)
    row[f'diff_auc_{name}'] = round(statistics.mean(aucs), 2)
    row[f'diff_auc_{name}_ci95'] = paired_ci(aucs)


def plot(path: str, rows: List[dict], all_runs: Dict[str, List[dict]]
         ) -> None:
    """Mean learning curves with 95 % bootstrap bands over seeds."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for row in rows:
        runs = all_runs[row['method']]
        if row['method'] == FULL:
            ax.axhline(row['final_mIoU_mean'], color='k', ls='--', lw=1,
                       label='fully supervised')
            continue
        table = np.array([[e['mIoU'] for e in r['curve']] for r in runs])
        rng = np.random.default_rng(0)
        boot = table[rng.integers(0, len(table), (10000, len(table)))]
        low, high = np.percentile(boot.mean(1), [2.5, 97.5], axis=0)
        pixels = row['labelled_pixels']
        ax.plot(pixels, table.mean(0), marker='o', ms=3,
                label=row['method'])
        ax.fill_between(pixels, low, high, alpha=0.2)
    ax.set_xlabel('labelled pixels')
    ax.set_ylabel('mIoU (%)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.reference and args.reference not in args.methods:
        raise SystemExit(f'--reference {args.reference} must be one of '
                         f'--methods {args.methods}')
    args.work_dir = osp.abspath(args.work_dir)
    args.config = osp.abspath(args.config)
    os.makedirs(args.work_dir, exist_ok=True)
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    jobs = [(m, s) for m in args.methods
            for s in (args.seeds[:1] if m == FULL else args.seeds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        done = list(pool.map(lambda job: run_once(*job, args, threads),
                             jobs))
    all_runs: Dict[str, List[dict]] = {}
    for (method, _), run in zip(jobs, done):
        if 'expanded_pixels' in run['curve'][0]:
            run['expanded_accuracy'] = run_expanded_accuracy(
                run['work_dir'])
        all_runs.setdefault(method, []).append(run)
    rows = [summarise(m, args.seeds[:1] if m == FULL else args.seeds,
                      all_runs[m], args.min_pixels) for m in args.methods]
    full = (all_runs[FULL][0]['curve'][-1]['mIoU'] if FULL in all_runs
            else args.full_miou)
    for row in rows:
        method = row['method']
        if method == FULL:
            continue
        if 'random' in all_runs and method != 'random':
            add_pairing(row, all_runs[method], all_runs['random'],
                        'to_random')
            if full is not None:
                row['gap_recovered'] = round(
                    row['diff_to_random'] /
                    (full - statistics.mean(
                        r['curve'][-1]['mIoU'] for r in all_runs['random'])),
                    3)
        if args.reference in all_runs and method != args.reference:
            add_pairing(row, all_runs[method], all_runs[args.reference],
                        'to_reference')
        if args.baseline_dir:
            baseline = [finished_run(args.baseline_dir, method, s,
                                     args.rounds) for s in args.seeds]
            if None in baseline:
                raise SystemExit(
                    f'--baseline-dir {args.baseline_dir} lacks a finished '
                    f'{method} run for seeds {args.seeds}: run them there '
                    'first')
            add_pairing(row, all_runs[method], baseline, 'to_baseline')
    for row in rows:
        print(json.dumps(row), flush=True)
    if args.plot:
        plot(args.plot, rows, all_runs)


if __name__ == '__main__':
    main()
