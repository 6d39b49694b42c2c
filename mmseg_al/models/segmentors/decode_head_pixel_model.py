"""Pixel active learning with an ordinary mmseg decode-head model.

Nothing in the active-learning loop is diffusion-specific: it needs
features and logits at given pixels, a stochastic variant of the
prediction, and a head it can re-initialise. :class:`DecodeHeadPixelModel`
provides exactly that for any mmseg encoder-decoder (e.g. ResNet +
ASPPHead = DeepLabV3) by treating the decode head's last feature map (the
output of ``_forward_feature``, before dropout and ``conv_seg``) as the
pixel feature and ``conv_seg`` as a linear classifier on it. The backbone,
neck and the head's feature layers stay frozen; only ``conv_seg`` learns.
Stochastic predictions come from the head's dropout used as MC dropout
(paper appendix C.4: Stage 1 on these features, Stage 2 with eBALD).
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import add_prefix
from torch import Tensor, nn

from ..backbones.pixel_sampling import sample_pixels
from ..decode_heads.pixel_losses import pixel_losses


@MODELS.register_module()
class DecodeHeadPixelModel(EncoderDecoder):
    """An mmseg ``EncoderDecoder`` with the pixel API of the AL loop.

    Same constructor as ``EncoderDecoder`` (``backbone``, ``decode_head``,
    ``neck``, ``data_preprocessor``, ``pretrained``, ...). Everything but the
    decode head's ``conv_seg`` is frozen and stays in eval mode.
    ``predict`` is mmseg's usual dense path; ``num_classes`` is the
    attribute ``EncoderDecoder`` sets from the head.

    The noise arguments of the pixel API (``draw``, ``round_idx``) are
    accepted for interface compatibility and ignored: the features of a
    non-diffusion backbone are deterministic, so every draw equals the
    clean feature and stochasticity comes from MC dropout in
    :meth:`pixel_logits`.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.with_auxiliary_head:
            raise ValueError(
                'DecodeHeadPixelModel trains only decode_head.conv_seg on '
                'labelled pixels; remove auxiliary_head from the model '
                'config')
        if self.decode_head.align_corners:
            raise ValueError(
                'DecodeHeadPixelModel samples features with '
                'align_corners=False; set decode_head.align_corners=False')
        for name, param in self.named_parameters():
            param.requires_grad_(name.startswith('decode_head.conv_seg.'))
        self._freeze_feature_layers()

    def _frozen_modules(self) -> List[nn.Module]:
        modules = [self.backbone]
        if self.with_neck:
            modules.append(self.neck)
        modules.extend(module for name, module in
                       self.decode_head.named_children()
                       if name not in ('conv_seg', 'dropout'))
        return modules

    def _freeze_feature_layers(self) -> None:
        for module in self._frozen_modules():
            module.eval()

    def train(self, mode: bool = True) -> 'DecodeHeadPixelModel':
        """Switch the trainable head; the feature layers stay in eval."""
        super().train(mode)
        self._freeze_feature_layers()
        return self

    @property
    def feature_dim(self) -> int:
        """D: channels of the decode head's penultimate feature map."""
        return self.decode_head.conv_seg.in_channels

    @property
    def dropout_ratio(self) -> float:
        """The head's dropout probability, used for MC dropout."""
        return float(self.decode_head.dropout_ratio)

    def dense_features(self, inputs: Tensor) -> Tensor:
        """Penultimate decode-head maps ``[B, D, h, w]`` at native size."""
        with torch.no_grad():
            return self.decode_head._forward_feature(self.extract_feat(inputs))

    def pixel_features(self, inputs: Tensor, image_ids: Sequence[str],
                       points: Sequence[Tensor], draw: Optional[int] = None,
                       round_idx: int = 0) -> List[Tensor]:
        """Penultimate features at the given pixels of each image.

        Args:
            inputs: ``[B, 3, H, W]`` preprocessed images.
            image_ids: ids of the images (unused: features are
                deterministic).
            points: per image, ``[n_i]`` flat pixel indices.
            draw: ignored (no noise).
            round_idx: ignored (no noise).

        Returns:
            Per image, ``[n_i, D]`` features.
        """
        if len(points) != inputs.shape[0] or len(image_ids) != len(points):
            raise ValueError(
                f'got {inputs.shape[0]} images, {len(image_ids)} image ids '
                f'and {len(points)} pixel sets; they must match')
        height, width = inputs.shape[-2:]
        maps = [self.dense_features(inputs)]
        features = []
        for image, pixels in enumerate(points):
            pixels = pixels.long()
            features.append(
                sample_pixels(maps, image, torch.div(
                    pixels, width, rounding_mode='floor'), pixels % width,
                              (height, width)))
        return features

    def pixel_logits(self, features: Tensor, mc_dropout: bool = False,
                     generator: Optional[torch.Generator] = None) -> Tensor:
        """``conv_seg`` applied to ``[n, D]`` features as a linear map.

        With ``mc_dropout`` each feature channel is dropped with the head's
        dropout probability (inverted scaling, as ``nn.Dropout2d``), the mask
        drawn from ``generator`` so MC passes are reproducible.
        """
        conv = self.decode_head.conv_seg
        if mc_dropout and self.dropout_ratio > 0:
            keep = 1.0 - self.dropout_ratio
            mask = torch.rand(features.shape, generator=generator,
                              device=features.device) < keep
            features = features * mask / keep
        return F.linear(features, conv.weight.flatten(1), conv.bias)

    def reset_head(self) -> None:
        """Re-initialise ``conv_seg`` as mmseg does (N(0, 0.01), bias 0)."""
        conv = self.decode_head.conv_seg
        nn.init.normal_(conv.weight, mean=0.0, std=0.01)
        nn.init.zeros_(conv.bias)

    def seed_noise(self, seed: int) -> None:
        """Nothing to seed: the features of this model carry no noise."""

    def loss_pixels(self, features: Tensor, labels: Tensor,
                    weights: Optional[Tensor] = None) -> Dict:
        """The decode head's configured losses of ``conv_seg`` on labelled
        pixels' features ``[n, D]`` (``decode.loss_*``, ``decode.acc_seg``;
        ``weights``: per-pixel loss weights, or None).
        """
        return add_prefix(
            pixel_losses(self.decode_head, self.pixel_logits(features),
                         labels, weights), 'decode')
