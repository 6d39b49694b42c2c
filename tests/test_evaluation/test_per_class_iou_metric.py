import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from mmseg_al.evaluation import PerClassIoUMetric


def test_per_class_iou_is_part_of_the_metrics():
    evaluator = Evaluator(PerClassIoUMetric(iou_metrics=['mIoU']))
    evaluator.dataset_meta = dict(classes=('a', 'b', 'c'))
    pred = torch.tensor([[0, 0, 1, 1]])
    gt = torch.tensor([[0, 1, 1, 255]])
    sample = dict(pred_sem_seg=dict(data=pred), gt_sem_seg=dict(data=gt))
    evaluator.process([sample])
    metrics = evaluator.evaluate(1)
    # a: 1 / (1 + 1) ; b: 1 / (2 + 1 - 1) ; c: never present nor predicted
    assert metrics['IoU.a'] == pytest.approx(50.0)
    assert metrics['IoU.b'] == pytest.approx(50.0)
    assert np.isnan(metrics['IoU.c'])
    assert metrics['mIoU'] == pytest.approx(50.0)
