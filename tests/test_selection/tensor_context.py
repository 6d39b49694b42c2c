"""A :class:`SelectionContext` on plain tensors, for selector tests.

Images are rows of a feature tensor ``[N, H*W, D]``; the "model" is a
linear map ``D -> C``. Stochastic draws add seeded Gaussian noise to the
features (the stand-in for a diffusion noise); MC-dropout passes drop
feature channels with a mask seeded by ``(round, draw, image)``. Every
request is recorded so tests can check what a selector asked for.
"""
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
from torch import Tensor

from mmseg_al.selection.context import (ImageBlocks, PixelRequest,
                                        SelectionContext)
from mmseg_al.utils import torch_generator


class TensorContext(SelectionContext):
    """Selection context over in-memory features, labels and a linear head.

    Args:
        features: ``[N, P, D]`` clean features of ``N`` images of ``P``
            pixels.
        num_classes: number of classes ``C``.
        labels: ``[N, P]`` int64 ground truth (255 = void), used for
            :meth:`class_counts`; None = all zero counts.
        labelled: ``[N, P]`` bool, already labelled pixels.
        usable: ``[N, P]`` bool, pixels that may ever be queried
            (default all).
        head: ``[D, C]`` weights of the linear model; None = no model yet.
        members: ``[M, D, C]`` weights of the linear members of an
            ensemble (committee scores); None = not an ensemble.
        round_idx: the round being selected for.
        seed: the run's seed.
        draw_noise: standard deviation of the feature noise of a draw.
        dropout: drop probability of MC-dropout passes.
        image_ids: ids of the images (default ``'img{i}'``).
        images_per_request: images per block (see
            :meth:`SelectionContext.owns`).
    """

    def __init__(self,
                 features: Tensor,
                 num_classes: int,
                 labels: Optional[Tensor] = None,
                 labelled: Optional[Tensor] = None,
                 usable: Optional[Tensor] = None,
                 head: Optional[Tensor] = None,
                 members: Optional[Tensor] = None,
                 round_idx: int = 1,
                 seed: int = 0,
                 draw_noise: float = 0.5,
                 dropout: float = 0.5,
                 image_ids: Optional[Sequence[str]] = None,
                 images_per_request: int = 8) -> None:
        num_images, num_pixels, _ = features.shape
        super().__init__(
            image_ids or [f'img{i}' for i in range(num_images)],
            num_classes, round_idx, seed, images_per_request)
        shape = (num_images, num_pixels)
        self.clean_features = features
        self.labels = labels
        self.labelled = (labelled if labelled is not None else
                         torch.zeros(shape, dtype=torch.bool))
        self.usable = (usable if usable is not None else
                       torch.ones(shape, dtype=torch.bool))
        self.head = head
        self.members = members
        self.draw_noise = draw_noise
        self.dropout = dropout
        self.feature_requests: List[Dict[int, Tensor]] = []
        self.log_prob_requests: List[Dict[int, Tensor]] = []
        self.member_requests: List[Dict[int, Tensor]] = []

    @property
    def has_model(self) -> bool:
        return self.head is not None

    def candidate_pixels(self, image: int) -> Tensor:
        free = self.usable[image] & ~self.labelled[image]
        return free.nonzero().flatten()

    def labelled_pixels(self, image: int) -> Tensor:
        return self.labelled[image].nonzero().flatten()

    def class_counts(self) -> Tensor:
        counts = torch.zeros(self.num_classes, dtype=torch.long)
        if self.labels is None:
            return counts
        revealed = self.labels[self.labelled]
        revealed = revealed[revealed != 255]
        return counts.index_add_(0, revealed, torch.ones_like(revealed))

    def _image_features(self, image: int, draw: Optional[int]) -> Tensor:
        """All ``[P, D]`` features of one image for a draw."""
        clean = self.clean_features[image]
        if draw is None:
            return clean
        generator = torch_generator(self.seed, 'draw', self.round_idx,
                                    self.image_ids[image], draw)
        noise = torch.randn(clean.shape, generator=generator)
        return clean + self.draw_noise * noise

    def features(self, request: PixelRequest,
                 draw: Optional[int] = None) -> Dict[int, Tensor]:
        self.feature_requests.append(dict(request))
        return {
            image: self._image_features(image, draw)[pixels]
            for image, pixels in request.items()
        }

    def log_probs(self, request: PixelRequest, draw: Optional[int] = None,
                  mc_dropout: bool = False) -> Dict[int, Tensor]:
        if self.head is None:
            raise RuntimeError('TensorContext has no model (head=None)')
        if mc_dropout and draw is None:
            raise ValueError('mc_dropout=True needs a draw index')
        self.log_prob_requests.append(dict(request))
        result = {}
        for image, pixels in request.items():
            features = self._image_features(
                image, None if mc_dropout else draw)
            if mc_dropout:
                generator = torch_generator(self.seed, 'dropout',
                                            self.round_idx,
                                            self.image_ids[image], draw)
                keep = torch.rand(features.shape,
                                  generator=generator) >= self.dropout
                features = features * keep / (1 - self.dropout)
            result[image] = (features[pixels] @ self.head).log_softmax(-1)
        return result

    def member_log_probs(self, request: PixelRequest) -> Dict[int, Tensor]:
        if self.members is None:
            return super().member_log_probs(request)
        self.member_requests.append(dict(request))
        return {
            image: (self.clean_features[image, pixels] @ self.members
                    ).log_softmax(-1)
            for image, pixels in request.items()
        }


def random_context(num_images: int = 4,
                   side: int = 6,
                   dim: int = 5,
                   num_classes: int = 3,
                   labelled_fraction: float = 0.0,
                   with_model: bool = True,
                   seed: int = 0,
                   **kwargs) -> TensorContext:
    """A reproducible random :class:`TensorContext` of ``side x side``
    images with labels, a random head and optionally labelled pixels."""
    generator = torch.Generator().manual_seed(1234)
    num_pixels = side * side
    features = torch.randn(num_images, num_pixels, dim, generator=generator)
    head = torch.randn(dim, num_classes, generator=generator) * 2
    labels = (features[..., :num_classes]).argmax(-1)
    labelled = torch.rand(num_images, num_pixels,
                          generator=generator) < labelled_fraction
    return TensorContext(
        features,
        num_classes,
        labels=labels,
        labelled=labelled,
        head=head if with_model else None,
        seed=seed,
        **kwargs)


class _Exchange:
    """Where simulated processes (threads) swap values."""

    def __init__(self, world_size: int) -> None:
        self.barrier = threading.Barrier(world_size)
        self.slots: List[Any] = [None] * world_size

    def all_gather(self, rank: int, value: Any) -> List[Any]:
        self.slots[rank] = value
        self.barrier.wait()
        values = list(self.slots)
        self.barrier.wait()  # nobody writes before everyone has read
        return values


class ProcessView(TensorContext):
    """Process ``rank`` of ``world_size`` over the data of ``context``.

    Asking for features or predictions of another process's image is an
    error. Without an exchange only the sharding (:meth:`owns`,
    :meth:`requests`) can be used; :func:`run_processes` gives one.
    """

    def __init__(self, context: TensorContext, rank: int, world_size: int,
                 exchange: Optional[_Exchange] = None) -> None:
        self.__dict__.update(context.__dict__)  # same tensors and logs
        self.blocks = ImageBlocks(context.blocks.size, rank, world_size)
        self._exchange = exchange

    def _check_owned(self, request: PixelRequest) -> None:
        foreign = [image for image in request if not self.owns(image)]
        if foreign:
            raise AssertionError(f'process {self.rank} asked for images '
                                 f'{foreign} of other processes')

    def features(self, request, draw=None):
        self._check_owned(request)
        return super().features(request, draw)

    def log_probs(self, request, draw=None, mc_dropout=False):
        self._check_owned(request)
        return super().log_probs(request, draw, mc_dropout)

    def collect(self, part):
        parts = self._exchange.all_gather(self.rank, dict(part))
        return self.merge(parts) if self.is_main else None

    def share(self, value):
        return self._exchange.all_gather(self.rank, value)[0]


def run_processes(context: TensorContext, world_size: int,
                  fn: Callable[[ProcessView], Any]) -> List[Any]:
    """``fn`` on ``world_size`` simulated processes (threads) sharing
    ``context``'s data; returns each process's result."""
    exchange = _Exchange(world_size)
    results: List[Any] = [None] * world_size
    errors: List[BaseException] = []

    def work(rank: int) -> None:
        try:
            results[rank] = fn(ProcessView(context, rank, world_size,
                                           exchange))
        except BaseException as error:  # re-raised in the caller
            errors.append(error)
            exchange.barrier.abort()

    threads = [threading.Thread(target=work, args=(rank, ))
               for rank in range(world_size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
