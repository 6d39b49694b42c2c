"""Per-class IoU from the evaluation mmseg's IoUMetric already does.

IoUMetric returns only the summary (mIoU, aAcc...) and prints the per-class
table to the log. :func:`capture_class_iou` wraps the IoUMetric instances of
an evaluator for one evaluation so the per-class IoU computed from the very
same accumulated areas is kept as well.
"""
from contextlib import contextmanager
from typing import Dict, Iterator

import numpy as np
from mmseg.evaluation import IoUMetric


@contextmanager
def capture_class_iou(evaluator) -> Iterator[Dict[str, float]]:
    """Collect ``{class name: IoU percent}`` while ``evaluator`` runs.

    Args:
        evaluator: an mmengine ``Evaluator``; its ``IoUMetric`` instances
            are wrapped (other metrics are left alone) and restored on exit.

    Yields:
        A dict filled by the evaluation (on the rank that computes metrics;
        NaN for a class neither present nor predicted).
    """
    captured: Dict[str, float] = {}
    wrapped = [m for m in evaluator.metrics if isinstance(m, IoUMetric)]

    def wrap(metric):
        compute = metric.compute_metrics

        def compute_and_capture(results: list) -> dict:
            summary = compute(results)
            areas = [sum(column) for column in zip(*results)]
            iou = metric.total_area_to_metrics(
                *areas, ['mIoU'], metric.nan_to_num, metric.beta)['IoU']
            names = metric.dataset_meta['classes']
            captured.update({
                name: float(value) * 100
                for name, value in zip(names, np.asarray(iou))
            })
            return summary

        metric.compute_metrics = compute_and_capture

    for metric in wrapped:
        wrap(metric)
    try:
        yield captured
    finally:
        for metric in wrapped:
            del metric.compute_metrics
