"""mmseg's IoUMetric, with the per-class IoU in its results.

IoUMetric computes every class's IoU but returns only the summary (mIoU,
aAcc, ...) and prints the per-class table to the log. Returned as metrics,
the per-class values reach every logger backend and the run's
``metrics.json``.
"""
from typing import Dict, List

import numpy as np
from mmseg.evaluation import IoUMetric
from mmseg.registry import METRICS

#: Prefix of the per-class keys: ``'IoU.<class name>'``.
CLASS_IOU_PREFIX = 'IoU.'


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    """``IoUMetric`` that also returns ``IoU.<class>`` (percent, NaN for a
    class neither present nor predicted). Same arguments as ``IoUMetric``.
    """

    def compute_metrics(self, results: List) -> Dict[str, float]:
        summary = super().compute_metrics(results)
        areas = [sum(column) for column in zip(*results)]
        iou = self.total_area_to_metrics(*areas, ['mIoU'], self.nan_to_num,
                                         self.beta)['IoU']
        names = self.dataset_meta['classes']
        summary.update({
            CLASS_IOU_PREFIX + name: float(value) * 100
            for name, value in zip(names, np.asarray(iou))
        })
        return summary
