"""Train the segmentation head on the labelled pixels' cached features.

The backbone is frozen and its training noise fixed, so every labelled
pixel is a constant feature vector: training is plain mini-batch
classification of those vectors and never runs the backbone.
"""
import copy
import math
from collections import deque
from dataclasses import dataclass
from typing import Deque, List, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.optim import build_optim_wrapper
from mmseg.registry import PARAM_SCHEDULERS

from mmseg_al.utils import derive_seed, torch_generator, track


@dataclass
class HeadTrainingConfig:
    """How the head is fitted each round (ALGORITHM.md "Segmentation head").

    Args:
        max_epochs: passes over the labelled pixels.
        batch_size: pixels per iteration.
        patience: stop after this many iterations without a lower loss...
        acc_threshold: ...once the batch accuracy on labelled pixels
            exceeds this fraction.
    """
    max_epochs: int = 50
    batch_size: int = 64
    patience: int = 50
    acc_threshold: float = 0.95

    def __post_init__(self) -> None:
        for name in ('max_epochs', 'batch_size', 'patience'):
            if getattr(self, name) < 1:
                raise ValueError(f'head_training.{name} must be >= 1, got '
                                 f'{getattr(self, name)}')


@dataclass
class HeadTrainingResult:
    """What one fit did (logged per round)."""
    epochs: int
    iterations: int
    loss: float
    accuracy: float


def batch_indices(num: int, batch_size: int,
                  generator: torch.Generator) -> List[torch.Tensor]:
    """A seeded shuffle of ``range(num)`` cut into batches of >= 2 items.

    Batch norm needs two samples per batch in training mode, so a trailing
    single item joins the previous batch and a lone item is used twice.
    """
    if num == 1:
        return [torch.zeros(2, dtype=torch.long)]
    order = torch.randperm(num, generator=generator)
    batches = list(order.split(batch_size))
    if len(batches) > 1 and batches[-1].numel() == 1:
        last = batches.pop()
        batches[-1] = torch.cat([batches[-1], last])
    return batches


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
        self._batches: Deque[Tuple[int, int]] = deque()
        self._correct = 0
        self._count = 0

    def update(self, correct: int, count: int) -> float:
        """Add a batch; return the accuracy over the recent window."""
        self._batches.append((correct, count))
        self._correct += correct
        self._count += count
        while self._count - self._batches[0][1] >= self.span:
            old_correct, old_count = self._batches.popleft()
            self._correct -= old_correct
            self._count -= old_count
        return self._correct / self._count


def train_head(model, features: torch.Tensor, labels: torch.Tensor,
               optim_wrapper_cfg: dict, param_scheduler_cfg: Union[dict, list,
                                                                   None],
               settings: HeadTrainingConfig, seed: int,
               round_idx: int, ignore_index: int = 255):
    """Re-initialise the head and fit it to ``(features, labels)``.

    The head's initial weights and its training-time dropout masks are
    drawn under ``derive_seed(seed, 'head', round_idx)`` and the batch order
    under ``(seed, 'batches', round_idx, epoch)``, so a resumed run retrains
    exactly the same head. The global RNG state is left untouched.

    Early stopping (ALGORITHM.md): once the loss has not improved for
    ``patience`` iterations *and* the accuracy on the labelled pixels
    exceeds ``acc_threshold``; that accuracy is measured over the most
    recent epoch's worth of training pixels (:class:`RecentAccuracy`), not
    over a single batch.

    Args:
        model: segmentor with ``reset_head`` and ``point_logits``.
        features: ``[n, D]`` clean features of the labelled pixels.
        labels: ``[n]`` their stored classes (``ignore_index``, a pixel
            the annotator marked void, is skipped).
        optim_wrapper_cfg: the runner's ``optim_wrapper`` config, built
            afresh so each round starts with a new optimizer.
        param_scheduler_cfg: the runner's ``param_scheduler`` config(s);
            ``by_epoch`` schedulers step once per epoch.
        settings: epochs, batch size and early stopping.
        seed: the run's seed.
        round_idx: the round the head is trained for.
        ignore_index: the void label.

    Returns:
        tuple: the optim wrapper, the schedulers and a
        :class:`HeadTrainingResult`.
    """
    device = next(model.parameters()).device
    cuda_devices = [device] if device.type == 'cuda' else []
    # Initial weights *and* training-time dropout masks come from the
    # round's key, so a resumed process retrains exactly the same head.
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(derive_seed(seed, 'head', round_idx))
        model.reset_head()
        return _fit(model, features, labels, optim_wrapper_cfg,
                    param_scheduler_cfg, settings, seed, round_idx,
                    ignore_index)


def _fit(model, features, labels, optim_wrapper_cfg, param_scheduler_cfg,
         settings: HeadTrainingConfig, seed: int, round_idx: int,
         ignore_index: int):
    """The optimisation of :func:`train_head` on a freshly reset head."""
    optim_wrapper = build_optim_wrapper(model,
                                        copy.deepcopy(optim_wrapper_cfg))
    schedulers = [
        PARAM_SCHEDULERS.build(
            cfg, default_args=dict(optimizer=optim_wrapper))
        for cfg in _as_list(copy.deepcopy(param_scheduler_cfg))
    ]
    # annotator-void pixels carry no class: leave them out of the batches
    # (and of the batch-norm statistics)
    usable = labels != ignore_index
    device = next(model.parameters()).device
    features, labels = features[usable].to(device), labels[usable].to(device)
    if len(labels) == 0:
        model.eval()
        return optim_wrapper, schedulers, HeadTrainingResult(
            epochs=0, iterations=0, loss=math.nan, accuracy=math.nan)
    model.train()
    best_loss, stale, iterations = math.inf, 0, 0
    loss_value, accuracy = math.nan, math.nan
    recent = RecentAccuracy(span=len(labels))
    stopped, epoch = False, 0
    epochs = track(range(settings.max_epochs), desc=f'head round {round_idx}')
    for epoch in epochs:
        generator = torch_generator(seed, 'batches', round_idx, epoch)
        for batch in batch_indices(len(labels), settings.batch_size,
                                   generator):
            batch = batch.to(device)
            target = labels[batch]
            logits = model.point_logits(features[batch])
            loss = F.cross_entropy(logits, target)
            optim_wrapper.update_params(loss)
            iterations += 1
            loss_value = loss.item()
            accuracy = recent.update(
                int((logits.argmax(1) == target).sum()), target.numel())
            if loss_value < best_loss:
                best_loss, stale = loss_value, 0
            else:
                stale += 1
            for scheduler in schedulers:
                if not scheduler.by_epoch:
                    scheduler.step()
            if stale >= settings.patience and accuracy > \
                    settings.acc_threshold:
                stopped = True
                break
        for scheduler in schedulers:
            if scheduler.by_epoch:
                scheduler.step()
        if stopped:
            break
    model.eval()
    result = HeadTrainingResult(
        epochs=epoch + 1, iterations=iterations, loss=loss_value,
        accuracy=accuracy)
    return optim_wrapper, schedulers, result


def _as_list(cfg: Union[dict, list, None]) -> list:
    if cfg is None:
        return []
    return list(cfg) if isinstance(cfg, (list, tuple)) else [cfg]
