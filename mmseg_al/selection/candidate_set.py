"""Stage 1: a representative candidate set, local per image then global.

Uncertainty alone, at a budget of 0.1 pixel per image, keeps choosing
near-duplicates. Stage 1 first spreads picks over every image of the pool
(local herding over a random subset of its unlabelled pixels), then keeps
the picks that best cover them all (global herding), both conditioned on
the pixels already labelled so they fill the gaps left by earlier rounds.
Stage 2 ranks the resulting candidates.
"""
import warnings
from dataclasses import dataclass
from typing import Dict, Iterator, Optional, Tuple

import torch
from torch import Tensor

from mmseg_al.registry import TASK_UTILS
from mmseg_al.utils import track
from .builder import build_selector
from .context import Selection, SelectionContext
from .pixel_requests import (ImagePixels, check_candidate_mode,
                             empty_selection, sample_candidates)


@dataclass
class _LocalPicks:
    """The union of the local picks, and every labelled pixel's feature.

    Attributes:
        image_index (Tensor): ``[n]`` image of each local pick.
        pixels (Tensor): ``[n]`` flat pixel of each local pick.
        features (Tensor): ``[n, D]`` clean features of the local picks.
        labelled_features (Tensor): ``[m, D]`` clean features of all
            labelled pixels of the pool.
    """
    image_index: Tensor
    pixels: Tensor
    features: Tensor
    labelled_features: Tensor

    @classmethod
    def join(cls, per_image: Dict[int, Tuple[Tensor, Tensor, Tensor]]
             ) -> Optional['_LocalPicks']:
        """Concatenate ``{image: (pixels, features, labelled features)}``
        in image order (None if no image has a local pick)."""
        picked = [(image, pixels, features)
                  for image, (pixels, features, _) in per_image.items()
                  if pixels.numel()]
        if not picked:
            return None
        return cls(
            torch.cat([torch.full((p.numel(), ), i) for i, p, _ in picked]),
            torch.cat([p for _, p, _ in picked]),
            torch.cat([f for _, _, f in picked]),
            torch.cat([labelled for _, _, labelled in per_image.values()]))


@TASK_UTILS.register_module()
class LocalGlobalCandidates:
    """Local-then-global herding over the clean features of a context.

    Local step, per image: a seeded random subset of at most
    ``candidates_per_image`` unlabelled candidates (key
    ``('candidates', image_id)``, fixed at round 0 or redrawn every round,
    see :func:`sample_candidates`); the picker selects ``local_budget`` of
    them (all if fewer), with the image's labelled pixels as initial
    coverage. Global step: the picker selects from the union of the local
    picks, with all labelled pixels as initial coverage, keeping
    ``round(keep_ratio * |union|)`` pixels or the size the caller asks for.

    Args:
        picker (dict): config (in ``TASK_UTILS``) of a feature picker with
            ``select(points, budget, labelled, generator)``, e.g.
            ``dict(type='MaxHerding')`` or ``dict(type='CoreSet')``.
        candidates_per_image (int, optional): candidates drawn per image
            for the local step (None = all unlabelled pixels).
        candidates (str): ``'fixed'`` (default: the subset drawn at round 0,
            minus the pixels labelled since, as in the authors' code, so
            results are comparable with the paper's) or ``'per_round'``
            (a fresh subset each round).
        local_budget (int): local picks per image (``K``).
        keep_ratio (float): fraction of the union kept by the global step.

    Features are requested one block of the context's images at a time
    (``context.blocks``), which bounds memory to ``block size x
    (candidates_per_image + labelled) x D`` floats.
    """

    def __init__(self,
                 picker: dict = dict(type='MaxHerding'),
                 candidates_per_image: Optional[int] = 10000,
                 candidates: str = 'fixed',
                 local_budget: int = 50,
                 keep_ratio: float = 0.5) -> None:
        if candidates_per_image is not None and candidates_per_image < 1:
            raise ValueError('candidates_per_image must be >= 1 or None, '
                             f'got {candidates_per_image}')
        check_candidate_mode(candidates)
        if local_budget < 1:
            raise ValueError(f'local_budget must be >= 1, got {local_budget}')
        if not 0 < keep_ratio <= 1:
            raise ValueError(
                f'keep_ratio must be in (0, 1], got {keep_ratio}')
        self.picker = build_selector(picker)
        self.candidates_per_image = candidates_per_image
        self.candidates = candidates
        self.local_budget = local_budget
        self.keep_ratio = keep_ratio

    def build(self,
              context: SelectionContext,
              size: Optional[int] = None,
              min_size: int = 0) -> Selection:
        """Run both steps and return the candidates in global pick order.

        Args:
            context: the selection context (only features are used, so this
                works in round 0).
            size: exact number of candidates wanted (e.g. the budget, for
                the cold start); if the union of local picks is smaller, all
                of it is returned with a warning. None = ``keep_ratio`` of
                it.
            min_size: lower bound of the ``keep_ratio`` size, so that a
                later ranking has at least a budget to choose from.

        Returns:
            The candidates; ``scores`` are the herding gains of the global step
            (NaN when the whole union is kept without herding).
        """
        union = context.collect(self._local_picks(context))
        candidates = None if union is None else self._global_picks(
            context, _LocalPicks.join(union), size, min_size)
        return context.share(candidates)

    def _global_picks(self, context: SelectionContext,
                      union: Optional[_LocalPicks], size: Optional[int],
                      min_size: int) -> Selection:
        """The global step over the union of every image's local picks."""
        if union is None:
            warnings.warn('Stage 1 found no unlabelled candidate pixel in '
                          f'any of the {context.num_images} images; the '
                          'pool is empty.')
            return empty_selection()
        num_union = union.pixels.numel()
        if size is None:
            size = max(round(self.keep_ratio * num_union), min_size)
        elif size > num_union:
            warnings.warn(
                f'Stage 1 was asked for {size} pixels but the local picks '
                f'hold only {num_union}; taking all of them.')
        if size >= num_union:
            return Selection(union.image_index, union.pixels,
                             torch.full((num_union, ), float('nan')))
        labelled = union.labelled_features
        result = self.picker.select(
            union.features,
            size,
            labelled=labelled if labelled.shape[0] else None,
            generator=context.generator('global'))
        return Selection(union.image_index[result.indices],
                         union.pixels[result.indices],
                         result.gains.detach().cpu().float())

    def _local_picks(self, context: SelectionContext
                     ) -> Dict[int, Tuple[Tensor, Tensor, Tensor]]:
        """``{image: (local picks, their features, labelled features)}``
        of the images this process owns, features on the CPU."""
        found: Dict[int, Tuple[Tensor, Tensor, Tensor]] = {}
        num_candidates: Dict[int, int] = {}

        def items() -> Iterator[ImagePixels]:
            for image in range(context.num_images):
                if not context.owns(image):
                    continue
                candidates = sample_candidates(context, image,
                                               self.candidates_per_image,
                                               self.candidates)
                num_candidates[image] = candidates.numel()
                yield image, torch.cat(
                    [candidates, context.labelled_pixels(image)])

        requests = track(context.requests(items()),
                         desc='Stage 1: local picks')
        for request in requests:
            for image, image_features in context.features(request).items():
                split = num_candidates[image]
                candidates = image_features[:split]
                labelled = image_features[split:]
                picks = (self._pick_local(context, image, candidates,
                                          labelled)
                         if split else torch.zeros(0, dtype=torch.long))
                found[image] = (request[image][:split][picks],
                                candidates[picks].cpu(), labelled.cpu())
        return found

    def _pick_local(self, context: SelectionContext, image: int,
                    candidate_features: Tensor,
                    labelled_features: Tensor) -> Tensor:
        """Indices of the ``local_budget`` picks among one image's
        candidates (all of them if there are not more)."""
        num_candidates = candidate_features.shape[0]
        if num_candidates <= self.local_budget:
            return torch.arange(num_candidates)
        result = self.picker.select(
            candidate_features,
            self.local_budget,
            labelled=labelled_features if labelled_features.shape[0] else None,
            generator=context.generator('local', context.image_ids[image]))
        return result.indices.cpu()
