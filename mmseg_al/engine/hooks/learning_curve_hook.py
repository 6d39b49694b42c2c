"""curve.png: mIoU against labelled pixels, redrawn after every round."""
import os

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ..learning_curve import plot_learning_curve
from ..metrics_log import MetricsLog


@HOOKS.register_module()
class LearningCurveHook(Hook):
    """Plot ``metrics.json`` (written by ``RoundMetricsHook``, which runs
    first) into ``curve.png`` in the work dir after every evaluation of an
    active-learning run.

    Args:
        file_name: the image written in the work dir.
    """

    priority = 'VERY_LOW'

    def __init__(self, file_name: str = 'curve.png') -> None:
        self.file_name = file_name

    def after_val_epoch(self, runner, metrics=None) -> None:
        log = MetricsLog(runner.work_dir)
        if not is_main_process() or not metrics or \
                not os.path.exists(log.path):
            return
        plot_learning_curve(
            log.load().entries, os.path.join(runner.work_dir, self.file_name),
            title=os.path.basename(os.path.normpath(runner.work_dir)))
