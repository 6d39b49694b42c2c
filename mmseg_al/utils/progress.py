"""Progress bars for the long loops (feature extraction, herding, scoring)."""
from typing import Iterable, Optional, TypeVar

from tqdm.auto import tqdm

T = TypeVar('T')


def track(iterable: Iterable[T], desc: str, total: Optional[int] = None,
          enabled: Optional[bool] = None) -> Iterable[T]:
    """Wrap ``iterable`` in a progress bar.

    ``enabled=None`` shows the bar only on an interactive terminal, so logs
    and CI output stay clean; pass ``True``/``False`` to force it.
    """
    return tqdm(iterable, desc=desc, total=total, leave=False,
                disable=None if enabled is None else not enabled,
                dynamic_ncols=True)
