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
from typing import (Any, Dict, Iterable, Iterator, Mapping, Optional,
                    Sequence, Tuple)

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
        log_probs (Tensor, optional): ``[b, C]`` the model's prediction at
            each pick that the score computed anyway (the clean one, or the
            mean over the draws or members it used), shown to annotators
            without another backbone pass; None where it computed none.
    """
    image_index: torch.Tensor
    pixels: torch.Tensor
    scores: torch.Tensor
    log_probs: Optional[torch.Tensor] = None

    def __len__(self) -> int:
        return int(self.image_index.numel())


class ImageBlocks:
    """Images in blocks of ``size`` consecutive indices, dealt to the
    processes in turn.

    A block is also one request (one backbone batch), so every image is
    computed in the same batch whatever the number of processes, and
    results do not depend on it.

    Args:
        size: images per block.
        rank: this process.
        world_size: the processes.
    """

    def __init__(self, size: int, rank: int = 0, world_size: int = 1) -> None:
        if size < 1:
            raise ValueError(f'images_per_request must be >= 1, got {size}')
        self.size = size
        self.rank = rank
        self.world_size = world_size

    def owns(self, image: int) -> bool:
        """Whether this process handles ``image``."""
        return (image // self.size) % self.world_size == self.rank

    def requests(self, items: Iterable[Tuple[int, torch.Tensor]]
                 ) -> Iterator[Dict[int, torch.Tensor]]:
        """This process's share of ``(image, pixels)`` items as requests.

        Args:
            items: pairs in ascending image order (may be lazy); images of
                other processes and images without pixels are skipped.

        Yields:
            ``{image: pixels}``, one per block holding any of the items.
        """
        request: Dict[int, torch.Tensor] = {}
        block = None
        for image, pixels in items:
            if not self.owns(image) or pixels.numel() == 0:
                continue
            if request and image // self.size != block:
                yield request
                request = {}
            block = image // self.size
            request[image] = pixels
        if request:
            yield request


class SelectionContext(metaclass=ABCMeta):
    """The pool, the labelled set and the current model, as tensors.

    Work is shared between processes by image: :meth:`requests` hands a
    process only the images it owns (:class:`ImageBlocks`), :meth:`collect`
    brings per-image results to the main process and :meth:`share` sends
    the main process's result to all. This base class is one process; a
    distributed context sets its ``blocks`` to its rank and overrides
    :meth:`collect` and :meth:`share`, and selectors need no other change.

    Args:
        image_ids (Sequence[str]): stable ids of the pool images.
        num_classes (int): number of classes of the task.
        round_idx (int): the active-learning round being selected for
            (0 = cold start, no trained model yet).
        seed (int): the run's seed; use :meth:`generator` for randomness.
        images_per_request (int): images per block: the unit of a feature
            request and of the work given to a process.
    """

    def __init__(self, image_ids: Sequence[str], num_classes: int,
                 round_idx: int, seed: int,
                 images_per_request: int = 8) -> None:
        self.image_ids = list(image_ids)
        self.num_classes = num_classes
        self.round_idx = round_idx
        self.seed = seed
        self.blocks = ImageBlocks(images_per_request)

    @property
    def rank(self) -> int:
        return self.blocks.rank

    @property
    def world_size(self) -> int:
        return self.blocks.world_size

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

    def member_log_probs(self, request: PixelRequest
                         ) -> Dict[int, torch.Tensor]:
        """Log-probabilities ``[M, n_i, C]`` of each of the ``M`` members of
        an ensemble model on the clean features, for committee scores.

        Contexts whose model is not an ensemble keep this default, which
        raises.
        """
        raise RuntimeError(
            f'{type(self).__name__} gives no ensemble member predictions; '
            "committee scores ('vote_entropy', 'ensemble_mi', 'ensemble_e') "
            "need an ensemble head, e.g. decode_head=dict(type="
            "'PixelMLPEnsembleHead', num_models=10)")

    def generator(self, *keys, device='cpu',
                  round_idx: Optional[int] = None) -> torch.Generator:
        """A generator seeded by ``(seed, round, *keys)``; ``round_idx``
        gives another round's key (default this round's)."""
        if round_idx is None:
            round_idx = self.round_idx
        return torch_generator(self.seed, round_idx, *keys, device=device)

    # ------------------------------------------------------ sharing work --
    @property
    def is_main(self) -> bool:
        """Whether this process receives what :meth:`collect` gathers."""
        return self.rank == 0

    def owns(self, image: int) -> bool:
        """Whether this process handles ``image`` (see :class:`ImageBlocks`).
        """
        return self.blocks.owns(image)

    def requests(self, items: Iterable[Tuple[int, torch.Tensor]]
                 ) -> Iterator[Dict[int, torch.Tensor]]:
        """This process's share of ``(image, pixels)`` items as requests
        (see :meth:`ImageBlocks.requests`)."""
        return self.blocks.requests(items)

    def collect(self, part: Mapping[int, Any]) -> Optional[Dict[int, Any]]:
        """Per-image results of every process, in image order, on the main
        process (None elsewhere).

        Args:
            part: this process's results, keyed by image.
        """
        return self.merge([part])

    @staticmethod
    def merge(parts: Iterable[Mapping[int, Any]]) -> Dict[int, Any]:
        """The per-image results of several processes, in image order."""
        return dict(sorted(pair for part in parts for pair in part.items()))

    def share(self, value: Any) -> Any:
        """The main process's ``value``, on every process."""
        return value
