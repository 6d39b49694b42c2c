"""curve.png: mIoU against the number of labelled pixels."""
import io
import os
from typing import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mmseg_al.state.atomic_io import atomic_write_bytes


def plot_learning_curve(entries: Sequence[dict], path: str,
                        title: str = '') -> str:
    """Plot ``metrics.json`` entries and save the figure to ``path``.

    Draws on its own Agg canvas, so the process's matplotlib backend (and
    pyplot's state) is left alone; the file is replaced atomically.

    Args:
        entries: ``{"labelled_pixels", "mIoU", ...}`` dicts, by round.
        path: the PNG to write.
        title: figure title (e.g. the config name).

    Returns:
        ``path``.
    """
    points = [(e['labelled_pixels'], e['mIoU']) for e in entries
              if e['mIoU'] is not None]
    fig = Figure(figsize=(5, 3.5), dpi=120)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if points:
        xs, ys = zip(*points)
        ax.plot(xs, ys, marker='o')
    ax.set_xlabel('labelled pixels')
    ax.set_ylabel('mIoU (%)')
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return path
