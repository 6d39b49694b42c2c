"""Fail early, and helpfully, when mmcv was installed without compiled ops."""

MMCV_OPS_HINT = (
    'mmseg-al needs mmcv 2.1.0 built with its compiled ops (mmcv.ops), '
    'because mmsegmentation 1.2.2 imports them. Install it with\n'
    '    bash tools/install.sh\n'
    'or by hand:\n'
    '    pip install "setuptools<70" wheel\n'
    '    MMCV_WITH_OPS=1 pip install --no-build-isolation mmcv==2.1.0\n'
    '(mmcv-lite and mmcv>=2.2 do not work with mmsegmentation 1.2.2).')


def check_mmcv_ops() -> None:
    """Raise ImportError with the fix when ``mmcv.ops`` cannot be imported."""
    try:
        from mmcv.ops import point_sample  # noqa: F401
    except Exception as exc:  # ImportError, or OSError from a bad .so
        raise ImportError(f'{MMCV_OPS_HINT}\nOriginal error: {exc!r}') from exc
