"""curve.png: mIoU against the number of labelled pixels."""
import os
from typing import Sequence

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def plot_learning_curve(entries: Sequence[dict], path: str,
                        title: str = '') -> str:
    """Plot ``metrics.json`` entries and save the figure to ``path``.

    Args:
        entries: ``{"labelled_pixels", "mIoU", ...}`` dicts, by round.
        path: the PNG to write.
        title: figure title (e.g. the config name).

    Returns:
        ``path``.
    """
    points = [(e['labelled_pixels'], e['mIoU']) for e in entries
              if e['mIoU'] is not None]
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    try:
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker='o')
        ax.set_xlabel('labelled pixels')
        ax.set_ylabel('mIoU (%)')
        ax.set_title(title)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
