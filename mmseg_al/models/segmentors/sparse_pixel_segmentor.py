"""Segmentor trained on a few labelled pixels over a frozen diffusion
backbone.

Training never computes full-resolution logits: it samples the clean
features of the labelled pixels only, and caches them (a frozen backbone
with a fixed noise per image makes them constants). Prediction goes through
mmseg's usual path, so IoUMetric and SegLocalVisualizer work unchanged.
"""
import copy
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor

from ..backbones.point_sampling import sample_points
from ..decode_heads.pixel_mlp_head import NORM_EPS
from .point_feature_cache import PointFeatureCache


def image_id_of(metainfo: dict) -> str:
    """An image's stable id: ``metainfo['image_id']``, else the file name of
    its ``img_path``.

    The id keys the diffusion noise, so it must not depend on where the
    data lives: an evaluation set read from another directory or machine
    sees the same noise (hence the same features and mIoU).
    """
    image_id = metainfo.get('image_id')
    if image_id is None and metainfo.get('img_path') is not None:
        image_id = osp.basename(metainfo['img_path'])
    if image_id is None:
        raise KeyError(
            'SparsePixelSegmentor needs an image id to key the diffusion '
            "noise: add 'image_id' (or 'img_path') to the data sample's "
            f'metainfo (PackSegInputs meta_keys); got keys '
            f'{sorted(metainfo)}.')
    return str(image_id)


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
        self.feature_cache = PointFeatureCache()

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

    def init_weights(self) -> None:
        """Load the backbone checkpoint, initialise the head, and forget
        cached features (they belonged to the previous weights)."""
        super().init_weights()
        self.feature_cache.clear()

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

    def point_features(self,
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
                f'point_features: {len(points)} pixel sets for a batch of '
                f'{inputs.shape[0]} images.')
        height, width = inputs.shape[-2:]
        for image_id, pixels in zip(image_ids, points):
            if pixels.numel() and (int(pixels.min()) < 0
                                   or int(pixels.max()) >= height * width):
                raise IndexError(
                    f'point_features: pixels of image {image_id!r} must lie '
                    f'in [0, {height * width}) for a {height}x{width} input, '
                    f'got [{int(pixels.min())}, {int(pixels.max())}].')
        maps = self.extract_feat(inputs, image_ids, draw, round_idx)
        return [
            self._normalize(
                sample_points(maps, i, pixels // width, pixels % width,
                              (height, width)))
            for i, pixels in enumerate(points)
        ]

    def point_logits(self,
                     features: Tensor,
                     mc_dropout: bool = False,
                     generator: Optional[torch.Generator] = None) -> Tensor:
        """Head logits ``[n, C]`` of pixel features ``[n, D]``.

        ``mc_dropout=True`` applies the head's dropout (masks drawn from
        ``generator``) even in eval mode.
        """
        return self.decode_head.forward_points(features, mc_dropout,
                                               generator)

    # ------------------------------------------------------------ train --
    @staticmethod
    def _labelled_pixels(sample, ignore_index: int
                         ) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(pixels, ys, xs, labels)`` of the labelled pixels of a sample;
        pixels are flat indices into the unpadded image grid."""
        label_map = sample.gt_sem_seg.data[0]
        height, width = sample.metainfo.get('img_shape',
                                            label_map.shape)[:2]
        label_map = label_map[:height, :width]
        ys, xs = torch.nonzero(label_map != ignore_index, as_tuple=True)
        return ys * width + xs, ys, xs, label_map[ys, xs]

    def _cached_clean_features(self, inputs: Tensor,
                               image_ids: Sequence[str],
                               labelled: Sequence[Tuple[Tensor, ...]]
                               ) -> Tensor:
        """Clean features of all labelled pixels, running the backbone only
        for images with pixels not cached yet."""
        pending = []
        for index, (image_id, (pixels, ys, xs, _)) in enumerate(
                zip(image_ids, labelled)):
            missing = self.feature_cache.missing(image_id, pixels.cpu())
            if missing.any():
                missing = missing.to(pixels.device)
                pending.append(
                    (index, pixels[missing], ys[missing], xs[missing]))
        if pending:
            batch = [index for index, *_ in pending]
            maps = self.extract_feat(inputs[batch],
                                     [image_ids[i] for i in batch])
            for row, (index, pixels, ys, xs) in enumerate(pending):
                features = sample_points(maps, row, ys, xs,
                                         tuple(inputs.shape[-2:]))
                self.feature_cache.store(image_ids[index], pixels.cpu(),
                                         self._normalize(features))
        parts = [
            self.feature_cache.gather(image_id, pixels.cpu())
            for image_id, (pixels, *_) in zip(image_ids, labelled)
            if pixels.numel()
        ]
        if not parts:
            return inputs.new_zeros((0, self.feature_dim))
        return torch.cat(parts).to(inputs.device)

    def loss(self, inputs: Tensor, data_samples: Sequence) -> dict:
        """Cross-entropy on the labelled pixels (label != ignore_index) only.

        Returns:
            dict[str, Tensor]: ``decode.loss_ce`` (per ``loss_decode``) and
            ``decode.acc_seg``.
        """
        image_ids = [image_id_of(s.metainfo) for s in data_samples]
        ignore_index = self.decode_head.ignore_index
        labelled = [self._labelled_pixels(s, ignore_index)
                    for s in data_samples]
        features = self._cached_clean_features(inputs, image_ids, labelled)
        labels = torch.cat([lab for *_, lab in labelled]).long()
        logits = self.decode_head.forward_points(features)
        losses = self.decode_head.loss_by_points(logits, labels.to(
            logits.device))
        return add_prefix(losses, 'decode')

    # ---------------------------------------------------------- predict --
    def _dense_logits(self, inputs: Tensor, image_ids: Sequence[str]
                      ) -> Tensor:
        maps = self.extract_feat(inputs, image_ids)
        return self.decode_head.forward(
            maps, tuple(inputs.shape[-2:]), normalize=self.backbone.normalize)

    def encode_decode(self, inputs: Tensor,
                      batch_img_metas: List[dict]) -> Tensor:
        """Dense logits (clean noise keyed by image id), resized by mmseg's
        ``predict_by_feat``."""
        logits = self._dense_logits(
            inputs, [image_id_of(meta) for meta in batch_img_metas])
        return self.decode_head.predict_by_feat(logits, batch_img_metas)

    def _forward(self, inputs: Tensor,
                 data_samples: Optional[Sequence] = None) -> Tensor:
        """Dense logits ``[B, C, H, W]`` ('tensor' mode)."""
        if data_samples is None:
            raise ValueError(
                'SparsePixelSegmentor needs data_samples (with image ids) '
                'in tensor mode: the diffusion noise is keyed by image id.')
        return self._dense_logits(
            inputs, [image_id_of(s.metainfo) for s in data_samples])
