"""A run rebuilt from its work directory, for the tools.

A run with ``FileOracle`` stops after writing a round's selection; tools
that help a person answer it (``tools/annotate.py``,
``tools/label_studio.py``) rebuild the run's pool from the config the
runner saved in the work directory and load that pending selection; those
that write its answers hold the work dir's lock meanwhile, as a run does.
``tools/export_labels.py`` loads the labels a run has saved.
"""
import glob
import os
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Tuple

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

from mmseg_al.state import LabelStore
from mmseg_al.state.run_dir import RunDir
from mmseg_al.state.run_file import resolve_budget
from mmseg_al.state.work_dir_lock import WorkDirLock
from .query_round import PoolImages, QueryRound
from .round_answers import RoundAnswers


def saved_config(work_dir: str) -> str:
    """The config file mmengine's runner saved in ``work_dir``."""
    found = sorted(glob.glob(os.path.join(work_dir, '*.py')))
    if len(found) != 1:
        what = 'no config file' if not found else \
            f'{len(found)} config files ({", ".join(found)})'
        raise FileNotFoundError(
            f'{work_dir} holds {what}; the run\'s config is saved there as '
            '<name>.py: name it with --config')
    return found[0]


def saved_pool(work_dir: str, config: Optional[str] = None) -> Any:
    """The run's pool dataset, built from its config (default: the one
    saved in ``work_dir``)."""
    cfg = Config.fromfile(config or saved_config(work_dir))
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return DATASETS.build(cfg.train_dataloader.dataset)


def load_labels(work_dir: str, config: Optional[str] = None,
                round_idx: Optional[int] = None) -> Tuple[LabelStore, Any]:
    """The labels ``work_dir``'s run saved after ``round_idx`` (default:
    its latest round), and the run's pool.

    Raises:
        StateFileError: no such saved state, or it belongs to another
            dataset (the message names the file and the rounds saved).
    """
    pool = saved_pool(work_dir, config)
    store = LabelStore.load(RunDir(work_dir).state_dir, pool.image_ids,
                            pool.image_shapes, pool.num_classes, round_idx)
    return store, pool


def load_pending_round(work_dir: str,
                       config: Optional[str] = None) -> QueryRound:
    """The queries of the round that ``work_dir``'s run waits on.

    Args:
        work_dir: the run's work directory.
        config: the run's config file (default: the one saved in
            ``work_dir``).

    Raises:
        FileNotFoundError: no round waits for labels there, or no config.
    """
    config = config or saved_config(work_dir)
    run_dir = RunDir(work_dir)
    round_idx = run_dir.pending_round()
    if round_idx is None:
        latest = run_dir.latest_labelled_round()
        waiting = 0 if latest is None else latest + 1
        raise FileNotFoundError(
            f'{work_dir}: no round waits for labels (round {waiting} has '
            f'no pending selection {run_dir.queries(waiting).selection_file})'
            "; a run with oracle=dict(type='FileOracle') writes one when it "
            'stops')
    pool = saved_pool(work_dir, config)
    store = LabelStore(pool.image_ids, pool.image_shapes, pool.num_classes) \
        if round_idx == 0 else LabelStore.load(
            run_dir.state_dir, pool.image_ids, pool.image_shapes,
            pool.num_classes)
    budget = Config.fromfile(config).get('train_cfg', {}).get('budget')
    pending = run_dir.queries(round_idx)
    image_ids, pixels, _ = pending.load(
        store, budget and resolve_budget(budget, len(pool.image_ids)))
    return QueryRound(round_idx=round_idx, image_ids=image_ids, pixels=pixels,
                      run_dir=run_dir, images=PoolImages(pool),
                      num_classes=pool.num_classes,
                      ignore_index=pool.ignore_index,
                      regions=pending.load_regions(len(pixels)))


@contextmanager
def pending_answers(work_dir: str,
                    config: Optional[str] = None) -> Iterator[RoundAnswers]:
    """The answers of the round ``work_dir``'s run waits on, to write.

    The work dir stays locked (:class:`WorkDirLock`) until the block ends:
    two processes rewriting one query file would lose each other's
    answers, and a resumed run must not read it half written.

    Raises:
        FileNotFoundError: no such work dir, no config or no pending round.
        WorkDirLockedError: a run or another annotator holds the work dir
            (its PID is named).
    """
    if not os.path.isdir(work_dir):
        raise FileNotFoundError(f'{work_dir}: no such work directory')
    with WorkDirLock(work_dir):
        yield RoundAnswers(load_pending_round(work_dir, config))
