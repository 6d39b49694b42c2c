"""Per-pixel MLP classifier over concatenated diffusion features (LEDM).

The head classifies one pixel feature at a time. Two forwards share its
weights:

* :meth:`PixelMLPHead.forward_pixels` on features ``[n, D]`` sampled at
  pixels (training, selection);
* :meth:`PixelMLPHead.forward` on native-resolution maps, giving dense
  full-resolution logits without building the ``D x H x W`` feature tensor:
  the first Linear commutes with bilinear upsampling, so each map is
  projected with its slice of the weight at native resolution and only the
  ``h1``-channel projections are upsampled and summed. Normalisation is a
  per-pixel scalar ``1 / ||f(x)||``; ``||f(x)||^2`` of the upsampled feature
  is accumulated map by map (see :mod:`.upsampled_norm`).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor, nn

from .pixel_losses import pixel_losses
from .upsampled_norm import upsampled_square_norm

#: Hidden channels projected and upsampled at once, and pixels classified
#: at once, by the dense forward: they bound its working memory beyond the
#: ``h1 x H x W`` accumulator.
CHANNEL_CHUNK = 32
PIXEL_CHUNK = 2048

#: Plain cross-entropy averaged over labelled pixels.
DEFAULT_LOSS = dict(
    type='CrossEntropyLoss',
    use_sigmoid=False,
    loss_weight=1.0,
    avg_non_ignore=True)

#: Smallest norm a feature is divided by (as ``F.normalize``).
NORM_EPS = 1e-12


def default_hidden_channels(num_classes: int) -> Tuple[int, int]:
    """LEDM's hidden widths: (128, 32) below 30 classes, else (256, 128)."""
    return (128, 32) if num_classes < 30 else (256, 128)


def add_projected_(hidden: Tensor, feature_map: Tensor,
                   weight: Tensor) -> None:
    """``hidden += up(weight @ feature_map)``: project a native-resolution
    map with its slice ``[h1, C]`` of the first Linear, upsample (bilinear,
    ``align_corners=False``) and accumulate, ``CHANNEL_CHUNK`` hidden
    channels at a time."""
    size = tuple(hidden.shape[-2:])
    for start in range(0, weight.shape[0], CHANNEL_CHUNK):
        stop = start + CHANNEL_CHUNK
        part = F.conv2d(feature_map, weight[start:stop, :, None, None])
        if tuple(part.shape[-2:]) != size:
            part = F.interpolate(part, size=size, mode='bilinear',
                                 align_corners=False)
        hidden[:, start:stop].add_(part)


def dense_inputs(inputs: Sequence[Tensor], size: Optional[Tuple[int, int]],
                 in_channels: int) -> Tuple[List[Tensor], Tuple[int, int]]:
    """The maps of a dense forward, checked against ``in_channels``, and the
    output size (default: the largest map's)."""
    maps: List[Tensor] = list(inputs)
    channels = [m.shape[1] for m in maps]
    if sum(channels) != in_channels:
        raise ValueError(
            f'PixelMLPHead: maps with {channels} channels (sum '
            f'{sum(channels)}) do not match in_channels={in_channels}.')
    if size is None:
        size = max((tuple(m.shape[-2:]) for m in maps),
                   key=lambda hw: hw[0] * hw[1])
    return maps, tuple(int(s) for s in size)


def dense_feature_norm(maps: Sequence[Tensor],
                       size: Tuple[int, int]) -> Tensor:
    """``[B, 1, H, W]`` norm of every upsampled, concatenated pixel
    feature (floored at :data:`NORM_EPS`), accumulated map by map."""
    norm_sq = maps[0].new_zeros((maps[0].shape[0], 1, *size))
    for feature_map in maps:
        norm_sq.add_(upsampled_square_norm(feature_map, size))
    return norm_sq.sqrt_().clamp_min_(NORM_EPS)


@MODELS.register_module()
class PixelMLPHead(BaseDecodeHead):
    """LEDM's pixel classifier as an mmseg decode head.

    ``Linear(D, h1) - ReLU - BN(h1) - Linear(h1, h2) - ReLU - BN(h2) -
    Linear(h2, C)``, Linear weights ``N(0, 0.02)``, biases 0.

    Args:
        in_channels (int): feature dimension ``D``.
        num_classes (int): number of classes ``C``.
        hidden_channels (Sequence[int], optional): ``(h1, h2)``; default
            :func:`default_hidden_channels`.
        dropout_ratio (float): dropout on both hidden activations, active in
            training and in MC-dropout forwards. 0 disables it.
        **kwargs: other :class:`BaseDecodeHead` arguments (``ignore_index``,
            ``loss_decode``, default :data:`DEFAULT_LOSS`, ...).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 hidden_channels: Optional[Sequence[int]] = None,
                 dropout_ratio: float = 0.0,
                 **kwargs) -> None:
        hidden = tuple(hidden_channels or default_hidden_channels(num_classes))
        if len(hidden) != 2:
            raise ValueError('PixelMLPHead: hidden_channels must be (h1, h2),'
                             f' got {hidden_channels!r}.')
        if not 0.0 <= dropout_ratio < 1.0:
            raise ValueError('PixelMLPHead: dropout_ratio must be in [0, 1), '
                             f'got {dropout_ratio}.')
        kwargs.setdefault('init_cfg', None)
        kwargs.setdefault('loss_decode', DEFAULT_LOSS)
        super().__init__(
            in_channels,
            hidden[1],
            num_classes=num_classes,
            dropout_ratio=dropout_ratio,
            **kwargs)
        # The MLP below replaces the base class's conv classifier, and its
        # dropout draws masks from an optional generator instead.
        del self.conv_seg
        del self.dropout
        self.hidden_channels = hidden
        self.fc1 = nn.Linear(in_channels, hidden[0])
        self.bn1 = nn.BatchNorm1d(hidden[0])
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.bn2 = nn.BatchNorm1d(hidden[1])
        self.classifier = nn.Linear(hidden[1], self.out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Fresh weights (``N(0, 0.02)``, zero biases) and BN statistics."""
        for linear in (self.fc1, self.fc2, self.classifier):
            nn.init.normal_(linear.weight, mean=0.0, std=0.02)
            nn.init.zeros_(linear.bias)
        for norm in (self.bn1, self.bn2):
            norm.reset_parameters()

    def init_weights(self) -> None:
        """mmengine hook: same as :meth:`reset_parameters`."""
        self.reset_parameters()
        self._is_init = True

    # ----------------------------------------------------------- layers --
    def _batch_norm(self, norm: nn.BatchNorm1d, x: Tensor) -> Tensor:
        # A single labelled pixel has no batch statistics: use the running
        # ones for it rather than failing the step.
        if self.training and x.shape[0] < 2:
            return F.batch_norm(x, norm.running_mean, norm.running_var,
                                norm.weight, norm.bias, False, 0.0, norm.eps)
        return norm(x)

    def _dropout(self, x: Tensor, active: bool,
                 generator: Optional[torch.Generator]) -> Tensor:
        if not active or self.dropout_ratio == 0:
            return x
        mask_device = generator.device if generator is not None else x.device
        keep = torch.rand(
            x.shape, generator=generator, device=mask_device).to(
                x.device) >= self.dropout_ratio
        return x * keep / (1.0 - self.dropout_ratio)

    def _after_first_linear(self, hidden: Tensor, mc_dropout: bool = False,
                            generator: Optional[torch.Generator] = None
                            ) -> Tensor:
        """Everything after ``fc1`` on ``[n, h1]`` pre-activations."""
        drop = self.training or mc_dropout
        hidden = self._batch_norm(self.bn1, F.relu(hidden))
        hidden = self.fc2(self._dropout(hidden, drop, generator))
        hidden = self._batch_norm(self.bn2, F.relu(hidden))
        return self.classifier(self._dropout(hidden, drop, generator))

    # --------------------------------------------------------- forwards --
    def forward_pixels(self, features: Tensor, mc_dropout: bool = False,
                       generator: Optional[torch.Generator] = None
                       ) -> Tensor:
        """Logits ``[n, C]`` of pixel features ``[n, D]``.

        Args:
            features (Tensor): pixel features (normalised if configured).
            mc_dropout (bool): apply dropout even in eval mode (MC dropout).
            generator (torch.Generator, optional): source of the dropout
                masks, making MC passes reproducible.
        """
        if mc_dropout and self.dropout_ratio == 0:
            raise ValueError('PixelMLPHead: mc_dropout=True needs '
                             'decode_head.dropout_ratio > 0.')
        return self._after_first_linear(
            self.fc1(features), mc_dropout, generator)

    def forward(self,
                inputs: Sequence[Tensor],
                size: Optional[Tuple[int, int]] = None,
                normalize: bool = True) -> Tensor:
        """Dense logits ``[B, C, H, W]`` from native-resolution maps.

        Equal to upsampling every map to ``size``, concatenating them,
        L2-normalising each pixel (if ``normalize``) and applying the MLP,
        without materialising the ``D x H x W`` tensor. Meant for
        inference (eval mode): pixels are classified in chunks, so
        training-mode BN would see per-chunk statistics.

        Args:
            inputs (Sequence[Tensor]): maps ``[B, C_i, h_i, w_i]`` in feature
                order, ``sum C_i == in_channels``.
            size (tuple[int, int], optional): output ``(H, W)``; default the
                largest map's size.
            normalize (bool): L2-normalise the pixel features first.
        """
        maps, size = dense_inputs(inputs, size, self.in_channels)
        norm = dense_feature_norm(maps, size) if normalize else None
        return self.dense_logits(maps, size, norm)

    def dense_logits(self, maps: List[Tensor], size: Tuple[int, int],
                     norm: Optional[Tensor]) -> Tensor:
        """:meth:`forward` given checked maps and the per-pixel feature
        norm ``[B, 1, H, W]`` (None = no normalisation), which an ensemble
        computes once for all its members."""
        batch = maps[0].shape[0]
        hidden = maps[0].new_zeros((batch, self.hidden_channels[0], *size))
        channels = [m.shape[1] for m in maps]
        for feature_map, weight in zip(
                maps, torch.split(self.fc1.weight, channels, dim=1)):
            add_projected_(hidden, feature_map, weight)
        if norm is not None:
            hidden.div_(norm)
        hidden.add_(self.fc1.bias[:, None, None])
        hidden = hidden.flatten(2)  # [B, h1, H*W]
        logits = hidden.new_empty((batch, self.out_channels, hidden.shape[2]))
        for image in range(batch):
            for start in range(0, hidden.shape[2], PIXEL_CHUNK):
                stop = start + PIXEL_CHUNK
                logits[image, :, start:stop] = self._after_first_linear(
                    hidden[image, :, start:stop].t()).t()
        return logits.view(batch, -1, *size)

    # ------------------------------------------------------------- loss --
    def loss_pixels(self, features: Tensor, labels: Tensor,
                    weights: Optional[Tensor] = None) -> dict:
        """Losses of pixel features ``[n, D]`` against labels ``[n]``
        (``weights`` ``[n]``: per-pixel loss weights, or None): the
        training step of the active-learning loop."""
        return pixel_losses(self, self.forward_pixels(features), labels,
                            weights)
