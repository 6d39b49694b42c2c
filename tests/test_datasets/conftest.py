"""Dataset tests build pipelines the way configs do: in mmseg's scope."""
import pytest
from mmengine.registry import init_default_scope


@pytest.fixture(autouse=True)
def mmseg_scope():
    """Resolve pipeline transforms in mmseg's registries, as configs do."""
    init_default_scope('mmseg')
