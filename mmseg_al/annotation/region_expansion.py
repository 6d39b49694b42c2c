"""One click, one region: a click's class spread over a proposed region.

Between the oracle's answer and the label store, an expansion proposes a
region for every click of a round (its superpixel, or SAM's mask), the
annotator accepts it or keeps the pixel alone, and the accepted regions'
pixels are stored as *expanded* pixels pointing to their click (see
:class:`~mmseg_al.state.LabelStore`): the budget still counts clicks.

Overlapping regions never overwrite each other (:func:`expand_clicks`):

1. a pixel already labelled (a click of any round, this one included, or
   an expanded pixel of an earlier round) keeps its label: clicks always
   win, and the state is only ever appended to;
2. a pixel claimed by accepted regions of this round with different
   classes is dropped from all of them (counted as conflicting);
3. a pixel claimed by several regions of the same class goes to the
   earliest of their clicks in query order.

A void answer or a rejected region expands nothing.
"""
from typing import Callable, List, NamedTuple, Optional, Sequence

import numpy as np

from mmseg_al.registry import TASK_UTILS


class Expansion(NamedTuple):
    """The expanded pixels of a round, and what the rule dropped."""
    image_ids: List[str]  #: image of each expanded pixel
    pixels: np.ndarray  #: ``[n]`` int64 flat pixel
    sources: np.ndarray  #: ``[n]`` int64 the click it takes its class from
    conflicting: int  #: pixels claimed by regions of different classes


def expand_clicks(image_ids: Sequence[str], pixels: np.ndarray,
                  classes: np.ndarray, regions: Sequence[np.ndarray],
                  accepted: np.ndarray,
                  labelled: Callable[[str], np.ndarray],
                  ignore_index: int = 255) -> Expansion:
    """The pixels a round's accepted regions label, by the module's rule.

    Args:
        image_ids, pixels, classes: the round's clicks and their answers.
        regions: each click's proposed region (flat pixels of its image).
        accepted: ``[n]`` bool, the annotator's choice for each region.
        labelled: ``image id -> labelled pixels`` once the round's clicks
            are stored.
        ignore_index: the void answer, which never expands.

    Returns:
        The expanded pixels, images in order of first query, pixels sorted.
    """
    pixels, classes = np.asarray(pixels), np.asarray(classes)
    accepted = np.asarray(accepted, dtype=bool)
    ids = np.asarray(image_ids)
    out_ids: List[str] = []
    out_pixels, out_sources = [], []
    conflicting = 0
    for image_id in dict.fromkeys(image_ids):
        rows = np.flatnonzero((ids == image_id) & accepted
                              & (classes != ignore_index))
        if not len(rows):
            continue
        taken = labelled(image_id)
        claims = [np.asarray(regions[k], dtype=np.int64) for k in rows]
        claims = [c[~np.isin(c, taken)] for c in claims]
        claimed = np.concatenate(claims)
        claimant = np.repeat(rows, [len(c) for c in claims])
        if not len(claimed):
            continue
        order = np.lexsort((claimant, claimed))  # by pixel, then query
        claimed, claimant = claimed[order], claimant[order]
        starts = np.flatnonzero(np.r_[True, claimed[1:] != claimed[:-1]])
        claim_classes = classes[claimant]
        agree = np.minimum.reduceat(claim_classes, starts) == \
            np.maximum.reduceat(claim_classes, starts)
        conflicting += int((~agree).sum())
        kept = starts[agree]
        out_ids += [image_id] * len(kept)
        out_pixels.append(claimed[kept])
        out_sources.append(pixels[claimant[kept]].astype(np.int64))
    empty = np.zeros(0, dtype=np.int64)
    return Expansion(out_ids,
                     np.concatenate(out_pixels) if out_pixels else empty,
                     np.concatenate(out_sources) if out_sources else empty,
                     conflicting)


class RegionExpansion:
    """What every expansion shares: regions proposed image by image, and
    how the head trains on them.

    Args:
        weight: loss weight of an expanded pixel relative to a click's
            (1: the same).
        max_pixels_per_click: the most expanded pixels of one click the
            head trains on; a larger region is represented by a seeded
            subset of that size (keyed by the run's seed, the image and
            the click, so the same in every round and on resume). None:
            all of them. Their features are kept for the run like the
            clicks': up to ``clicks x (1 + max_pixels_per_click) x D x 4``
            bytes (``D`` = 6144 for the 256-pixel UNet's features: about
            24 KB a pixel).
    """

    def __init__(self, weight: float = 1.0,
                 max_pixels_per_click: Optional[int] = 100) -> None:
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) \
                or not weight > 0:
            raise ValueError('train_cfg.expansion.weight must be a number > '
                             f'0, got {weight!r}')
        if max_pixels_per_click is not None and (
                not isinstance(max_pixels_per_click, int)
                or isinstance(max_pixels_per_click, bool)
                or max_pixels_per_click < 1):
            raise ValueError('train_cfg.expansion.max_pixels_per_click must '
                             'be an integer >= 1 or None (no cap), got '
                             f'{max_pixels_per_click!r}')
        self.weight = float(weight)
        self.max_pixels_per_click = max_pixels_per_click

    def propose(self, queries) -> List[np.ndarray]:
        """Each query's region: sorted flat pixels of its image, its click
        included; each image is prepared once (:meth:`regions_of`)."""
        regions: List[Optional[np.ndarray]] = [None] * len(queries.pixels)
        ids = np.asarray(queries.image_ids)
        for image_id in dict.fromkeys(queries.image_ids):
            rows = np.flatnonzero(ids == image_id)
            rgb = queries.images.rgb(image_id)
            shape = tuple(queries.image_shapes[image_id])
            if rgb.shape[:2] != shape:
                raise ValueError(
                    f'image {image_id!r} is {rgb.shape[:2]} as shown but '
                    f'{shape} in the pool; regions need the two to agree')
            found = self.regions_of(rgb, np.asarray(queries.pixels)[rows])
            for row, region in zip(rows, found):
                region = np.union1d(np.asarray(region, dtype=np.int64),
                                    [int(queries.pixels[row])])
                regions[row] = region
        return regions

    def regions_of(self, rgb: np.ndarray,
                   pixels: np.ndarray) -> List[np.ndarray]:
        """The regions (flat pixels) of ``pixels`` in one ``[H, W, 3]``
        uint8 image."""
        raise NotImplementedError


#: Parameters of each superpixel method and their defaults.
SUPERPIXEL_DEFAULTS = {
    'slic': dict(n_segments=100, compactness=10.0, sigma=1.0,
                 max_num_iter=10),
    'felzenszwalb': dict(scale=100.0, sigma=0.5, min_size=20),
}


@TASK_UTILS.register_module()
class SuperpixelExpansion(RegionExpansion):
    """A click's class spreads over its superpixel.

    Superpixels come from scikit-image: SLIC (k-means in colour and
    position from a regular grid of ``n_segments`` seeds, ``compactness``
    trading colour for shape, the image smoothed by a Gaussian of
    ``sigma``, ``max_num_iter`` iterations) or Felzenszwalb's graph
    segmentation (``scale``: larger gives larger segments; ``sigma``:
    smoothing; ``min_size``: the smallest segment). Neither draws random
    numbers: a region is a function of the image and these parameters, so
    a resumed run proposes the same regions with nothing to seed.

    Args:
        method: ``'slic'`` or ``'felzenszwalb'``.
        params: overrides of the method's defaults
            (:data:`SUPERPIXEL_DEFAULTS`).
        weight, max_pixels_per_click: see :class:`RegionExpansion`.
    """

    def __init__(self, method: str = 'slic', params: Optional[dict] = None,
                 weight: float = 1.0,
                 max_pixels_per_click: Optional[int] = 100) -> None:
        super().__init__(weight, max_pixels_per_click)
        if method not in SUPERPIXEL_DEFAULTS:
            raise ValueError(f'train_cfg.expansion.method must be one of '
                             f'{sorted(SUPERPIXEL_DEFAULTS)}, got '
                             f'{method!r}')
        defaults = SUPERPIXEL_DEFAULTS[method]
        unknown = sorted(set(params or {}) - set(defaults))
        if unknown:
            raise ValueError(f'train_cfg.expansion.params: {unknown} are not '
                             f'parameters of {method}; it takes '
                             f'{sorted(defaults)}')
        self.method = method
        self.params = {**defaults, **(params or {})}

    def segments(self, rgb: np.ndarray) -> np.ndarray:
        """``[H, W]`` superpixel ids of an RGB image."""
        from skimage import segmentation
        if self.method == 'slic':
            return segmentation.slic(rgb, start_label=0, channel_axis=-1,
                                     **self.params)
        return segmentation.felzenszwalb(rgb, channel_axis=-1, **self.params)

    def regions_of(self, rgb: np.ndarray,
                   pixels: np.ndarray) -> List[np.ndarray]:
        segments = self.segments(rgb).reshape(-1)
        return [np.flatnonzero(segments == segments[p]) for p in pixels]


__all__ = ['Expansion', 'RegionExpansion', 'SUPERPIXEL_DEFAULTS',
           'SuperpixelExpansion', 'expand_clicks']
