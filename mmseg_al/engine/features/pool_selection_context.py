"""The selection contract over a real pool, model and labels.

Selectors see images by index and pixels as flat indices. This adapter
answers them from the run's :class:`PoolFeatures` (batched, cached,
rank-sharded features), the current model's head and the label store.
"""
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from mmseg_al.selection.context import PixelRequest, SelectionContext
from mmseg_al.utils import torch_generator
from .pool_features import PoolFeatures


class PoolSelectionContext(SelectionContext):
    """:class:`SelectionContext` over :class:`PoolFeatures` and a model.

    Args:
        features: the run's pool features (its dataset, model and blocks
            of images per rank).
        store: the ``LabelStore`` of the run.
        round_idx: the round being selected for (0 = cold start).
        seed: the run's seed.
        has_model: whether the head has been trained (False in round 0).
        oracle_void: drop ground-truth void pixels from the candidates.
            This uses knowledge a real annotator does not give, so it is off
            unless a config asks for it.
        ignore_index: the void label.
        purpose: what the clean features are for, in the backbone pass
            counts (``PoolFeatures.passes``).
    """

    def __init__(self, features: PoolFeatures, store, round_idx: int,
                 seed: int, has_model: bool, oracle_void: bool = False,
                 ignore_index: int = 255,
                 purpose: str = 'candidates') -> None:
        super().__init__(features.image_ids, features.model.num_classes,
                         round_idx, seed)
        self.blocks = features.blocks
        self.pool_features = features
        self.model = features.model
        self.store = store
        self._has_model = has_model
        self.oracle_void = oracle_void
        self.ignore_index = ignore_index
        self.purpose = purpose
        self._void: Dict[int, torch.Tensor] = {}
        # (request key, its clean features): the last request served
        self._last_clean: Optional[Tuple[tuple, Dict]] = None

    @property
    def has_model(self) -> bool:
        return self._has_model

    def collect(self, part: Mapping[int, Any]) -> Optional[Dict[int, Any]]:
        return self.pool_features.collect(part)

    def share(self, value: Any) -> Any:
        return self.pool_features.share(value)

    def labelled_pixels(self, image: int) -> torch.Tensor:
        pixels = self.store.pixels(self.image_ids[image])
        return torch.as_tensor(np.asarray(pixels), dtype=torch.long)

    def candidate_pixels(self, image: int) -> torch.Tensor:
        height, width = self.pool_features.dataset.image_shapes[image]
        free = torch.ones(height * width, dtype=torch.bool)
        free[self.labelled_pixels(image)] = False
        if self.oracle_void:
            free &= ~self._ground_truth_void(image)
        return free.nonzero().flatten()

    def _ground_truth_void(self, image: int) -> torch.Tensor:
        if image not in self._void:
            label = np.asarray(
                self.pool_features.dataset.ground_truth(image))
            self._void[image] = torch.from_numpy(
                label.reshape(-1) == self.ignore_index)
        return self._void[image]

    def class_counts(self) -> torch.Tensor:
        return torch.as_tensor(
            np.asarray(self.store.class_counts()), dtype=torch.long)

    def features(self, request: PixelRequest,
                 draw: Optional[int] = None) -> Dict[int, torch.Tensor]:
        return self.pool_features.features(request, draw, self.round_idx,
                                           self.purpose)

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
        if not hasattr(self.model, 'pixel_member_logits'):
            raise RuntimeError(
                f'{type(self.model).__name__} gives no ensemble member '
                "predictions (no pixel_member_logits); committee scores "
                "('vote_entropy', 'ensemble_mi', 'ensemble_e') need a "
                'SparsePixelSegmentor with decode_head=dict(type='
                "'PixelMLPEnsembleHead', num_models=10)")
        return {
            i: F.log_softmax(
                self.model.pixel_member_logits(feats).float(), dim=-1)
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
            logits = self.model.pixel_logits(
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
