"""Segmentor trained on a few labelled pixels over a frozen diffusion
backbone.

Training never computes full-resolution logits: the head learns from the
clean features of the labelled pixels only (``loss_pixels``; a frozen
backbone with a fixed noise per image makes them constants, which the
active-learning loop caches). Prediction goes through mmseg's usual path, so
IoUMetric and SegLocalVisualizer work unchanged.
"""
import copy
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor

from mmseg_al.datasets.image_ids import image_id_of
from ..backbones.pixel_sampling import sample_pixels
from ..decode_heads.pixel_mlp_head import NORM_EPS


@MODELS.register_module()
class SparsePixelSegmentor(EncoderDecoder):
    """Frozen diffusion backbone + per-pixel MLP head, trained on labelled
    pixels.

    Args:
        backbone (dict): a :class:`DiffusionBackbone` config.
        decode_head (dict): a :class:`PixelMLPHead` config; ``in_channels``
            may be omitted (it is the backbone's feature dimension).
        train_cfg (dict, optional): unused, kept for mmseg compatibility.
        test_cfg (dict, optional): ``dict(mode='whole')`` (the only mode: the
            noise is keyed by the whole image).
        data_preprocessor (dict, optional): a ``SegDataPreProcessor`` config
            mapping images to RGB in ``[-1, 1]``.
        init_cfg (dict, optional): passed to ``BaseModule``.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        test_cfg = ConfigDict(test_cfg or dict(mode='whole'))
        if test_cfg.get('mode', 'whole') != 'whole':
            raise ValueError(
                "SparsePixelSegmentor: test_cfg.mode must be 'whole' (the "
                f"diffusion noise is keyed by whole images), got "
                f'{test_cfg.mode!r}.')
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        #: Images whose clean maps the dense forward computed (not kept).
        self.dense_passes = 0
        self._kept_maps: Optional[Dict[tuple, List[Tensor]]] = None
        self._kept_budget = 0

    def keep_dense_maps(self, max_bytes: int) -> None:
        """Keep the backbone maps of densely predicted batches, up to
        ``max_bytes``: with the backbone frozen and its clean noise keyed
        by image id, a batch's maps are the same at every evaluation of a
        run (the val loader repeats its batches), so only the head runs
        again. A batch is known by its images' files, flips and size;
        batches past the budget are recomputed."""
        self._kept_maps, self._kept_budget = {}, int(max_bytes)

    def _clean_maps(self, inputs: Tensor, image_ids: Sequence[str],
                    metas: Sequence[dict]) -> List[Tensor]:
        key = (tuple(inputs.shape), tuple(
            (meta.get('img_path'), image_id, meta.get('flip'),
             meta.get('flip_direction'))
            for image_id, meta in zip(image_ids, metas)))
        if self._kept_maps is not None and key in self._kept_maps:
            return self._kept_maps[key]
        maps = self.extract_feat(inputs, image_ids)
        self.dense_passes += len(image_ids)
        if self._kept_maps is not None:
            size = sum(m.numel() * m.element_size() for m in maps)
            if size <= self._kept_budget:
                self._kept_maps[key] = maps
                self._kept_budget -= size
        return maps

    def _init_decode_head(self, decode_head: dict) -> None:
        decode_head = copy.deepcopy(decode_head)
        dim = self.backbone.feature_dim
        given = decode_head.get('in_channels')
        if given is None:
            decode_head['in_channels'] = dim
        elif given != dim:
            raise ValueError(
                f'SparsePixelSegmentor: decode_head.in_channels={given} but '
                f'the backbone gives {dim}-d features (layout '
                f'{self.backbone.layout.part_channels}); drop in_channels '
                'from the config to use the backbone\'s.')
        super()._init_decode_head(decode_head)

    @property
    def feature_dim(self) -> int:
        """Dimension ``D`` of a pixel feature."""
        return self.backbone.feature_dim

    def seed_noise(self, seed: int) -> None:
        """Key the diffusion noise by the run's seed, unless the config
        fixed one (``backbone.noise_seed``)."""
        if self.backbone.noise_seed is None:
            self.backbone.noise_seed = seed

    def reset_head(self) -> None:
        """Re-initialise the decode head (weights and BN statistics)."""
        self.decode_head.reset_parameters()

    # --------------------------------------------------------- features --
    def extract_feat(self, inputs: Tensor, image_ids: Sequence[str],
                     draw: Optional[int] = None,
                     round_idx: int = 0) -> List[Tensor]:
        """Native-resolution backbone maps (see ``DiffusionBackbone``)."""
        return self.backbone(inputs, image_ids, draw=draw, round_idx=round_idx)

    def _normalize(self, features: Tensor) -> Tensor:
        if not self.backbone.normalize:
            return features
        return F.normalize(features, dim=1, eps=NORM_EPS)

    def pixel_features(self,
                       inputs: Tensor,
                       image_ids: Sequence[str],
                       points: Sequence[Tensor],
                       draw: Optional[int] = None,
                       round_idx: int = 0) -> List[Tensor]:
        """Features ``[n_i, D]`` at the given pixels of each image.

        Args:
            inputs (Tensor): ``[B, 3, H, W]`` preprocessed images.
            image_ids (Sequence[str]): stable id of each image.
            points (Sequence[Tensor]): per image, flat pixel indices
                ``y * W + x`` into the ``H x W`` grid of ``inputs``.
            draw (int, optional): None for the clean features, else
                stochastic draw ``draw`` of round ``round_idx``.
            round_idx (int): round of a stochastic draw.

        Returns:
            list[Tensor]: one ``[n_i, D]`` tensor per image, L2-normalised
            if the backbone is configured so.
        """
        if len(points) != inputs.shape[0]:
            raise ValueError(
                f'pixel_features: {len(points)} pixel sets for a batch of '
                f'{inputs.shape[0]} images.')
        height, width = inputs.shape[-2:]
        for image_id, pixels in zip(image_ids, points):
            if pixels.numel() and (int(pixels.min()) < 0
                                   or int(pixels.max()) >= height * width):
                raise IndexError(
                    f'pixel_features: pixels of image {image_id!r} must lie '
                    f'in [0, {height * width}) for a {height}x{width} input, '
                    f'got [{int(pixels.min())}, {int(pixels.max())}].')
        maps = self.extract_feat(inputs, image_ids, draw, round_idx)
        return [
            self._normalize(
                sample_pixels(maps, i, pixels // width, pixels % width,
                              (height, width)))
            for i, pixels in enumerate(points)
        ]

    def pixel_logits(self,
                     features: Tensor,
                     mc_dropout: bool = False,
                     generator: Optional[torch.Generator] = None) -> Tensor:
        """Head logits ``[n, C]`` of pixel features ``[n, D]``.

        ``mc_dropout=True`` applies the head's dropout (masks drawn from
        ``generator``) even in eval mode.
        """
        return self.decode_head.forward_pixels(features, mc_dropout,
                                               generator)

    def pixel_member_logits(self, features: Tensor) -> Tensor:
        """Logits ``[M, n, C]`` of each member of an ensemble head
        (``PixelMLPEnsembleHead``) for pixel features ``[n, D]``."""
        if not hasattr(self.decode_head, 'member_logits'):
            raise TypeError(
                f'decode_head {type(self.decode_head).__name__} is not an '
                "ensemble; committee scores ('vote_entropy', 'ensemble_mi', "
                "'ensemble_e') need decode_head=dict(type="
                "'PixelMLPEnsembleHead', num_models=10)")
        return self.decode_head.member_logits(features)

    # ------------------------------------------------------------ train --
    def loss_pixels(self, features: Tensor, labels: Tensor,
                    weights: Optional[Tensor] = None) -> dict:
        """The head's configured losses on labelled pixels' cached features.

        The active-learning loop trains on pixel features, never on images:
        the backbone is frozen, so a labelled pixel's feature is a constant
        computed once.

        ``weights``: per-pixel loss weights (expanded pixels
        down-weighted), or None.

        Returns:
            dict[str, Tensor]: ``decode.loss_*`` and ``decode.acc_seg``.
        """
        return add_prefix(
            self.decode_head.loss_pixels(features, labels, weights),
            'decode')

    def loss(self, inputs: Tensor, data_samples: Sequence) -> dict:
        raise NotImplementedError(
            'SparsePixelSegmentor is trained on pixels, through loss_pixels '
            "on their features, by train_cfg=dict(type='ActiveLearningLoop')"
            " or dict(type='FullySupervisedLoop'), not on image batches.")

    # ---------------------------------------------------------- predict --
    def _dense_logits(self, inputs: Tensor,
                      metas: Sequence[dict]) -> Tensor:
        maps = self._clean_maps(inputs,
                                [image_id_of(meta) for meta in metas], metas)
        return self.decode_head.forward(
            maps, tuple(inputs.shape[-2:]), normalize=self.backbone.normalize)

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Dense logits (clean noise keyed by image id), resized by mmseg's
        ``predict_by_feat``."""
        logits = self._dense_logits(inputs, batch_img_metas)
        return self.decode_head.predict_by_feat(logits, batch_img_metas)

    def _forward(self, inputs: Tensor,
                 data_samples: Optional[Sequence] = None) -> Tensor:
        """Dense logits ``[B, C, H, W]`` ('tensor' mode)."""
        if data_samples is None:
            raise ValueError(
                'SparsePixelSegmentor needs data_samples (with image ids) '
                'in tensor mode: the diffusion noise is keyed by image id.')
        return self._dense_logits(inputs,
                                  [s.metainfo for s in data_samples])
