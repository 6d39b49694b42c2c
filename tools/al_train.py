"""Run (or continue) an active-learning experiment.

    python tools/al_train.py configs/edald/camvid.py [--work-dir DIR]
        [--resume[=auto]] [--allow-config-change] [--amp] [--seed S]
        [--deterministic] [--cfg-options k=v ...]
        [--launcher {none,pytorch,slurm}]

The flags are those of mmseg's ``tools/train.py`` (plus ``--seed`` and
``--deterministic``), and a config may set ``runner_type``.

Every round writes, in the work dir, al_state/round_XX.npz (the labelled
pixels), metrics.json, queries/round_XX.json (+ overlays) and curve.png.
``--resume`` continues from the last complete round. A run holds an
exclusive lock on its work dir (``al_run.lock``) while it runs.

Exit status: 0 when all rounds are done; 3 when a FileOracle run waits for
an annotator (the message names the file to fill in); 1 on errors.
"""
import argparse
import datetime
import importlib.util
import os
import os.path as osp
import sys
from contextlib import nullcontext
from typing import Iterator, List, Optional

# OpenMP threads (torch's CPU kernels) sleep while they wait for work
# instead of spinning: on a CPU shared with other jobs, spinning threads burn
# the time slices the working ones need (README, "CPU threads"). libgomp
# reads this when torch is loaded, hence before the imports below; a value
# set in the environment wins.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')

import torch  # noqa: E402
import torch.distributed as torch_dist  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmseg_al.datasets import converter_of, generates_its_data  # noqa: E402
from mmseg_al.annotation import AnnotationRequired  # noqa: E402
from mmseg_al.engine import mmengine_checkpoints_allowed  # noqa: E402
from mmseg_al.state.work_dir_lock import WorkDirLock  # noqa: E402

#: Exit status while a round's queries wait for an annotator.
EXIT_AWAITING_ANNOTATION = 3
#: Where the released diffusion checkpoints come from (guided-diffusion).
CHECKPOINT_URLS = {
    '256x256_diffusion_uncond.pt':
    'https://openaipublic.blob.core.windows.net/diffusion/jul-2021/'
    '256x256_diffusion_uncond.pt',
    'lsun_bedroom.pt':
    'https://openaipublic.blob.core.windows.net/diffusion/jul-2021/'
    'lsun_bedroom.pt',
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Low-budget pixel active learning with mmseg-al')
    parser.add_argument('config', help='experiment config file')
    parser.add_argument(
        '--work-dir',
        help='where state, metrics and logs go (default: '
        'work_dirs/<config name>)')
    parser.add_argument(
        '--resume',
        nargs='?',
        const=True,
        default=False,
        type=resume_mode,
        metavar='auto',
        help='continue the run in the work dir from its last complete round '
        '(an error if there is none); --resume=auto starts a fresh run when '
        'the work dir holds none')
    parser.add_argument(
        '--allow-config-change',
        action='store_true',
        help='resume although settings that determine the selections '
        'differ from those the run was started with (listed as a warning)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed-precision head training (AmpOptimWrapper on GPUs, '
        'bfloat16 autocast on CPUs)')
    parser.add_argument(
        '--seed', type=int, help='random seed (default: the config\'s)')
    parser.add_argument(
        '--deterministic',
        action='store_true',
        help='use deterministic algorithms (cudnn etc.)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. train_cfg.rounds=5')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm'],
        default='none',
        help='job launcher for distributed runs')
    # torch.distributed.launch passes --local-rank (torch >= 2.0)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def resume_mode(value: str) -> str:
    """The only value ``--resume`` takes: ``auto``."""
    if value != 'auto':
        raise argparse.ArgumentTypeError(
            f'--resume takes no value or "auto", got {value!r} (put the '
            'config file first: al_train.py CONFIG --resume)')
    return value


def build_config(args: argparse.Namespace) -> Config:
    """The config with the command-line settings applied."""
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.resume = args.resume
    cfg.allow_config_change = args.allow_config_change
    if args.amp:
        enable_amp(cfg)
    randomness = dict(cfg.get('randomness', None) or {})
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness
    add_tensorboard_backend(cfg)
    return cfg


def enable_amp(cfg: Config) -> None:
    """Mixed precision as mmseg's ``tools/train.py --amp`` sets it, with
    bfloat16 autocasting where there is no GPU for AmpOptimWrapper."""
    optim_wrapper = cfg.optim_wrapper
    if optim_wrapper.get('type') in ('AmpOptimWrapper',
                                     'AutocastOptimWrapper'):
        return
    if torch.cuda.is_available():
        optim_wrapper.type = 'AmpOptimWrapper'
        optim_wrapper.loss_scale = 'dynamic'
    else:
        optim_wrapper.type = 'AutocastOptimWrapper'
        optim_wrapper.dtype = 'bfloat16'


def add_tensorboard_backend(cfg: Config) -> None:
    """Log to TensorBoard as well when it is installed."""
    if importlib.util.find_spec('tensorboard') is None:
        return
    visualizer = cfg.get('visualizer', None)
    if visualizer is None:
        return
    backends = list(visualizer.get('vis_backends', None) or [])
    if not any(b.get('type') == 'TensorboardVisBackend' for b in backends):
        backends.append(dict(type='TensorboardVisBackend'))
        visualizer['vis_backends'] = backends


def _dataset_cfgs(cfg: dict) -> Iterator[dict]:
    """A dataset config and the datasets it wraps."""
    while isinstance(cfg, dict):
        yield cfg
        cfg = cfg.get('dataset')


def check_inputs(cfg: Config) -> None:
    """Fail before any heavy work when data or weights are missing.

    Raises:
        FileNotFoundError: naming the missing directory and the converter
            to run, or the missing checkpoint, where to download it and
            where to put it.
    """
    for key in ('train_dataloader', 'val_dataloader'):
        loader = cfg.get(key, None) or {}
        for dataset in _dataset_cfgs(loader.get('dataset')):
            check_data_root(dataset, key)
    check_backbone_checkpoint(cfg)


def check_data_root(dataset: dict, key: str) -> None:
    dataset_type = str(dataset.get('type', ''))
    root = dataset.get('data_root')
    if root is None or generates_its_data(dataset_type):
        return
    prefix = dataset.get('data_prefix', None) or {}
    img_dir = osp.join(root, prefix.get('img_path', ''))
    if osp.isdir(img_dir):
        return
    converter = converter_of(dataset_type)
    how = (f'Run {converter} (see python {converter} --help) to convert the '
           f'raw {dataset_type[:-len("Dataset")] or "dataset"} into {root}'
           if converter else
           f'Convert the dataset into the layout {root}/img_dir, '
           f'{root}/ann_dir (converters: tools/dataset_converters/)')
    raise FileNotFoundError(
        f'{key}: the image directory {img_dir} of {dataset_type} does not '
        f'exist. {how}, or point {key}.dataset data_root elsewhere with '
        '--cfg-options.')


def _hook_outputs(cfg: Config) -> List[str]:
    """Paths named in custom hooks (a hook may create the checkpoint)."""
    paths = []
    for hook in cfg.get('custom_hooks', None) or []:
        paths.extend(
            osp.normpath(v) for v in hook.values() if isinstance(v, str))
    return paths


def check_backbone_checkpoint(cfg: Config) -> None:
    model = cfg.get('model', None) or {}
    checkpoint = (model.get('backbone', None) or {}).get('checkpoint')
    if not checkpoint or osp.isfile(checkpoint):
        return
    if osp.normpath(checkpoint) in _hook_outputs(cfg):
        return
    name = osp.basename(checkpoint)
    url = CHECKPOINT_URLS.get(name)
    source = (f'Download {url}' if url else
              f'Obtain {name} (e.g. train one with tools/pretrain_ddpm.py)')
    raise FileNotFoundError(
        f'The backbone checkpoint {checkpoint} does not exist. {source} and '
        f'put it at {osp.abspath(checkpoint)}, or set '
        'model.backbone.checkpoint with --cfg-options.')


def init_cpu_distributed(cfg: Config) -> None:
    """Start the process group of a CPU-only torchrun job (gloo).

    mmengine's ``init_dist`` selects a CUDA device first, which fails
    without one; the runner skips it when the group already exists.
    ``env_cfg.dist_cfg.timeout`` (seconds) bounds every collective, so a
    job whose peer died fails instead of waiting forever.
    """
    if cfg.launcher != 'pytorch' or torch.cuda.is_available() or \
            torch_dist.is_initialized():
        return
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    timeout = dist_cfg.get('timeout')
    torch_dist.init_process_group(
        dist_cfg.get('backend', 'gloo'),
        timeout=None if timeout is None else datetime.timedelta(
            seconds=timeout))


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    cfg = build_config(args)
    check_inputs(cfg)
    # one run per work dir; ranks > 0 of a distributed run share rank 0's
    lock = WorkDirLock(cfg.work_dir) if launch_rank(args.launcher) == 0 \
        else nullcontext()
    with lock:
        init_cpu_distributed(cfg)
        runner = (Runner.from_cfg(cfg) if 'runner_type' not in cfg else
                  RUNNERS.build(cfg))
        try:
            # --resume and load_from read mmengine checkpoints with torch's
            # weights_only loader: allow exactly what they hold, here only
            with mmengine_checkpoints_allowed():
                runner.train()
        except AnnotationRequired as waiting:
            runner.logger.info(str(waiting))
            print(waiting, file=sys.stderr)
            return EXIT_AWAITING_ANNOTATION
    return 0


def launch_rank(launcher: str) -> int:
    """This process's rank, from the launcher's environment (read before
    the process group exists)."""
    variable = {'pytorch': 'RANK', 'slurm': 'SLURM_PROCID'}.get(launcher)
    return int(os.environ.get(variable, 0)) if variable else 0


if __name__ == '__main__':
    sys.exit(main())
