"""The labelled pixels as mini-batches of a head's training.

Batches are seeded shuffles keyed by ``(seed, round, head epoch)``, so a
resumed run retrains exactly the same head; an ensemble head gets one
independent shuffle per member.
"""
from typing import Iterator, List, Optional

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from mmseg_al.utils import torch_generator


def batch_indices(num: int, batch_size: int,
                  generator: torch.Generator) -> List[Tensor]:
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


def num_batches(num: int, batch_size: int) -> int:
    """How many batches :func:`batch_indices` cuts ``num`` items into."""
    batches = -(-num // batch_size)
    # a trailing single item joins the previous batch
    return batches - 1 if batches > 1 and num % batch_size == 1 else batches


def member_batches(num: int, batch_size: int, num_members: int,
                   *key) -> List[Tensor]:
    """The batches of :func:`batch_indices` shuffled under ``key``, or,
    for ``num_members > 1`` (an ensemble), one independent shuffle per
    member (``key`` plus the member index) stacked into ``[M, b]``
    batches."""
    if num_members == 1:
        return batch_indices(num, batch_size, torch_generator(*key))
    members = [batch_indices(num, batch_size, torch_generator(*key, m))
               for m in range(num_members)]
    return [torch.stack(batch) for batch in zip(*members)]


class PixelBatchSampler(Sampler):
    """Batches of labelled-pixel indices, reshuffled every head epoch.

    The order of epoch ``e`` of round ``r`` is keyed by ``(seed, 'batches',
    r, e)``, so a resumed run retrains exactly the same head. A head with
    ``num_members > 1`` (an ensemble) gets an independent shuffle per member,
    keyed by the member index as well, and each batch is ``[M, b]``. An
    epoch shorter than ``min_batches`` continues with further shuffles
    (pass ``p > 0`` keyed by ``(..., e, p)``) up to ``min_batches`` batches.

    Args:
        num: number of labelled pixels.
        batch_size: pixels per batch.
        seed: the run's seed.
        round_idx: the round the head is trained for.
        num_members: independently shuffled members of the head.
        min_batches: the fewest batches of an epoch.
    """

    def __init__(self, num: int, batch_size: int, seed: int, round_idx: int,
                 num_members: int = 1, min_batches: int = 0) -> None:
        self.num = num
        self.batch_size = batch_size
        self.seed = seed
        self.round_idx = round_idx
        self.num_members = num_members
        self.min_batches = min_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffle of head epoch ``epoch``."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[Tensor]:
        key = (self.seed, 'batches', self.round_idx, self.epoch)
        batches = member_batches(self.num, self.batch_size,
                                 self.num_members, *key)
        more = 1
        while len(batches) < len(self):
            batches += member_batches(self.num, self.batch_size,
                                      self.num_members, *key, more)
            more += 1
        return iter(batches[:len(self)])

    def __len__(self) -> int:
        if self.num == 0:
            return 0
        return max(num_batches(self.num, self.batch_size), self.min_batches)


class LabelledPixels(Dataset):
    """The labelled pixels' features and classes, indexed by whole batches.

    Indexed with a LongTensor of pixel indices (one batch from
    :class:`PixelBatchSampler`), it returns ``dict(inputs=features,
    data_samples=classes)`` (and ``weights=`` the pixels' loss weights
    when given), the data batch the hooks see. ``metainfo`` is the pool's
    (checkpoints record it as their ``dataset_meta``).
    """

    def __init__(self, features: Tensor, labels: Tensor,
                 metainfo: Optional[dict] = None,
                 weights: Optional[Tensor] = None) -> None:
        self.features = features
        self.labels = labels
        self.metainfo = metainfo or {}
        self.weights = weights

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: Tensor) -> dict:
        batch = dict(inputs=self.features[index],
                     data_samples=self.labels[index])
        if self.weights is not None:
            batch['weights'] = self.weights[index]
        return batch


def labelled_pixel_loader(features: Tensor, labels: Tensor,
                          settings, seed: int,
                          round_idx: int, num_members: int = 1,
                          metainfo: Optional[dict] = None,
                          weights: Optional[Tensor] = None) -> DataLoader:
    """The data loader of one round's head training (batches already
    formed by the sampler, so no collation); ``settings`` is the
    :class:`~mmseg_al.engine.training.head_trainer.HeadTrainingConfig`;
    ``weights``: per-pixel loss weights, or None."""
    sampler = PixelBatchSampler(
        len(labels), settings.batch_size, seed, round_idx, num_members,
        settings.iters_per_epoch)
    return DataLoader(LabelledPixels(features, labels, metainfo, weights),
                      sampler=sampler, batch_size=None)


__all__ = [
    'LabelledPixels', 'PixelBatchSampler', 'batch_indices',
    'labelled_pixel_loader', 'member_batches', 'num_batches'
]
