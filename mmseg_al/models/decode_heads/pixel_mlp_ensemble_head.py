"""LEDM's ensemble of pixel MLPs, predicting by majority vote.

LEDM (Baranchuk et al., ICLR 2022) trains ``M = 10`` pixel classifiers
with different initialisations and shuffles and labels a pixel by the
majority vote of their argmax. The members are :class:`PixelMLPHead`
instances, so the point and dense forwards, the losses and the
initialisation are the single head's; the ensemble adds the vote, the
stacked member predictions that committee scores need
(:meth:`PixelMLPEnsembleHead.member_logits`), and training on one batch
per member.
"""
import math
from typing import Optional, Sequence, Tuple

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor, nn

from .pixel_mlp_head import (DEFAULT_LOSS, PixelMLPHead,
                             default_hidden_channels, dense_feature_norm,
                             dense_inputs)

#: Ensemble predictions: majority vote (LEDM) or the mean of the softmaxes.
PREDICTIONS = ('vote', 'mean_softmax')
#: Votes added to every class before the vote shares become
#: probabilities, so that no class has probability 0 (scores take logs).
VOTE_SMOOTHING = 0.01


@MODELS.register_module()
class PixelMLPEnsembleHead(BaseDecodeHead):
    """``num_models`` independently initialised :class:`PixelMLPHead`\\ s.

    Prediction (:meth:`forward_pixels`, dense :meth:`forward`):

    * ``predict='vote'`` (LEDM): the log of the (smoothed) vote shares of
      the members' argmax classes: the argmax is the majority vote, ties
      to the lowest class, and acquisition scores and annotator guesses see
      a probability per class;
    * ``predict='mean_softmax'``: the log of the members' mean softmax.

    Training: member ``m`` is trained on its own batch,
    :meth:`loss_pixels` on stacked ``[M, bs, D]`` features; the losses of
    the members are summed. :meth:`reset_parameters` re-initialises the
    members one after the other from the current torch RNG, so they
    differ and are keyed by the seed the trainer sets.

    Args:
        in_channels (int): feature dimension ``D``.
        num_classes (int): number of classes ``C``.
        num_models (int): ensemble size ``M`` (LEDM: 10).
        hidden_channels (Sequence[int], optional): ``(h1, h2)`` of every
            member; default :func:`default_hidden_channels` (LEDM's).
        dropout_ratio (float): dropout of every member.
        predict (str): ``'vote'`` or ``'mean_softmax'``.
        **kwargs: other :class:`BaseDecodeHead` arguments (``ignore_index``,
            ``loss_decode``, ...), shared with the members.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 num_models: int = 10,
                 hidden_channels: Optional[Sequence[int]] = None,
                 dropout_ratio: float = 0.0,
                 predict: str = 'vote',
                 **kwargs) -> None:
        if num_models < 1:
            raise ValueError('PixelMLPEnsembleHead: num_models must be >= 1,'
                             f' got {num_models}.')
        if predict not in PREDICTIONS:
            raise ValueError(f'PixelMLPEnsembleHead: predict must be one of '
                             f'{PREDICTIONS}, got {predict!r}.')
        hidden = tuple(hidden_channels or default_hidden_channels(num_classes))
        kwargs.setdefault('init_cfg', None)
        kwargs.setdefault('loss_decode', DEFAULT_LOSS)
        member_kwargs = dict(kwargs)
        super().__init__(
            in_channels,
            hidden[-1],
            num_classes=num_classes,
            dropout_ratio=dropout_ratio,
            **kwargs)
        # The members classify; the base class's conv classifier and
        # dropout are not used.
        del self.conv_seg
        del self.dropout
        self.predict = predict
        self.members = nn.ModuleList(
            PixelMLPHead(in_channels, num_classes, hidden, dropout_ratio,
                         **member_kwargs) for _ in range(num_models))

    @property
    def num_members(self) -> int:
        """``M``: the trainer draws one batch per member."""
        return len(self.members)

    def reset_parameters(self) -> None:
        """Fresh weights for every member, drawn in turn from the current
        torch RNG."""
        for member in self.members:
            member.reset_parameters()

    def init_weights(self) -> None:
        """mmengine hook: same as :meth:`reset_parameters`."""
        self.reset_parameters()
        self._is_init = True

    # --------------------------------------------------------- forwards --
    def member_logits(self, features: Tensor, mc_dropout: bool = False,
                      generator: Optional[torch.Generator] = None
                      ) -> Tensor:
        """``[M, n, C]`` logits of every member for features ``[n, D]``."""
        return torch.stack([
            member.forward_pixels(features, mc_dropout, generator)
            for member in self.members
        ])

    def forward_pixels(self, features: Tensor, mc_dropout: bool = False,
                       generator: Optional[torch.Generator] = None
                       ) -> Tensor:
        """Ensemble log-probabilities ``[n, C]`` of pixel features
        ``[n, D]`` (log vote shares or log mean softmax, see the class
        docstring)."""
        member_logits = self.member_logits(features, mc_dropout, generator)
        if self.predict == 'vote':
            return self._log_vote_shares(
                _one_hot_votes(member_logits, dim=-1).sum(0))
        return (torch.logsumexp(member_logits.log_softmax(-1), 0) -
                math.log(self.num_members))

    def forward(self,
                inputs: Sequence[Tensor],
                size: Optional[Tuple[int, int]] = None,
                normalize: bool = True) -> Tensor:
        """Dense ensemble scores ``[B, C, H, W]`` from native-resolution
        maps, as :meth:`PixelMLPHead.forward`: the feature norm is
        computed once and the members run one at a time, so the memory is
        that of one member plus the ``C x H x W`` accumulator."""
        maps, size = dense_inputs(inputs, size, self.in_channels)
        norm = dense_feature_norm(maps, size) if normalize else None
        total = None
        for member in self.members:
            logits = member.dense_logits(maps, size, norm)
            part = (_one_hot_votes(logits, dim=1)
                    if self.predict == 'vote' else logits.softmax(1))
            total = part if total is None else total.add_(part)
        if self.predict == 'vote':
            return self._log_vote_shares(total)
        return total.div_(self.num_members).log_()

    def _log_vote_shares(self, votes: Tensor) -> Tensor:
        """Log of smoothed vote shares; equal counts give equal values, and
        argmax takes the first (lowest) class of a tie."""
        total = self.num_members + VOTE_SMOOTHING * self.out_channels
        return votes.add(VOTE_SMOOTHING).div_(total).log_()

    # ------------------------------------------------------------- loss --
    def loss_pixels(self, features: Tensor, labels: Tensor,
                    weights: Optional[Tensor] = None) -> dict:
        """Summed member losses and mean ``acc_seg``; member ``m`` is
        trained on ``features[m]`` ``[bs, D]`` and ``labels[m]`` ``[bs]``
        (with ``weights[m]`` ``[bs]`` per-pixel loss weights, if given).
        """
        if features.dim() != 3 or features.shape[0] != self.num_members:
            raise ValueError(
                'PixelMLPEnsembleHead.loss_pixels takes one batch per member'
                f': features [{self.num_members}, bs, D], got '
                f'{tuple(features.shape)}.')
        losses: dict = {}
        member_weights = [None] * self.num_members if weights is None \
            else weights
        for member, member_features, member_labels, member_weight in zip(
                self.members, features, labels, member_weights):
            for name, value in member.loss_pixels(
                    member_features, member_labels, member_weight).items():
                losses[name] = losses[name] + value if name in losses \
                    else value
        losses['acc_seg'] = losses['acc_seg'] / self.num_members
        return losses


def _one_hot_votes(logits: Tensor, dim: int) -> Tensor:
    """One-hot of the argmax along ``dim`` (ties to the lowest class)."""
    winner = logits.argmax(dim, keepdim=True)
    return torch.zeros_like(logits).scatter_(dim, winner, 1.0)
