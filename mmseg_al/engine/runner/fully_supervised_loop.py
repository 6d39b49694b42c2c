"""The fully supervised reference as an mmengine training loop."""
import time
from typing import Optional

from mmengine.dist import get_world_size
from mmseg.registry import LOOPS

from ..features.pool_features import PoolFeatures
from ..training.ground_truth_pixels import (check_images_per_group,
                                            ground_truth_pixel_loader)
from ..training.head_trainer import head_members
from .head_loop import HeadLoop


@LOOPS.register_module()
class FullySupervisedLoop(HeadLoop):
    """Train the head once on every pixel of the pool, then evaluate it.

    This is the "fully supervised" row of the eDALD tables (LEDM's own
    setting): the head learns from every non-void ground-truth pixel of
    the pool, with the same features, head training and evaluation as the
    active-learning runs. The features are streamed
    (:mod:`~mmseg_al.engine.training.ground_truth_pixels`), so each head
    epoch runs the backbone once per pool image and memory holds the
    features of ``images_per_group`` images (plus one backbone batch's
    while a group loads). ``metrics.json`` gets one entry, round 0, whose
    labelled pixels are all the non-void pixels.

    There is nothing to resume (no labels are acquired): ``--resume``
    trains the head again. It is not sharded: it runs in one process, on
    one GPU.

    Args:
        runner, dataloader, head_training, feature_batch_size, seed: see
            :class:`~mmseg_al.engine.runner.head_loop.HeadLoop`.
        images_per_group: images whose pixel features are held at once
            (256 x 256 images with LEDM's 8448-d features: 2.2 GB each in
            float32); the batches of a group mix only its pixels.
    """

    def __init__(self, runner, dataloader, images_per_group: int = 8,
                 head_training: Optional[dict] = None,
                 feature_batch_size: int = 8,
                 seed: Optional[int] = None) -> None:
        super().__init__(runner, dataloader, head_training,
                         feature_batch_size, seed)
        if get_world_size() > 1:
            raise RuntimeError(
                f'FullySupervisedLoop is not sharded, and {get_world_size()} '
                'processes would each train the whole head: run it in one '
                'process (tools/al_train.py without --launcher), on one GPU')
        self.images_per_group = check_images_per_group(images_per_group)

    @property
    def max_epochs(self) -> int:
        return 1

    def run(self):
        """Train and evaluate the head; returns the model."""
        model, runner = self.model, self.runner
        self._check_runner()
        model.seed_noise(self.seed)
        if runner.cfg.get('resume'):
            runner.logger.warning(
                'FullySupervisedLoop acquires no labels, so there is nothing '
                'to resume: the head is trained again')
        runner.call_hook('before_train')
        runner.call_hook('before_train_epoch')
        start = time.perf_counter()
        self.features = PoolFeatures(self.pool, model,
                                     self.feature_batch_size)
        self.dataloader = ground_truth_pixel_loader(
            self.features, self.images_per_group,
            self.head_trainer.settings.batch_size, self.seed,
            head_members(model))
        pixels = len(self.dataloader.dataset)
        try:
            result = self.head_trainer.fit(
                model, self.dataloader, 0,
                self._calibration_features(self.features))
        finally:  # the last group's features, before the dense evaluation
            self.dataloader.dataset.release()
        runner.logger.info(
            f'Head trained on all {pixels} ground-truth pixels of '
            f'{len(self.pool.image_ids)} images, {result.epochs} epochs / '
            f'{result.iterations} iterations, loss {result.loss:.4f}, '
            f'accuracy {result.accuracy:.3f}')
        self._evaluate(pixels, dict(train=time.perf_counter() - start))
        runner.call_hook('after_train_epoch')
        self._epoch = 1
        runner.call_hook('after_train')
        self._log_curve()
        return model
