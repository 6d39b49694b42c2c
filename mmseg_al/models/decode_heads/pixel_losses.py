"""The config's decode-head losses, applied to logits of single pixels.

mmseg's loss modules (``CrossEntropyLoss``, ``FocalLoss``, ...) accept
``[n, C]`` logits with ``[n]`` labels as well as dense maps, so the head's
``loss_decode`` (one loss or a list, with ``class_weight``,
``avg_non_ignore`` and ``loss_weight``) is what trains on the labelled
pixels, whichever model carries the head.
"""
from typing import Optional

from torch import Tensor, nn
from mmseg.models.losses import accuracy


def pixel_losses(head: nn.Module, logits: Tensor, labels: Tensor,
                 weights: Optional[Tensor] = None) -> dict:
    """mmseg-style losses (``loss_ce`` ..., ``acc_seg``) of pixel logits.

    Args:
        head: a decode head with ``loss_decode`` and ``ignore_index``.
        logits: ``[n, C]`` logits.
        labels: ``[n]`` classes (``ignore_index`` is skipped).
        weights: ``[n]`` per-pixel loss weights (mmseg's ``weight``, e.g.
            expanded pixels down-weighted), or None.
    """
    losses = dict()
    loss_modules = (head.loss_decode if isinstance(
        head.loss_decode, nn.ModuleList) else [head.loss_decode])
    has_labels = bool((labels != head.ignore_index).any())
    for loss_module in loss_modules:
        # No labelled pixel: a zero that keeps the graph, not a NaN mean.
        extra = {} if weights is None else dict(weight=weights)
        value = loss_module(
            logits, labels, ignore_index=head.ignore_index, **extra
        ) if has_labels else logits.sum() * 0.0
        name = loss_module.loss_name
        losses[name] = losses[name] + value if name in losses else value
    losses['acc_seg'] = accuracy(logits, labels,
                                 ignore_index=head.ignore_index)
    return losses
