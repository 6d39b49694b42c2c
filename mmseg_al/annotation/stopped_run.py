"""The round a stopped run waits on, rebuilt from its work directory.

A run with ``FileOracle`` stops after writing a round's selection; tools
that help a person answer it (``tools/annotate.py``,
``tools/label_studio.py``) rebuild the run's pool from the config the
runner saved in the work directory and load that pending selection.
"""
import glob
import os
from typing import Optional

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS

from mmseg_al.engine.active_learning_loop import QUERY_DIR
from mmseg_al.engine.oracles import QueryRound
from mmseg_al.engine.pending_queries import PendingQueries
from mmseg_al.state import LabelStore


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


def load_pending_round(work_dir: str,
                       config: Optional[str] = None) -> QueryRound:
    """The queries of the round that ``work_dir``'s run waits on.

    Args:
        work_dir: the run's work directory.
        config: the run's config file (default: the one saved in
            ``work_dir``).

    Raises:
        FileNotFoundError: no round waits for labels there.
    """
    cfg = Config.fromfile(config or saved_config(work_dir))
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    latest = LabelStore.latest_round(work_dir)
    round_idx = 0 if latest is None else latest + 1
    pending = PendingQueries(os.path.join(work_dir, QUERY_DIR), round_idx)
    selection = pending.load()
    if selection is None:
        raise FileNotFoundError(
            f'{work_dir}: no round waits for labels (round {round_idx} has '
            f'no pending selection {pending.selection_file}); a run with '
            "oracle=dict(type='FileOracle') writes one when it stops")
    image_ids, pixels, _ = selection
    pool = DATASETS.build(cfg.train_dataloader.dataset)
    return QueryRound(round_idx=round_idx, image_ids=image_ids, pixels=pixels,
                      query_file=pending.query_file, dataset=pool,
                      num_classes=pool.num_classes,
                      ignore_index=pool.ignore_index)
