"""What the runs that train a pixel head share, as an mmengine loop.

Such a run's epochs are trained-and-evaluated heads (the rounds of an
active-learning run; the one head of the fully supervised reference) and
its iterations are the heads' training steps, so mmengine's hooks see
``epoch``, ``iter`` and ``max_iters`` as they would in a train loop.

The loop records every evaluation in ``metrics.json`` itself (it decides
from that record which rounds a resumed run has done) and publishes the
learning curve in the message hub (``al/learning_curve``) for hooks.
"""
import time
from typing import Dict, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.model import is_model_wrapper
from mmengine.runner.base_loop import BaseLoop
from torch import Tensor

from mmseg_al.evaluation.per_class_iou_metric import CLASS_IOU_PREFIX
from mmseg_al.state.run_dir import RunDir

from ..training.batch_norm_calibration import (calibration_pixels,
                                               head_batch_norms)
from ..training.head_trainer import HeadTrainer, HeadTrainingConfig
from .protocols import PixelModel, PixelPool, check_protocol


class HeadLoop(BaseLoop):
    """Base of :class:`~mmseg_al.engine.ActiveLearningLoop` and
    :class:`~mmseg_al.engine.FullySupervisedLoop`.

    Args:
        runner: the mmengine runner; its model must follow
            :class:`~mmseg_al.engine.runner.protocols.PixelModel`, and its
            ``optim_wrapper`` and ``param_scheduler`` configs are rebuilt
            for every head.
        dataloader: the pool; its dataset must follow
            :class:`~mmseg_al.engine.runner.protocols.PixelPool`
            (``PixelSparseDataset``).
        head_training: :class:`HeadTrainingConfig` fields.
        feature_batch_size: images per backbone call.
        seed: None takes the runner's seed.
    """

    def __init__(self, runner, dataloader,
                 head_training: Optional[dict] = None,
                 feature_batch_size: int = 8,
                 seed: Optional[int] = None) -> None:
        super().__init__(runner, dataloader)
        #: The pool; ``self.dataloader`` becomes each head's training
        #: loader (LoggerHook reads the current loop's dataloader length).
        self.pool = self.dataloader.dataset
        check_protocol(self.pool, PixelPool, 'train_dataloader.dataset',
                       'Wrap it: dataset=dict(type="PixelSparseDataset", '
                       'dataset=dict(type=...))')
        self.feature_batch_size = feature_batch_size
        self.seed = runner.seed if seed is None else seed
        self.head_trainer = HeadTrainer(
            runner, HeadTrainingConfig(**(head_training or {})), self.seed)
        self._epoch = 0
        self._calibration: Optional[Tensor] = None
        self._calibration_pixels: Optional[Dict[int, Tensor]] = None
        self.run_dir = RunDir(runner.work_dir)
        #: The evaluated heads so far (``metrics.json``).
        self.metrics = self.run_dir.metrics

    @property
    def max_iters(self) -> int:
        """Where ``iter`` ends if the current head runs all its epochs."""
        return self.head_trainer.max_iters

    @property
    def epoch(self) -> int:
        """The current head (round)."""
        return self._epoch

    @property
    def iter(self) -> int:
        """Head training iterations so far (in this process)."""
        return self.head_trainer.iter

    @property
    def model(self) -> PixelModel:
        model = self.runner.model
        return model.module if is_model_wrapper(model) else model

    @property
    def work_dir(self) -> str:
        return self.runner.work_dir

    def _check_runner(self) -> None:
        """The model and the val loop a head loop needs."""
        check_protocol(self.model, PixelModel, 'model')
        if self.runner.val_loop is None:
            raise ValueError(f'{type(self).__name__} evaluates every head: '
                             'the config needs val_dataloader, val_cfg and '
                             'val_evaluator')

    def _calibration_request(self) -> Dict[int, Tensor]:
        """``{image: pixels}`` of the run's BatchNorm calibration sample
        (``head_training.bn_calibration_pixels``; empty when 0 or when the
        head has no BatchNorm), drawn once."""
        if self._calibration_pixels is None:
            count = self.head_trainer.settings.bn_calibration_pixels
            self._calibration_pixels = calibration_pixels(
                self.pool.image_ids, self.pool.image_shapes, count,
                self.seed) if count and head_batch_norms(self.model) else {}
        return self._calibration_pixels

    def _calibration_features(self, features) -> Optional[Tensor]:
        """The clean features of the calibration sample (None without
        one), extracted on first use and kept: they are the same in every
        round."""
        if self._calibration is None and self._calibration_request():
            self._calibration = torch.cat(list(features.gathered(
                self._calibration_request(), 'calibration').values()))
        return self._calibration

    def _evaluate(self, labelled_pixels: int,
                  seconds: Dict[str, float],
                  expanded_pixels: Optional[int] = None) -> None:
        """Run the val loop and record the head of this epoch in
        ``metrics.json`` (``labelled_pixels``: the clicks;
        ``expanded_pixels``: with region expansion, the pixels their
        regions added); LoggerHook logs the figures to every backend."""
        hub = self.runner.message_hub
        hub.update_scalar('val/labelled_pixels', labelled_pixels)
        if expanded_pixels is not None:
            hub.update_scalar('val/expanded_pixels', expanded_pixels)
        start = time.perf_counter()
        results = self.runner.val_loop.run()
        seconds['evaluate'] = time.perf_counter() - start
        if 'mIoU' not in results:
            raise KeyError(f'{type(self).__name__} reports mIoU: '
                           "val_evaluator must be dict(type="
                           "'PerClassIoUMetric', iou_metrics=['mIoU']); it "
                           f'returned {sorted(results)}')
        per_class = {key[len(CLASS_IOU_PREFIX):]: value
                     for key, value in results.items()
                     if key.startswith(CLASS_IOU_PREFIX)}
        self.metrics.record(self.epoch, labelled_pixels, results['mIoU'],
                            per_class, seconds, self._passes(),
                            expanded_pixels)
        if is_main_process():
            self.metrics.save()
        hub.update_info('al/learning_curve', list(self.metrics.entries))

    def _passes(self) -> Dict[str, int]:
        """UNet passes (images through the backbone) since the last
        evaluation, by purpose, including that evaluation's."""
        passes = dict(self.features.passes)
        self.features.passes.clear()
        evaluation = getattr(self.model, 'dense_passes', None)
        passes['evaluation'] = len(self.runner.val_loop.dataloader.dataset) \
            if evaluation is None else evaluation
        if evaluation is not None:
            self.model.dense_passes = 0
        return passes

    def _log_curve(self) -> None:
        """The run's table of labelled pixels and mIoU, at its end."""
        self.runner.logger.info(
            f'{type(self).__name__} finished:\n' + self.metrics.table())
