"""Building selectors and their parts from configs in any default scope."""
from mmengine.registry import DefaultScope

from mmseg_al.registry import SELECTORS


def build_selector(cfg: dict):
    """Build ``cfg`` from :data:`SELECTORS`.

    Inside an mmseg runner the default scope is ``'mmseg'``, where a plain
    ``SELECTORS.build`` would look selectors up in mmseg's registries and
    fail; the scope is therefore switched to mmseg-al's for the build
    (nested builds included).

    Args:
        cfg: config dict with a ``type`` registered in ``SELECTORS``.
    """
    with DefaultScope.overwrite_default_scope(SELECTORS.scope):
        return SELECTORS.build(cfg)
