"""What a selector may ask of the outside world, and what it returns.

Selectors know nothing about images, files or models. They see a pool of
images by index, the unlabelled candidate pixels of each image, and
functions that return features or log-probabilities at given pixels. The
active-learning loop implements :class:`SelectionContext` on top of a real
dataset and segmentor; tests implement it on plain tensors.

Pixels are flat indices ``y * W + x`` into an image's ``H x W`` grid.
"""
from abc import ABCMeta, abstractmethod
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence

import torch

from mmseg_al.utils import torch_generator

#: ``{image index: LongTensor of flat pixel indices}``
PixelRequest = Mapping[int, torch.Tensor]


@dataclass
class Selection:
    """``b`` distinct pixels chosen in one round, in selection order.

    Attributes:
        image_index (Tensor): ``[b]`` int64, index into
            ``SelectionContext.image_ids``.
        pixels (Tensor): ``[b]`` int64 flat pixel index within that image.
        scores (Tensor): ``[b]`` float, the score that ranked each pick
            (acquisition score, herding gain, or NaN where none applies).
    """
    image_index: torch.Tensor
    pixels: torch.Tensor
    scores: torch.Tensor

    def __len__(self) -> int:
        return int(self.image_index.numel())


class SelectionContext(metaclass=ABCMeta):
    """The pool, the labelled set and the current model, as tensors.

    Args:
        image_ids (Sequence[str]): stable ids of the pool images.
        num_classes (int): number of classes of the task.
        round_idx (int): the active-learning round being selected for
            (0 = cold start, no trained model yet).
        seed (int): the run's seed; use :meth:`generator` for randomness.
    """

    def __init__(self, image_ids: Sequence[str], num_classes: int,
                 round_idx: int, seed: int) -> None:
        self.image_ids = list(image_ids)
        self.num_classes = num_classes
        self.round_idx = round_idx
        self.seed = seed

    @property
    def num_images(self) -> int:
        return len(self.image_ids)

    @property
    @abstractmethod
    def has_model(self) -> bool:
        """False in round 0: only features are available, no predictions."""

    @abstractmethod
    def candidate_pixels(self, image: int) -> torch.Tensor:
        """All unlabelled pixels of ``image`` that may be queried (sorted)."""

    @abstractmethod
    def labelled_pixels(self, image: int) -> torch.Tensor:
        """Already labelled pixels of ``image`` (sorted)."""

    @abstractmethod
    def class_counts(self) -> torch.Tensor:
        """``[num_classes]`` int64 counts of the labels revealed so far
        (pixels an annotator marked void are not counted)."""

    @abstractmethod
    def features(self, request: PixelRequest,
                 draw: Optional[int] = None) -> Dict[int, torch.Tensor]:
        """Features ``[n_i, D]`` at the requested pixels of each image.

        Args:
            request: ``{image index: pixels}``; all images are handled in
                one call so implementations can batch the backbone.
            draw: None for the clean features (the fixed training noise,
                used for training, evaluation and Stage 1); ``k >= 0`` for
                stochastic draw ``k`` of this round (for a diffusion
                backbone, an independent noise; a backbone without noise
                returns the clean features).
        """

    @abstractmethod
    def log_probs(self, request: PixelRequest, draw: Optional[int] = None,
                  mc_dropout: bool = False) -> Dict[int, torch.Tensor]:
        """Log-probabilities ``[n_i, C]`` of the current model.

        ``draw`` is as in :meth:`features`. ``mc_dropout=True`` keeps the
        head's dropout active with a mask seeded by ``(round, draw)``, so
        MC-dropout passes are reproducible (``draw`` must then be given).
        """

    def generator(self, *keys, device='cpu') -> torch.Generator:
        """A generator seeded by ``(seed, round, *keys)``."""
        return torch_generator(self.seed, self.round_idx, *keys,
                               device=device)
