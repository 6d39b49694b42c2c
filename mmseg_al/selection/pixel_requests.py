"""Pixel sets as selectors handle them: requests to a context, selections.

Features and predictions are expensive (a diffusion UNet per image), so
selectors ask for them per block of images (``SelectionContext.requests``),
never per pixel and never for the whole pool at once.
"""
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from .context import Selection, SelectionContext

#: ``(image index, flat pixel indices)``
ImagePixels = Tuple[int, Tensor]


#: How candidate subsets relate across rounds (see :func:`sample_candidates`).
CANDIDATE_MODES = ('fixed', 'per_round')


def check_candidate_mode(mode: str) -> None:
    """Raise a ValueError naming a bad ``candidates`` setting."""
    if mode not in CANDIDATE_MODES:
        raise ValueError(f'candidates must be one of {CANDIDATE_MODES}, got '
                         f'{mode!r}')


def sample_candidates(context: SelectionContext, image: int,
                      limit: Optional[int], mode: str = 'fixed') -> Tensor:
    """The unlabelled candidates of ``image``, or a seeded subset of them.

    The subset is keyed by ``('candidates', image_id)`` so it does not
    depend on the order in which images are visited. ``mode`` says how the
    subsets of different rounds relate:

    * ``'fixed'`` (the authors' protocol): the subset is drawn once, with
      the round-0 key, from every pixel the image offers (its unlabelled
      candidates plus its labelled pixels, a set that does not change over
      rounds); a later round keeps that subset minus the pixels labelled
      since. At round 0 it equals ``'per_round'``.
    * ``'per_round'``: a fresh subset of this round's unlabelled pixels,
      keyed by the round, so over the rounds selection reaches pixels
      outside any single draw.

    Args:
        context: the selection context.
        image: image index.
        limit: keep at most this many candidates (None = all).
        mode: ``'fixed'`` or ``'per_round'``.

    Returns:
        Sorted int64 flat pixel indices.
    """
    check_candidate_mode(mode)
    candidates = context.candidate_pixels(image)
    if limit is None:
        return candidates
    image_id = context.image_ids[image]
    if mode == 'per_round':
        if candidates.numel() <= limit:
            return candidates
        keep = torch.randperm(
            candidates.numel(),
            generator=context.generator('candidates', image_id))[:limit]
        return candidates[keep.sort().values]
    offered = torch.cat([candidates, context.labelled_pixels(image)]).sort()
    offered = offered.values
    if offered.numel() > limit:
        keep = torch.randperm(
            offered.numel(),
            generator=context.generator('candidates', image_id,
                                        round_idx=0))[:limit]
        offered = offered[keep.sort().values]
    return offered[torch.isin(offered, candidates)]


def image_pixel_order(image_index: Tensor, pixels: Tensor) -> Tensor:
    """The permutation that sorts parallel index tensors by (image,
    pixel)."""
    order = torch.argsort(pixels, stable=True)
    return order[torch.argsort(image_index[order], stable=True)]


def group_by_image(image_index: Tensor,
                   pixels: Tensor) -> Dict[int, Tensor]:
    """``{image: sorted pixels}`` from parallel index tensors, images
    in ascending order."""
    order = image_pixel_order(image_index, pixels)
    image_index, pixels = image_index[order], pixels[order]
    images, counts = torch.unique_consecutive(image_index,
                                              return_counts=True)
    return {
        int(image): group
        for image, group in zip(images, pixels.split(counts.tolist()))
    }


def empty_selection() -> Selection:
    """A selection of no pixel (an exhausted pool)."""
    return Selection(
        torch.empty(0, dtype=torch.long), torch.empty(0, dtype=torch.long),
        torch.empty(0))
