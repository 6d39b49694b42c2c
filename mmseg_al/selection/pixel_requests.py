"""Pixel sets as selectors handle them: requests to a context, selections.

Features and predictions are expensive (a diffusion UNet per image), so
selectors ask for them per chunk of images, never per pixel and never for
the whole pool at once.
"""
from typing import Dict, Iterable, Iterator, Optional, Tuple

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


def chunk_requests(items: Iterable[ImagePixels],
                   max_pixels: int) -> Iterator[Dict[int, Tensor]]:
    """Group ``(image, pixels)`` items into requests of bounded size.

    Images are never split; a request closes once it holds ``max_pixels``
    pixels or more, so one large image makes a request on its own. Images
    without pixels are skipped.

    Args:
        items: ``(image, pixels)`` pairs, e.g. a lazy generator.
        max_pixels: pixel count at which a request is closed.

    Yields:
        ``{image: pixels}`` requests in the order of ``items``.
    """
    request: Dict[int, Tensor] = {}
    size = 0
    for image, pixels in items:
        if pixels.numel() == 0:
            continue
        request[image] = pixels
        size += pixels.numel()
        if size >= max_pixels:
            yield request
            request, size = {}, 0
    if request:
        yield request


def group_by_image(image_index: Tensor,
                   pixels: Tensor) -> Dict[int, Tensor]:
    """``{image: sorted pixels}`` from parallel index tensors, images
    in ascending order."""
    order = torch.argsort(pixels, stable=True)
    order = order[torch.argsort(image_index[order], stable=True)]
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
