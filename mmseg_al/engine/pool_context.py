"""The selection contract implemented over a real pool, segmentor and labels.

Selectors see images by index and pixels as flat indices; this class turns
their requests into batched backbone calls on the pool dataset
(``feature_batch_size`` images per call, the model's data preprocessor
applied), serves the labelled pixels' clean features from a
:class:`FeatureCache`, and, in distributed runs, gives each rank its blocks
of images and exchanges per-image results between ranks.
"""
from dataclasses import fields
from typing import (Any, Dict, Iterator, List, Mapping, Optional, Sequence,
                    Tuple)

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate
from mmengine.dist import broadcast_object_list, gather_object, get_dist_info

from mmseg_al.selection.context import (PixelRequest, Selection,
                                        SelectionContext)
from mmseg_al.utils import torch_generator, track
from .feature_cache import FeatureCache


def _chunks(items: Sequence[int], size: int) -> Iterator[List[int]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


class PoolSelectionContext(SelectionContext):
    """:class:`SelectionContext` over a ``PixelSparseDataset`` and a model.

    Args:
        dataset: the pool (``PixelSparseDataset``: ``image_ids``,
            ``image_shapes``, ``pool_item``, ``ground_truth``).
        model: a segmentor with the point API (``point_features``,
            ``point_logits``), not wrapped in DDP.
        store: the ``LabelStore`` of the run.
        cache: clean features kept across rounds.
        round_idx: the round being selected for (0 = cold start).
        seed: the run's seed.
        has_model: whether the head has been trained (False in round 0).
        feature_batch_size: images per backbone call, and per block of
            images dealt to a rank (see ``SelectionContext.owns``).
        oracle_void: drop ground-truth void pixels from the candidates.
            This uses knowledge a real annotator does not give, so it is off
            unless a config asks for it.
        ignore_index: the void label.
    """

    def __init__(self, dataset, model, store, cache: FeatureCache,
                 round_idx: int, seed: int, has_model: bool,
                 feature_batch_size: int = 8, oracle_void: bool = False,
                 ignore_index: int = 255) -> None:
        if feature_batch_size < 1:
            raise ValueError('feature_batch_size must be >= 1, got '
                             f'{feature_batch_size}')
        super().__init__(dataset.image_ids, model.num_classes, round_idx,
                         seed, images_per_request=feature_batch_size)
        self.rank, self.world_size = get_dist_info()
        self.dataset = dataset
        self.model = model
        self.store = store
        self.cache = cache
        self._has_model = has_model
        self.feature_batch_size = feature_batch_size
        self.oracle_void = oracle_void
        self.ignore_index = ignore_index
        self._void: Dict[int, torch.Tensor] = {}
        # (request key, its clean features): the last request served
        self._last_clean: Optional[Tuple[tuple, Dict]] = None

    @property
    def has_model(self) -> bool:
        return self._has_model

    def collect(self, part: Mapping[int, Any]) -> Optional[Dict[int, Any]]:
        if self.world_size == 1:
            return super().collect(part)
        parts = gather_object(_to_cpu(dict(part)), dst=0)
        return None if parts is None else self.merge(parts)

    def share(self, value: Any) -> Any:
        if self.world_size == 1:
            return value
        box = [_to_cpu(value) if self.is_main else None]
        broadcast_object_list(box, src=0)
        return box[0]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def labelled_pixels(self, image: int) -> torch.Tensor:
        pixels = self.store.pixels(self.image_ids[image])
        return torch.as_tensor(np.asarray(pixels), dtype=torch.long)

    def candidate_pixels(self, image: int) -> torch.Tensor:
        height, width = self.dataset.image_shapes[image]
        free = torch.ones(height * width, dtype=torch.bool)
        free[self.labelled_pixels(image)] = False
        if self.oracle_void:
            free &= ~self._ground_truth_void(image)
        return free.nonzero().flatten()

    def _ground_truth_void(self, image: int) -> torch.Tensor:
        if image not in self._void:
            label = np.asarray(self.dataset.ground_truth(image))
            self._void[image] = torch.from_numpy(
                label.reshape(-1) == self.ignore_index)
        return self._void[image]

    def class_counts(self) -> torch.Tensor:
        return torch.as_tensor(
            np.asarray(self.store.class_counts()), dtype=torch.long)

    @torch.no_grad()
    def features(self, request: PixelRequest,
                 draw: Optional[int] = None) -> Dict[int, torch.Tensor]:
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

    def _cached(self, request: Dict[int, torch.Tensor],
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

    def _check_model(self) -> None:
        if not self.has_model:
            raise RuntimeError(
                f'Round {self.round_idx} has no trained model yet, so there '
                'are no predictions: use a cold-start selector (e.g. '
                'HerdingSelector) for round 0.')

    @torch.no_grad()
    def member_log_probs(self, request: PixelRequest
                         ) -> Dict[int, torch.Tensor]:
        self._check_model()
        if not hasattr(self.model, 'point_member_logits'):
            raise RuntimeError(
                f'{type(self.model).__name__} gives no ensemble member '
                "predictions (no point_member_logits); committee scores "
                "('vote_entropy', 'ensemble_mi', 'ensemble_e') need a "
                'SparsePixelSegmentor with decode_head=dict(type='
                "'PixelMLPEnsembleHead', num_models=10)")
        return {
            i: F.log_softmax(
                self.model.point_member_logits(feats).float(), dim=-1)
            for i, feats in self._clean_features(request).items()
        }

    @torch.no_grad()
    def log_probs(self, request: PixelRequest, draw: Optional[int] = None,
                  mc_dropout: bool = False) -> Dict[int, torch.Tensor]:
        self._check_model()
        if mc_dropout and draw is None:
            raise ValueError('mc_dropout=True needs a draw index so that the '
                             'dropout mask is reproducible.')
        # MC dropout perturbs the head, not the input: its passes all see
        # the clean features, extracted once for the request.
        clean = mc_dropout or draw is None
        features = (self._clean_features(request)
                    if clean else self.features(request, draw))
        log_probs = {}
        for i, feats in features.items():
            generator = None
            if mc_dropout:
                generator = torch_generator(
                    self.seed, 'mc_dropout', self.round_idx,
                    self.image_ids[i], draw, device=feats.device)
            logits = self.model.point_logits(
                feats, mc_dropout=mc_dropout, generator=generator)
            log_probs[i] = F.log_softmax(logits.float(), dim=1)
        return log_probs

    def _clean_features(self, request: PixelRequest
                        ) -> Dict[int, torch.Tensor]:
        """Clean features of ``request``, remembered for the next calls with
        the same request (the clean prediction and the M + 1 passes of an
        MC-dropout score, or the members of an ensemble)."""
        key = tuple((int(i), torch.as_tensor(p).cpu().numpy().tobytes())
                    for i, p in request.items())
        if self._last_clean is None or self._last_clean[0] != key:
            self._last_clean = (key, self.features(request))
        return self._last_clean[1]

    @torch.no_grad()
    def labelled_set(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Clean features and stored classes of every labelled pixel.

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
            pixels = self.labelled_pixels(i)
            if pixels.numel():
                request[i] = pixels
                classes.append(torch.as_tensor(
                    np.asarray(self.store.classes(image_id)),
                    dtype=torch.long))
        feats = self.gathered_features(request, batch_size=1, cached=True)
        for i, rows in feats.items():
            self.cache.put(self.image_ids[i], request[i], rows)
        if not request:
            return (torch.zeros(0, self.model.feature_dim),
                    torch.zeros(0, dtype=torch.long))
        return torch.cat(list(feats.values())), torch.cat(classes)

    @torch.no_grad()
    def gathered_features(self, request: Dict[int, torch.Tensor],
                          batch_size: Optional[int] = None,
                          cached: bool = False) -> Dict[int, torch.Tensor]:
        """Clean features of ``request`` (image order) on every rank: each
        rank extracts its blocks, ``batch_size`` images per backbone call
        (default ``feature_batch_size``), or takes them from the cache if
        ``cached``."""
        mine: Dict[int, torch.Tensor] = {}
        for block in self.requests(request.items()):
            if cached:
                mine.update(self._cached(block))
            missing = {i: p for i, p in block.items() if i not in mine}
            mine.update(self._extract(missing, None, batch_size=batch_size))
        return {
            i: rows.to(self.device)
            for i, rows in self.share(self.collect(mine)).items()
        }

    def _extract(self, request: Dict[int, torch.Tensor],
                 draw: Optional[int],
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
            feats = self.model.point_features(
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
