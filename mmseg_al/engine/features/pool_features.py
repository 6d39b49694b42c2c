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
from collections import Counter
from dataclasses import fields
from typing import (Any, Callable, Dict, Iterator, List, Mapping, Optional,
                    Sequence)

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
    """Batched, cached, rank-sharded pixel features of a pool, for a run.

    Extraction is canonical: the backbone always runs on a whole block of
    ``feature_batch_size`` consecutive pool images (see
    :class:`~mmseg_al.selection.context.ImageBlocks`), whatever pixels and
    images a request names, so a pixel's feature never depends on the
    request it came with. A cached feature therefore equals a recomputed
    one bit for bit, and a resumed run, whose cache starts empty, sees the
    features an uninterrupted run saw.

    Kept across rounds (:class:`FeatureCache`): the clean features of the
    labelled pixels; with ``candidates``, the clean features of each
    image's fixed candidates, stored when its block is first extracted;
    with ``per_run_draws`` too, the noise draws' features likewise (a
    draw is then keyed by (seed, image, draw), the same every round).

    Args:
        dataset: the pool (``PixelSparseDataset``: ``image_ids``,
            ``pool_item``).
        model: a segmentor with the pixel API (``pixel_features``), not
            wrapped in DDP.
        feature_batch_size: images per backbone call, and per block of
            images dealt to a rank.
        candidates: ``image -> pixels`` kept for every image of an
            extracted block (the run's fixed candidates); None keeps the
            labelled pixels' features only.
        per_run_draws: noise draws are the same in every round (their
            noise keyed without the round), so their features are kept as
            the clean ones are.
    """

    def __init__(self, dataset, model, feature_batch_size: int = 8,
                 candidates: Optional[Callable[[int], torch.Tensor]] = None,
                 per_run_draws: bool = False) -> None:
        if feature_batch_size < 1:
            raise ValueError('feature_batch_size must be >= 1, got '
                             f'{feature_batch_size}')
        self.dataset = dataset
        self.model = model
        self.feature_batch_size = feature_batch_size
        self.candidates = candidates
        self.per_run_draws = per_run_draws
        self.image_ids = list(dataset.image_ids)
        self.blocks = ImageBlocks(feature_batch_size, *get_dist_info())
        self.cache = FeatureCache()
        #: Images run through the backbone, by purpose (one UNet pass an
        #: image), since the loop last read them.
        self.passes: Counter = Counter()

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
                 draw: Optional[int] = None, round_idx: int = 0,
                 purpose: str = 'candidates') -> Dict[int, torch.Tensor]:
        """Features ``[n_i, D]`` of this rank's requested pixels: clean ones
        (``draw`` None) or those of noise draw ``draw`` of round
        ``round_idx``, from the cache where every pixel of an image is
        there, the rest from the backbone (its passes counted under
        ``purpose``, or ``'draws'``)."""
        request = {
            int(i): torch.as_tensor(p, dtype=torch.long).cpu()
            for i, p in request.items()
        }
        found: Dict[int, torch.Tensor] = {
            i: torch.zeros(0, self.model.feature_dim, device=self.device)
            for i, pixels in request.items() if pixels.numel() == 0
        }
        if self._keeps(draw):
            found.update(self._cached(request, draw, skip=found))
        missing = {i: p for i, p in request.items() if i not in found}
        found.update(self._extract(missing, draw, round_idx,
                                   purpose if draw is None else 'draws'))
        return {i: found[i] for i in request}

    @torch.no_grad()
    def gathered(self, request: Request,
                 purpose: str = 'candidates') -> Dict[int, torch.Tensor]:
        """Clean features of ``request`` (image order) on every rank: each
        rank extracts its blocks."""
        mine: Dict[int, torch.Tensor] = {}
        for block in self.blocks.requests(request.items()):
            mine.update(self.features(block, purpose=purpose))
        return {
            i: rows.to(self.device)
            for i, rows in self.share(self.collect(mine)).items()
        }

    @torch.no_grad()
    def labelled(self, store) -> tuple:
        """Clean features and stored classes of every labelled pixel of
        ``store`` (a ``LabelStore``), on every rank; kept for the next
        rounds.

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
        if not request:
            return (torch.zeros(0, self.model.feature_dim),
                    torch.zeros(0, dtype=torch.long))
        feats = self.gathered(request, purpose='labelled')
        return torch.cat(list(feats.values())), torch.cat(classes)

    @torch.no_grad()
    def stream(self, request: Request) -> Dict[int, torch.Tensor]:
        """Clean features of ``request``, ``feature_batch_size`` requested
        images per backbone call, neither canonical nor cached: for
        streams that visit every pixel once (the fully supervised
        reference)."""
        images = sorted(request)
        out: Dict[int, torch.Tensor] = {}
        for chunk in _chunks(images, self.feature_batch_size):
            out.update(zip(chunk, self._run(
                chunk, [request[i] for i in chunk], None, 0)))
            self.passes['ground_truth'] += len(chunk)
        return out

    def _keeps(self, draw: Optional[int]) -> bool:
        """Whether features of ``draw`` are the same in every round."""
        return draw is None or self.per_run_draws

    def _cached(self, request: Request, draw: Optional[int],
                skip: Sequence[int] = ()) -> Dict[int, torch.Tensor]:
        """Cached features of the images whose requested pixels are all in
        the cache."""
        found = {}
        for i, pixels in request.items():
            if i in skip:
                continue
            hit, rows = self.cache.lookup(self.image_ids[i], pixels, draw)
            if bool(hit.all()):
                found[i] = rows
        return found

    def _extract(self, request: Request, draw: Optional[int],
                 round_idx: int, purpose: str) -> Dict[int, torch.Tensor]:
        """Run the backbone on the whole block of each requested image;
        keep what the run keeps (see the class)."""
        keep = self._keeps(draw) and (self.candidates is not None
                                      or purpose == 'labelled')
        size = self.feature_batch_size
        blocks = sorted({i // size for i in request})
        desc = 'features' + ('' if draw is None else f' (draw {draw})')
        out: Dict[int, torch.Tensor] = {}
        for block in track(blocks, desc=desc):
            members = list(range(block * size,
                                 min((block + 1) * size, len(self.image_ids))))
            points = {i: self._pixels_of(i, request.get(i), keep)
                      for i in members}
            rows = self._run(members, [points[i] for i in members], draw,
                             0 if self.per_run_draws else round_idx)
            self.passes[purpose] += len(members)
            for i, feats in zip(members, rows):
                if keep:
                    kept = self._kept_of(i, request.get(i), purpose)
                    at = torch.searchsorted(points[i], kept)
                    self.cache.put(self.image_ids[i], kept,
                                   feats[at.to(feats.device)], draw)
                if i in request:
                    at = torch.searchsorted(points[i], request[i])
                    out[i] = feats[at.to(feats.device)]
        return out

    def _pixels_of(self, image: int, requested: Optional[torch.Tensor],
                   keep: bool) -> torch.Tensor:
        """Sorted pixels sampled from ``image``'s maps: those requested,
        and its candidates where the run keeps them."""
        parts = [] if requested is None else [requested]
        if keep and self.candidates is not None:
            parts.append(self.candidates(image))
        if not parts:
            return torch.zeros(0, dtype=torch.long)
        return torch.unique(torch.cat(parts))

    def _kept_of(self, image: int, requested: Optional[torch.Tensor],
                 purpose: str) -> torch.Tensor:
        """Sorted pixels of ``image`` the run keeps: its candidates (when
        it keeps them) and requested labelled pixels; a request for other
        pixels (a whole image, say) is served but not kept."""
        parts = []
        if self.candidates is not None:
            parts.append(self.candidates(image))
        if purpose == 'labelled' and requested is not None:
            parts.append(requested)
        if not parts:
            return torch.zeros(0, dtype=torch.long)
        return torch.unique(torch.cat(parts))

    def _run(self, images: Sequence[int], points: Sequence[torch.Tensor],
             draw: Optional[int], noise_round: int) -> List[torch.Tensor]:
        """One backbone call on ``images``: features at ``points``."""
        data = self.model.data_preprocessor(
            pseudo_collate([self.dataset.pool_item(i) for i in images]),
            False)
        return self.model.pixel_features(
            data['inputs'], [self.image_ids[i] for i in images],
            [p.to(self.device) for p in points], draw=draw,
            round_idx=noise_round)


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
