"""metrics.json: the learning curve of an active-learning run, one entry
per evaluated round."""
import time
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from mmseg_al.evaluation.per_class_iou_metric import CLASS_IOU_PREFIX
from mmseg_al.state import LabelStore
from ..metrics_log import MetricsLog


@HOOKS.register_module()
class RoundMetricsHook(Hook):
    """Record every round's evaluation in ``metrics.json`` and print the
    table of the whole run at its end.

    An entry holds the round (the loop's epoch), the labelled pixels and
    phase timings the loop published in the message hub (``al/...``), and
    the val metrics: ``mIoU`` and the per-class ``IoU.<class>`` of
    ``PerClassIoUMetric``. The file is rewritten atomically after every
    round; on resume, entries past the saved labels are dropped.
    Evaluations outside an active-learning run are ignored.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self.log: Optional[MetricsLog] = None
        self._val_start = 0.0

    def before_train(self, runner) -> None:
        latest = LabelStore.latest_round(runner.work_dir)
        self.log = MetricsLog(runner.work_dir).load(
            last_round=-1 if latest is None else latest)

    def before_val_epoch(self, runner) -> None:
        self._val_start = time.perf_counter()

    def after_val_epoch(self, runner,
                        metrics: Optional[Dict[str, float]] = None) -> None:
        if self.log is None or not metrics:
            return
        hub = runner.message_hub
        seconds = dict(hub.get_info('al/seconds') or {})
        seconds['evaluate'] = time.perf_counter() - self._val_start
        per_class = {
            key[len(CLASS_IOU_PREFIX):]: value
            for key, value in metrics.items()
            if key.startswith(CLASS_IOU_PREFIX)
        }
        self.log.record(runner.epoch, hub.get_info('al/labelled_pixels'),
                        metrics['mIoU'], per_class, seconds)
        if is_main_process():
            self.log.save()

    def after_train(self, runner) -> None:
        if self.log is not None:
            loop = type(runner.train_loop).__name__
            runner.logger.info(f'{loop} finished:\n' + self.log.table())
