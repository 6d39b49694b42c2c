"""Building selectors, with the run's Stage-1 candidate set as a default."""
import inspect
from typing import Optional

from mmseg_al.registry import TASK_UTILS


def build_selector(cfg: dict, stage1: Optional[dict] = None):
    """Build the selector ``cfg`` from ``TASK_UTILS``.

    ``stage1`` (the loop's ``train_cfg.stage1``) is the Stage-1 candidate
    set of every selector that takes one and whose config sets none, so a
    config defines it once and a child config overrides it once.

    Args:
        cfg: selector config (``type`` registered in ``TASK_UTILS``).
        stage1: default Stage-1 candidate-set config.
    """
    cfg = dict(cfg)
    selector_type = TASK_UTILS.get(cfg['type']) if isinstance(
        cfg.get('type'), str) else cfg.get('type')
    if selector_type is None:
        raise KeyError(f"selector type {cfg['type']!r} is not registered "
                       "in mmseg's TASK_UTILS (is mmseg_al imported?)")
    if stage1 is not None and cfg.get('stage1') is None and \
            'stage1' in inspect.signature(selector_type).parameters:
        cfg['stage1'] = stage1
    return TASK_UTILS.build(cfg)
