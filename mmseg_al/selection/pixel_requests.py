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


def sample_candidates(context: SelectionContext, image: int,
                      limit: Optional[int]) -> Tensor:
    """The unlabelled candidates of ``image``, or a seeded subset of them.

    The subset is keyed by ``('candidates', image_id)`` so it does not
    depend on the order in which images are visited.

    Args:
        context: the selection context.
        image: image index.
        limit: keep at most this many candidates (None = all).

    Returns:
        Sorted int64 flat pixel indices.
    """
    candidates = context.candidate_pixels(image)
    if limit is None or candidates.numel() <= limit:
        return candidates
    generator = context.generator('candidates', context.image_ids[image])
    keep = torch.randperm(candidates.numel(), generator=generator)[:limit]
    return candidates[keep.sort().values]


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
