"""curve.png: mIoU against the number of labelled pixels, redrawn after
every round."""
import io
import os
from typing import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from mmseg_al.state.atomic_io import atomic_write_bytes
from mmseg_al.state.run_dir import RunDir


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


@HOOKS.register_module()
class LearningCurveHook(Hook):
    """Plot the run's learning curve (the entries the loop publishes in the
    message hub as ``al/learning_curve`` after each evaluation) into the
    work dir's ``curve.png`` after every round."""

    priority = 'VERY_LOW'

    def after_train_epoch(self, runner) -> None:
        entries = runner.message_hub.get_info('al/learning_curve')
        if not is_main_process() or not entries:
            return
        work_dir = RunDir(runner.work_dir)
        plot_learning_curve(
            entries, work_dir.curve_file,
            title=os.path.basename(os.path.normpath(runner.work_dir)))
