"""Pixel features of the pool's images through the frozen backbone.

Everything that needs pixel features (selection, the labelled set a head
trains on, the BatchNorm calibration sample, the fully supervised
reference's stream) asks a :class:`PoolFeatures`: it turns ``{image:
pixels}`` requests into batched backbone calls on the pool dataset
(``feature_batch_size`` images per call, the model's data preprocessor
applied), serves clean features from the run's :class:`FeatureCache`, and
in distributed runs gives each rank its blocks of images
(:class:`~mmseg_al.selection.context.ImageBlocks`) and exchanges per-image
results between ranks.
"""
from dataclasses import fields
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.dist import broadcast_object_list, gather_object, get_dist_info

from mmseg_al.selection.context import ImageBlocks, Selection
from mmseg_al.utils import track
from .feature_cache import FeatureCache

#: ``{image index: LongTensor of flat pixel indices}``
Request = Dict[int, torch.Tensor]


def _chunks(items: Sequence[int], size: int) -> Iterator[List[int]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


class PoolFeatures:
    """Batched, cached, rank-sharded pixel features of a pool.

    Args:
        dataset: the pool (``PixelSparseDataset``: ``image_ids``,
            ``pool_item``).
        model: a segmentor with the pixel API (``pixel_features``), not
            wrapped in DDP.
        cache: clean features kept across rounds.
        round_idx: the round (keys the noise of stochastic draws).
        feature_batch_size: images per backbone call, and per block of
            images dealt to a rank.
    """

    def __init__(self, dataset, model, cache: FeatureCache, round_idx: int,
                 feature_batch_size: int = 8) -> None:
        if feature_batch_size < 1:
            raise ValueError('feature_batch_size must be >= 1, got '
                             f'{feature_batch_size}')
        self.dataset = dataset
        self.model = model
        self.cache = cache
        self.round_idx = round_idx
        self.feature_batch_size = feature_batch_size
        self.image_ids = list(dataset.image_ids)
        self.blocks = ImageBlocks(feature_batch_size, *get_dist_info())

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # ------------------------------------------------------ between ranks --
    def collect(self, part: Mapping[int, Any]) -> Optional[Dict[int, Any]]:
        """Per-image results of every rank, in image order, on rank 0
        (None elsewhere)."""
        parts = [dict(part)] if self.blocks.world_size == 1 else \
            gather_object(_to_cpu(dict(part)), dst=0)
        return None if parts is None else dict(
            sorted(pair for part in parts for pair in part.items()))

    def share(self, value: Any) -> Any:
        """Rank 0's ``value``, on every rank."""
        if self.blocks.world_size == 1:
            return value
        box = [_to_cpu(value) if self.blocks.rank == 0 else None]
        broadcast_object_list(box, src=0)
        return box[0]

    # ----------------------------------------------------------- features --
    @torch.no_grad()
    def features(self, request: Mapping[int, Any],
                 draw: Optional[int] = None) -> Dict[int, torch.Tensor]:
        """Features ``[n_i, D]`` of this rank's requested pixels: clean
        ones (``draw`` None) from the cache where every pixel of an image
        is there, the rest from the backbone."""
        request = {
            int(i): torch.as_tensor(p, dtype=torch.long).cpu()
            for i, p in request.items()
        }
        found: Dict[int, torch.Tensor] = {
            i: torch.zeros(0, self.model.feature_dim, device=self.device)
            for i, pixels in request.items() if pixels.numel() == 0
        }
        if draw is None:
            found.update(self._cached(request, skip=found))
        missing = {i: p for i, p in request.items() if i not in found}
        found.update(self._extract(missing, draw))
        return {i: found[i] for i in request}

    @torch.no_grad()
    def gathered(self, request: Request, batch_size: Optional[int] = None,
                 cached: bool = False) -> Dict[int, torch.Tensor]:
        """Clean features of ``request`` (image order) on every rank: each
        rank extracts its blocks, ``batch_size`` images per backbone call
        (default ``feature_batch_size``), or takes them from the cache if
        ``cached``."""
        mine: Dict[int, torch.Tensor] = {}
        for block in self.blocks.requests(request.items()):
            if cached:
                mine.update(self._cached(block))
            missing = {i: p for i, p in block.items() if i not in mine}
            mine.update(self._extract(missing, None, batch_size=batch_size))
        return {
            i: rows.to(self.device)
            for i, rows in self.share(self.collect(mine)).items()
        }

    @torch.no_grad()
    def labelled(self, store) -> tuple:
        """Clean features and stored classes of every labelled pixel of
        ``store`` (a ``LabelStore``), on every rank.

        Features come from the cache; images with pixels labelled since
        the last call are extracted one image per backbone call and added to
        it. A backbone batch's other images change a pixel's feature in the
        last bits, so batching here would make the cached features (and the
        heads trained on them) depend on which images were labelled in the
        same round, and a resumed run, which starts with an empty cache,
        would train different heads than an uninterrupted one.

        Returns:
            ``(features [n, D], classes [n] int64)`` in image order, then
            pixel order; a class may be the void label (annotator-marked).
        """
        request, classes = {}, []
        for i, image_id in enumerate(self.image_ids):
            pixels = torch.as_tensor(np.asarray(store.pixels(image_id)),
                                     dtype=torch.long)
            if pixels.numel():
                request[i] = pixels
                classes.append(torch.as_tensor(
                    np.asarray(store.classes(image_id)), dtype=torch.long))
        feats = self.gathered(request, batch_size=1, cached=True)
        for i, rows in feats.items():
            self.cache.put(self.image_ids[i], request[i], rows)
        if not request:
            return (torch.zeros(0, self.model.feature_dim),
                    torch.zeros(0, dtype=torch.long))
        return torch.cat(list(feats.values())), torch.cat(classes)

    def _cached(self, request: Request,
                skip: Sequence[int] = ()) -> Dict[int, torch.Tensor]:
        """Cached clean features of the images whose requested pixels are
        all in the cache."""
        found = {}
        for i, pixels in request.items():
            if i in skip:
                continue
            hit, rows = self.cache.lookup(self.image_ids[i], pixels)
            if bool(hit.all()):
                found[i] = rows
        return found

    def _extract(self, request: Request, draw: Optional[int],
                 batch_size: Optional[int] = None) -> Dict[int, torch.Tensor]:
        """Run the backbone on the requested images, ``batch_size``
        (default ``feature_batch_size``) images per call."""
        images = sorted(request)
        desc = 'features' + ('' if draw is None else f' (draw {draw})')
        batch_size = batch_size or self.feature_batch_size
        batches = _chunks(images, batch_size)
        total = -(-len(images) // batch_size)
        out: Dict[int, torch.Tensor] = {}
        for chunk in track(batches, desc=desc, total=total):
            data = self.model.data_preprocessor(
                pseudo_collate([self.dataset.pool_item(i) for i in chunk]),
                False)
            points = [request[i].to(self.device) for i in chunk]
            feats = self.model.pixel_features(
                data['inputs'], [self.image_ids[i] for i in chunk], points,
                draw=draw, round_idx=self.round_idx)
            out.update(zip(chunk, feats))
        return out


def _to_cpu(value: Any) -> Any:
    """``value`` with its tensors (in dicts, lists, tuples, selections)
    moved to the CPU, to be pickled between ranks."""
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(item) for item in value)
    if isinstance(value, Selection):
        return Selection(*(_to_cpu(getattr(value, field.name))
                           for field in fields(value)))
    return value


__all__ = ['PoolFeatures']
