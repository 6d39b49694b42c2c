import json
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmseg.evaluation import IoUMetric

from mmseg_al.engine.class_iou import capture_class_iou
from mmseg_al.engine.learning_curve import plot_learning_curve
from mmseg_al.engine.metrics_log import MetricsLog


def test_record_load_and_truncate(tmp_path):
    log = MetricsLog(str(tmp_path))
    for r in range(3):
        log.record(r, 5 * (r + 1), 10.0 + r + 0.004,
                   {'sky': 20.0, 'road': math.nan}, {'train': 1.23456})
    log.save()
    with open(tmp_path / 'metrics.json') as file:
        saved = json.load(file)
    assert saved['rounds'][1] == {
        'round': 1, 'labelled_pixels': 10, 'mIoU': 11.0,
        'per_class_IoU': {'sky': 20.0, 'road': None},
        'seconds': {'train': 1.235}}
    # labels saved only up to round 1: round 2's entry is recomputed
    resumed = MetricsLog(str(tmp_path)).load(last_round=1)
    assert [e['round'] for e in resumed.entries] == [0, 1]
    assert resumed.entry(2) is None and resumed.entry(1)['mIoU'] == 11.0
    assert resumed.table().splitlines() == [
        'round  labelled pixels    mIoU', '    0                5   10.00',
        '    1               10   11.00']


def test_unreadable_metrics_file_names_itself(tmp_path):
    for text in ('{"rows": []}', '{"rounds": [{"mIoU": 1}]}', '[1, 2'):
        (tmp_path / 'metrics.json').write_text(text)
        with pytest.raises(ValueError, match='metrics.json is not a metrics'):
            MetricsLog(str(tmp_path)).load(last_round=0)


def test_curve_is_written(tmp_path):
    entries = [dict(labelled_pixels=5, mIoU=10.0),
               dict(labelled_pixels=10, mIoU=None)]
    path = plot_learning_curve(entries, str(tmp_path / 'curve.png'), 'toy')
    with open(path, 'rb') as file:
        assert file.read(8) == b'\x89PNG\r\n\x1a\n'


def test_per_class_iou_is_captured_from_the_evaluation():
    evaluator = Evaluator(IoUMetric(iou_metrics=['mIoU']))
    evaluator.dataset_meta = dict(classes=('a', 'b', 'c'))
    pred = torch.tensor([[0, 0, 1, 1]])
    gt = torch.tensor([[0, 1, 1, 255]])
    sample = dict(pred_sem_seg=dict(data=pred), gt_sem_seg=dict(data=gt))
    metric = evaluator.metrics[0]
    with capture_class_iou(evaluator) as per_class:
        evaluator.process([sample])
        summary = evaluator.evaluate(1)
    # a: 1 / (1 + 1) ; b: 1 / (2 + 1 - 1) ; c: never present nor predicted
    assert per_class['a'] == pytest.approx(50.0)
    assert per_class['b'] == pytest.approx(50.0)
    assert np.isnan(per_class['c'])
    assert summary['mIoU'] == pytest.approx(50.0)
    assert 'compute_metrics' not in vars(metric)  # unwrapped again
