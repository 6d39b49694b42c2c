"""Fit the segmentation head on the labelled pixels, through mmengine.

The backbone is frozen and its training noise fixed, so every labelled
pixel is a constant feature vector (cached once, see
:class:`~mmseg_al.engine.features.FeatureCache`): a round's head training is
mini-batch classification of those vectors and never runs the backbone.

It still runs the way an mmengine train loop does, so what the config says
is what runs:

- the loss is the config's ``decode_head.loss_decode`` (via the model's
  ``loss_pixels``), parsed by ``BaseModel.parse_losses``;
- the step goes through the runner's ``OptimWrapper``: ``optim_context``
  (``--amp`` autocasts the head) and ``update_params`` after
  ``initialize_count_status`` (gradient accumulation is honoured);
- the optimizer and param schedulers are built by the runner from
  ``optim_wrapper`` / ``param_scheduler`` afresh every round;
- ``before_train_iter`` / ``after_train_iter`` fire for every iteration
  with ``data_batch`` and ``outputs``, so LoggerHook, IterTimerHook,
  RuntimeInfoHook, ParamSchedulerHook and user hooks work.

A round is one mmengine epoch of the active-learning loop; the head's own
epochs are passes over the labelled pixels inside it, stretched to at least
``min_iters / max_epochs`` steps (more reshuffled passes) so that a handful
of labels still gets a real fit: below one batch of labels a plain pass is
one step. Iteration-based
schedulers are stepped by ``ParamSchedulerHook``; ``by_epoch`` schedulers
are stepped here at the end of each head epoch, since the loop's epoch
(the round) is not theirs.
"""
import copy
import math
from collections import deque
from dataclasses import dataclass
from typing import Deque, Optional, Tuple

import torch
from mmengine.dist import broadcast, get_world_size
from torch import Tensor, nn
from torch.utils.data import DataLoader

from mmseg_al.utils import derive_seed, track
from .batch_norm_calibration import calibrate_batch_norm


@dataclass
class HeadTrainingConfig:
    """How the head is fitted each round (docs/method.md, "Segmentation head").

    Args:
        max_epochs: head epochs: passes over the labelled pixels, each
            stretched to at least ``ceil(min_iters / max_epochs)`` steps.
        batch_size: pixels per iteration.
        patience: stop after this many iterations without a lower loss...
        acc_threshold: ...once the accuracy on the labelled pixels exceeds
            this fraction...
        min_iters: ...and at least this many steps have run. The fewest
            steps of a fit that is not stopped early is therefore
            ``max_epochs * ceil(min_iters / max_epochs)``, whatever the
            number of labels. 0 keeps plain passes.
        bn_calibration_pixels: after each fit, the BatchNorm running
            statistics are recomputed on the clean features of this many
            pool pixels (a seeded sample spread over the pool's images, the
            same for the whole run) instead of being left to the labelled
            batches; 0 keeps the statistics of training.
    """
    max_epochs: int = 50
    batch_size: int = 64
    patience: int = 50
    acc_threshold: float = 0.95
    min_iters: int = 0
    bn_calibration_pixels: int = 4800

    @property
    def iters_per_epoch(self) -> int:
        """The fewest steps of a head epoch."""
        return -(-self.min_iters // self.max_epochs)

    def __post_init__(self) -> None:
        # batch norm needs two pixels per batch
        for name, least in (('max_epochs', 1), ('batch_size', 2),
                            ('patience', 1), ('min_iters', 0),
                            ('bn_calibration_pixels', 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) \
                    or value < least:
                raise ValueError(f'train_cfg.head_training.{name} must be an '
                                 f'integer >= {least}, got {value!r}')
        if self.bn_calibration_pixels == 1:  # a variance needs two
            raise ValueError('train_cfg.head_training.bn_calibration_pixels '
                             'must be 0 (off) or at least 2, got 1')


@dataclass
class HeadTrainingResult:
    """What one fit did (logged per round)."""
    epochs: int
    iterations: int
    loss: float
    accuracy: float


class RecentAccuracy:
    """Accuracy over the most recent ``span`` training pixels.

    With ``span`` = the number of labelled pixels this is the labelled-pixel
    accuracy of (about) the last epoch, available at every iteration
    without an extra pass over the labelled set.

    Args:
        span (int): how many of the latest pixels to count.
    """

    def __init__(self, span: int) -> None:
        self.span = span
        self._batches: Deque[Tuple[float, int]] = deque()
        self._correct = 0.0
        self._count = 0

    def update(self, correct: float, count: int) -> float:
        """Add a batch; return the accuracy over the recent window."""
        self._batches.append((correct, count))
        self._correct += correct
        self._count += count
        while self._count - self._batches[0][1] >= self.span:
            old_correct, old_count = self._batches.popleft()
            self._correct -= old_correct
            self._count -= old_count
        return self._correct / self._count


class EarlyStopping:
    """Stop once the loss has not improved for ``patience`` iterations
    *and* the labelled-pixel accuracy (over the last epoch's worth of
    pixels, :class:`RecentAccuracy`) exceeds ``acc_threshold`` *and*
    ``min_iters`` steps have run.

    Args:
        settings: patience and threshold.
        num_pixels: labelled pixels (the accuracy window).
    """

    def __init__(self, settings: HeadTrainingConfig, num_pixels: int) -> None:
        self.settings = settings
        self.recent = RecentAccuracy(span=num_pixels)
        self.best_loss = math.inf
        self.stale = 0
        self.iterations = 0
        self.loss = math.nan
        self.accuracy = math.nan

    def update(self, loss: float, accuracy_percent: float,
               count: int) -> bool:
        """Record an iteration; return whether training should stop."""
        self.iterations += 1
        self.loss = loss
        self.accuracy = self.recent.update(accuracy_percent / 100 * count,
                                           count)
        if loss < self.best_loss:
            self.best_loss, self.stale = loss, 0
        else:
            self.stale += 1
        return (self.stale >= self.settings.patience
                and self.accuracy > self.settings.acc_threshold
                and self.iterations >= self.settings.min_iters)


class HeadTrainer:
    """Fits a fresh head every round with the runner's machinery.

    Args:
        runner: the mmengine runner (hooks, optimizer and scheduler
            builders, logger).
        settings: epochs, batch size and early stopping.
        seed: the run's seed.
    """

    def __init__(self, runner, settings: HeadTrainingConfig,
                 seed: int) -> None:
        cfg = runner.cfg
        if cfg.get('optim_wrapper') is None:
            raise ValueError('The head optimizer is built for every head '
                             'from the config key optim_wrapper, which is '
                             'missing')
        self.runner = runner
        self.settings = settings
        self.seed = seed
        self._optim_wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
        self._param_scheduler_cfg = copy.deepcopy(cfg.get('param_scheduler'))
        #: Head iterations run so far in this process (the loop's ``iter``).
        self.iter = 0
        #: ``iter`` at the end of the current round's head training if it
        #: runs all its epochs (the loop's ``max_iters``, for ETAs).
        self.max_iters = 0

    def fit(self, model, loader: DataLoader, round_idx: int,
            calibration: Optional[Tensor] = None) -> HeadTrainingResult:
        """Re-initialise ``model``'s head and train it on ``loader``; then,
        given ``calibration`` pool-pixel features, recompute its BatchNorm
        statistics on them (:func:`calibrate_batch_norm`). Every rank ends
        with rank 0's head (:func:`broadcast_trained_state`).

        The initial weights and the training-time dropout masks are drawn
        under ``derive_seed(seed, 'head', round_idx)`` (the global RNG is
        restored afterwards), so a resumed run retrains the same head.
        """
        device = next(model.parameters()).device
        cuda_devices = [device] if device.type == 'cuda' else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(derive_seed(self.seed, 'head', round_idx))
            model.reset_head()
            result = self._fit(model, loader, round_idx)
        if calibration is not None:
            calibrate_batch_norm(model, calibration)
        broadcast_trained_state(model)
        return result

    def _build_optimizer(self, model, loader: DataLoader):
        """A fresh optimizer wrapper and schedulers for this round's head,
        built by the runner and set as its current ones (hooks such as
        ParamSchedulerHook and CheckpointHook use those)."""
        runner = self.runner
        max_iters = self.settings.max_epochs * len(loader)
        runner.optim_wrapper = runner.build_optim_wrapper(
            copy.deepcopy(self._optim_wrapper_cfg))
        # A scheduler's default ``end`` would be the loop's, i.e. the
        # rounds: end it with the head's training instead. The runner reads
        # the epoch length from the loop's current loader, this round's.
        schedulers = []
        for cfg in _as_list(copy.deepcopy(self._param_scheduler_cfg)):
            cfg.setdefault(
                'end', self.settings.max_epochs
                if cfg.get('by_epoch', True) else max_iters)
            schedulers.append(cfg)
        runner.param_schedulers = runner.build_param_scheduler(
            schedulers) if schedulers else []
        runner.optim_wrapper.initialize_count_status(model, 0, max_iters)
        self.max_iters = self.iter + max_iters
        return runner.optim_wrapper, runner.param_schedulers

    def _fit(self, model, loader: DataLoader,
             round_idx: int) -> HeadTrainingResult:
        optim_wrapper, schedulers = self._build_optimizer(model, loader)
        num_pixels = len(loader.dataset)
        if num_pixels == 0:
            model.eval()
            return HeadTrainingResult(0, 0, math.nan, math.nan)
        device = next(model.parameters()).device
        stopping = EarlyStopping(self.settings, num_pixels)
        model.train()
        iterations, epoch, stopped = 0, 0, False
        epochs = track(range(self.settings.max_epochs),
                       desc=f'head round {round_idx}')
        for epoch in epochs:
            loader.sampler.set_epoch(epoch)
            for batch_idx, batch in enumerate(loader):
                batch = {k: v.to(device) for k, v in batch.items()}
                outputs = self._run_iter(model, optim_wrapper, batch_idx,
                                         batch)
                iterations += 1
                # an ensemble's batch is [M, b]: b pixels per member
                stopped = stopping.update(
                    float(outputs['loss']), float(outputs['decode.acc_seg']),
                    batch['data_samples'].shape[-1])
                if stopped:
                    break
            for scheduler in schedulers:
                if scheduler.by_epoch:
                    scheduler.step()
            if stopped:
                break
        model.eval()
        return HeadTrainingResult(epoch + 1, iterations, stopping.loss,
                                  stopping.accuracy)

    def _run_iter(self, model, optim_wrapper, batch_idx: int,
                  batch: dict) -> dict:
        """One step, as ``BaseModel.train_step`` does it for image batches
        (the features need no data preprocessor)."""
        runner = self.runner
        runner.call_hook(
            'before_train_iter', batch_idx=batch_idx, data_batch=batch)
        with optim_wrapper.optim_context(model):
            losses = model.loss_pixels(batch['inputs'],
                                       batch['data_samples'],
                                       batch.get('weights'))
        parsed, log_vars = model.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        outputs = {name: value.detach() for name, value in log_vars.items()}
        runner.call_hook(
            'after_train_iter', batch_idx=batch_idx, data_batch=batch,
            outputs=outputs)
        self.iter += 1
        return outputs


def broadcast_trained_state(model: nn.Module) -> None:
    """Copy rank 0's trainable parameters and all buffers to every rank.

    Every rank trains the same head on the same gathered features with the
    same seed, so on the CPU the heads are equal already; on GPUs,
    non-deterministic kernels may make them drift apart by rounding, and
    ranks would then score and evaluate with different heads.

    Args:
        model: the pixel model; frozen parameters (the UNet) are left out.
    """
    if get_world_size() == 1:
        return
    for parameter in model.parameters():
        if parameter.requires_grad:
            broadcast(parameter.data, src=0)
    for buffer in model.buffers():
        broadcast(buffer, src=0)


def head_members(model) -> int:
    """Independently shuffled members of the model's head (1 unless it is
    an ensemble)."""
    return int(getattr(model.decode_head, 'num_members', 1))


def _as_list(cfg) -> list:
    if cfg is None:
        return []
    return list(cfg) if isinstance(cfg, (list, tuple)) else [cfg]


__all__ = [
    'EarlyStopping', 'HeadTrainer', 'HeadTrainingConfig',
    'HeadTrainingResult', 'RecentAccuracy', 'broadcast_trained_state',
    'head_members'
]
