"""The loop's contracts with the model and with the pool.

:class:`~mmseg_al.engine.ActiveLearningLoop` works with any model and any
pool that have these members; ``SparsePixelSegmentor`` and
``DecodeHeadPixelModel`` are the models, ``PixelSparseDataset`` is the pool.
An image is always named by its *image id*: the image file's path relative
to the dataset's image directory, ``/``-separated (``PixelSparseDataset``
derives it, sets it as ``metainfo['image_id']`` of every sample, and owns
the id-to-index map, :meth:`PixelPool.index_of`). The label store, the
oracles, the query files and overlays, and the model's noise keys all use
that id.
"""
from typing import (Any, List, Optional, Protocol, Sequence, Tuple,
                    runtime_checkable)

import numpy as np
import torch
from torch import Tensor


@runtime_checkable
class PixelModel(Protocol):
    """A segmentor the loop can train and query at single pixels.

    Besides these members it is an mmengine ``BaseModel`` (the loop runs
    its ``data_preprocessor`` on pool images and ``parse_losses`` on
    :meth:`loss_pixels`) with an mmseg ``decode_head`` (whose
    ``num_members``, 1 unless it is an ensemble, sets how many shuffles a
    head-training batch carries). A model with an ensemble head may also
    offer ``pixel_member_logits(features) -> [M, n, C]``, the members'
    logits, which committee scores need
    (``PoolSelectionContext.member_log_probs``).
    """

    #: Dimension ``D`` of a pixel feature.
    feature_dim: int
    #: Number of classes ``C``.
    num_classes: int
    #: The trainable head.
    decode_head: Any
    #: Maps pool items to the model's inputs.
    data_preprocessor: Any

    def parse_losses(self, losses: dict) -> Tuple[Tensor, dict]:
        """``BaseModel.parse_losses``: the total loss and the log vars."""

    def pixel_features(self, inputs: Tensor, image_ids: Sequence[str],
                       points: Sequence[Tensor], draw: Optional[int] = None,
                       round_idx: int = 0) -> List[Tensor]:
        """Features ``[n_i, D]`` at flat pixel indices of each image: the
        clean ones (``draw=None``) or stochastic draw ``draw`` of round
        ``round_idx``."""

    def pixel_logits(self, features: Tensor, mc_dropout: bool = False,
                     generator: Optional[torch.Generator] = None) -> Tensor:
        """Head logits ``[n, C]`` of features ``[n, D]``."""

    def loss_pixels(self, features: Tensor, labels: Tensor,
                    weights: Optional[Tensor] = None) -> dict:
        """The configured losses of features ``[n, D]`` against ``[n]``
        labels (``weights``: ``[n]`` per-pixel loss weights, or None): an
        mmseg loss dict for ``parse_losses``, with the batch accuracy in
        percent as ``decode.acc_seg`` (early stopping reads it)."""

    def reset_head(self) -> None:
        """Re-initialise the trainable head (from the current RNG)."""

    def seed_noise(self, seed: int) -> None:
        """Key the feature noise, if any, by the run's seed."""


@runtime_checkable
class PixelPool(Protocol):
    """The images an active-learning run selects pixels from."""

    #: Image id of every pool image, in pool order.
    image_ids: List[str]
    #: Image file of every pool image (shown to annotators).
    image_paths: List[str]
    #: ``(H, W)`` of every pool image.
    image_shapes: List[Tuple[int, int]]

    def index_of(self, image_id: str) -> int:
        """Pool index of an image id (the one owner of that map)."""

    def pool_item(self, index: int) -> dict:
        """The processed sample ``index`` (``inputs``, ``data_samples``
        with ``image_id`` in its metainfo), unmasked."""

    def ground_truth(self, index: int) -> np.ndarray:
        """``[H, W]`` label map, for the simulated oracle only."""


def check_protocol(obj: Any, protocol: type, what: str,
                   fix: str = '') -> None:
    """Raise a ``TypeError`` naming the members ``obj`` lacks.

    Args:
        obj: the object the loop was given.
        protocol: :class:`PixelModel` or :class:`PixelPool`.
        what: the config key it came from (for the message).
        fix: how to fix it (appended to the message).
    """
    if isinstance(obj, protocol):
        return
    members = set(protocol.__annotations__) | {
        name for name, value in vars(protocol).items()
        if callable(value) and not name.startswith('_')
    }
    missing = [name for name in members if not hasattr(obj, name)]
    raise TypeError(
        f'ActiveLearningLoop needs {what} to follow {protocol.__name__} '
        f'({protocol.__module__}); {type(obj).__name__} lacks '
        f'{sorted(missing)}. {fix}'.rstrip())
