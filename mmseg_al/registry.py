"""The one registry mmseg-al adds: active-learning selectors.

Everything else (models, datasets, loops, hooks) lives in mmseg's own
registries so that ordinary mmseg configs can use it.
"""
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import Registry

SELECTORS = Registry(
    'selector',
    parent=MMENGINE_TASK_UTILS,
    scope='mmseg_al',
    locations=['mmseg_al.selection'])
