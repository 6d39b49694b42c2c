"""The fully supervised reference as an mmengine training loop."""
import time
from typing import Optional

from mmseg.registry import LOOPS

from mmseg_al.state import LabelStore
from .feature_cache import FeatureCache
from .ground_truth_pixels import ground_truth_pixel_loader
from .head_loop import HeadLoop
from .head_training import head_members
from .pool_context import PoolSelectionContext
from .trained_state_broadcast import broadcast_trained_state


@LOOPS.register_module()
class FullySupervisedLoop(HeadLoop):
    """Train the head once on every pixel of the pool, then evaluate it.

    This is the "fully supervised" row of the eDALD tables (LEDM's own
    setting): the head learns from every non-void ground-truth pixel of
    the pool, with the same features, head training and evaluation as the
    active-learning runs. The features are streamed
    (:mod:`~mmseg_al.engine.ground_truth_pixels`), so each head epoch runs
    the backbone once per pool image and memory holds the features of
    ``images_per_group`` images. ``metrics.json`` gets one entry, round 0,
    whose labelled pixels are all the non-void pixels.

    There is nothing to resume (no labels are acquired): ``--resume``
    trains the head again. Every rank trains the same head on the whole
    pool, so one GPU is enough.

    Args:
        runner, dataloader, head_training, feature_batch_size, seed: see
            :class:`~mmseg_al.engine.head_loop.HeadLoop`.
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
        self.images_per_group = images_per_group

    @property
    def max_epochs(self) -> int:
        return 1

    def run(self):
        """Train and evaluate the head; returns the model."""
        model, runner = self.model, self.runner
        self._check_runner()
        model.seed_noise(self.seed)
        runner.call_hook('before_train')
        runner.call_hook('before_train_epoch')
        start = time.perf_counter()
        context = PoolSelectionContext(
            self.pool, model,
            LabelStore(self.pool.image_ids, self.pool.image_shapes,
                       model.num_classes),
            FeatureCache(), 0, self.seed, has_model=False,
            feature_batch_size=self.feature_batch_size)
        self.dataloader = ground_truth_pixel_loader(
            context, self.images_per_group,
            self.head_trainer.settings.batch_size, self.seed,
            head_members(model))
        pixels = len(self.dataloader.dataset)
        result = self.head_trainer.fit(model, self.dataloader, 0)
        broadcast_trained_state(model)
        runner.logger.info(
            f'Head trained on all {pixels} ground-truth pixels of '
            f'{len(self.pool.image_ids)} images, {result.epochs} epochs / '
            f'{result.iterations} iterations, loss {result.loss:.4f}, '
            f'accuracy {result.accuracy:.3f}')
        self._evaluate(pixels, dict(train=time.perf_counter() - start))
        runner.call_hook('after_train_epoch')
        self._epoch = 1
        runner.call_hook('after_train')
        return model
