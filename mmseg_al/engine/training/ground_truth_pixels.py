"""Every ground-truth pixel of the pool, streamed to the head.

The fully supervised reference trains the head on all labelled pixels of
the pool, whose features do not fit in memory (CamVid's 24M pixels of
8448-d features are about 810 GB). They are extracted again every head
epoch instead, a group of images at a time: the images are shuffled per
epoch, cut into groups of ``images_per_group``, and each group's pixels
are shuffled and cut into batches, so memory holds one group's features
and every epoch costs one backbone pass per image.
"""
from typing import Dict, Iterator, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from mmseg_al.utils import torch_generator, track
from .pixel_batches import member_batches, num_batches

#: A batch key: the group's pool image indices and the batch's indices
#: into the group's pixels (``[b]``, or ``[M, b]`` for an ensemble).
GroupBatch = Tuple[Tuple[int, ...], Tensor]


def check_images_per_group(value) -> int:
    """``value`` if it is a valid group size, else a ValueError naming the
    key."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError('train_cfg.images_per_group must be an integer '
                         f'>= 1, got {value!r}')
    return value


class ImageGroupSampler(Sampler):
    """Batches over every pixel of the pool, one image group at a time.

    Head epoch ``e`` orders the images by ``(seed, 'image_groups', e)``;
    group ``g``'s pixels are shuffled by ``(seed, 'group_batches', e, g)``
    (and the member index, independently per member of an ensemble), so
    a rerun trains the same head.

    Args:
        counts: pixels of each pool image.
        images_per_group: images whose features are held at once.
        batch_size: pixels per batch.
        seed: the run's seed.
        num_members: independently shuffled members of the head.
    """

    def __init__(self, counts: Sequence[int], images_per_group: int,
                 batch_size: int, seed: int, num_members: int = 1) -> None:
        self.counts = [int(c) for c in counts]
        self.images_per_group = check_images_per_group(images_per_group)
        self.batch_size = batch_size
        self.seed = seed
        self.num_members = num_members
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Select the order of head epoch ``epoch``."""
        self.epoch = epoch
        order = torch.randperm(
            len(self.counts),
            generator=torch_generator(self.seed, 'image_groups', epoch))
        images = [i for i in order.tolist() if self.counts[i]]
        step = self.images_per_group
        #: This epoch's image groups (images without pixels left out).
        self.groups = [tuple(images[s:s + step])
                       for s in range(0, len(images), step)]
        self._len = sum(num_batches(self._pixels(g), self.batch_size)
                        for g in self.groups)

    def _pixels(self, group: Tuple[int, ...]) -> int:
        return sum(self.counts[i] for i in group)

    def __iter__(self) -> Iterator[GroupBatch]:
        for index, group in enumerate(self.groups):
            for batch in member_batches(
                    self._pixels(group), self.batch_size, self.num_members,
                    self.seed, 'group_batches', self.epoch, index):
                yield group, batch

    def __len__(self) -> int:
        # computed once per epoch: LoggerHook asks every iteration
        return self._len


class GroundTruthPixels(Dataset):
    """The features and classes of every non-void ground-truth pixel.

    Indexed by :class:`ImageGroupSampler`'s keys; a key of a new group
    extracts that group's features (``features.stream``, the run's
    clean features) after dropping the previous group's. ``metainfo`` is
    the pool's (checkpoints record it as their ``dataset_meta``).

    Args:
        features: the pool's features
            (:class:`~mmseg_al.engine.features.PoolFeatures`).
    """

    def __init__(self, features) -> None:
        self.pool_features = features
        self.pool = features.dataset
        self.counts = [
            int(np.count_nonzero(self._labels(i) != self.pool.ignore_index))
            for i in track(range(len(features.image_ids)),
                           'ground-truth pixels')
        ]
        self.release()

    @property
    def metainfo(self) -> dict:
        return self.pool.metainfo

    def release(self) -> None:
        """Drop the current group's features."""
        self._group = ()
        self._features = self._classes = torch.zeros(0)

    def _labels(self, image: int) -> np.ndarray:
        return np.asarray(self.pool.ground_truth(image)).reshape(-1)

    def __len__(self) -> int:
        return sum(self.counts)

    def __getitem__(self, key: GroupBatch) -> dict:
        group, index = key
        if group != self._group:
            self._load(group)
        return dict(inputs=self._features[index],
                    data_samples=self._classes[index])

    def _load(self, group: Tuple[int, ...]) -> None:
        """Fill one buffer with the group's features, a backbone batch
        (``feature_batch_size`` images) at a time: the peak is the group
        plus one batch, not twice the group."""
        self.release()
        request: Dict[int, Tensor] = {}
        classes = []
        for image in group:
            labels = torch.from_numpy(self._labels(image).astype(np.int64))
            request[image] = (labels != self.pool.ignore_index).nonzero(
            ).flatten()
            classes.append(labels[request[image]])
        features: Optional[Tensor] = None
        start, step = 0, self.pool_features.feature_batch_size
        for first in range(0, len(group), step):
            chunk = group[first:first + step]
            extracted = self.pool_features.stream(
                {i: request[i] for i in chunk})
            for image in chunk:
                rows = extracted.pop(image)
                if features is None:  # the backbone's dtype and device
                    features = rows.new_empty(
                        sum(self.counts[i] for i in group), rows.shape[1])
                features[start:start + len(rows)] = rows
                start += len(rows)
        self._features = features
        self._classes = torch.cat(classes).to(features.device)
        self._group = group


def ground_truth_pixel_loader(features, images_per_group: int,
                              batch_size: int, seed: int,
                              num_members: int = 1) -> DataLoader:
    """The head-training loader of the fully supervised reference, over the
    pool's :class:`~mmseg_al.engine.features.PoolFeatures`."""
    dataset = GroundTruthPixels(features)
    sampler = ImageGroupSampler(dataset.counts, images_per_group, batch_size,
                                seed, num_members)
    return DataLoader(dataset, sampler=sampler, batch_size=None)
