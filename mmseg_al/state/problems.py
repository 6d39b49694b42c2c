"""One error message for many bad records, so they can be fixed in one pass."""
from typing import Sequence


def list_problems(summary: str, problems: Sequence[str], limit: int) -> str:
    """``summary`` followed by the first ``limit`` problems, one per line.

    Args:
        summary: the first line, e.g. ``'3 bad row(s), nothing imported:'``.
        problems: one description per bad record.
        limit: how many to list; the rest are counted.
    """
    shown = list(problems[:limit])
    more = len(problems) - len(shown)
    return '\n  '.join([summary, *shown] +
                       ([f'... and {more} more'] if more else []))
