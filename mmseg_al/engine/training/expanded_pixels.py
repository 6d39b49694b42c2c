"""The expanded pixels a head trains on: bounded per click, weighted.

A region can hold thousands of pixels (a SAM mask of a road), so the head
trains on at most ``max_pixels_per_click`` of each click's expanded
pixels: a larger region is represented by a subset drawn with a generator
keyed by ``(seed, 'expansion', image id, click)``, the same in every round
and on resume, so the kept features of the labelled pixels stay valid.
"""
from typing import Optional, Tuple

import numpy as np
import torch

from mmseg_al.state import LabelStore
from mmseg_al.utils import numpy_rng


def capped_expansion(store: LabelStore, max_pixels_per_click: Optional[int],
                     seed: int) -> Tuple[LabelStore, int]:
    """``store`` with at most ``max_pixels_per_click`` expanded pixels per
    click (all clicks kept), and how many expanded pixels were left out.
    """
    if max_pixels_per_click is None or not store.num_expanded:
        return store, 0
    keep, left_out = {}, 0
    for image_id in store.labelled_image_ids():
        expanded = store.expanded(image_id)
        sources = store.sources(image_id)
        mask = np.ones(len(expanded), dtype=bool)
        clicks, counts = np.unique(sources[expanded], return_counts=True)
        for click in clicks[counts > max_pixels_per_click]:
            members = np.flatnonzero(expanded & (sources == click))
            rng = numpy_rng(seed, 'expansion', image_id, int(click))
            chosen = rng.choice(len(members), max_pixels_per_click,
                                replace=False)
            mask[members] = False
            mask[members[chosen]] = True
            left_out += len(members) - max_pixels_per_click
        keep[image_id] = mask
    return store.selected(keep), left_out


def expanded_weights(store: LabelStore,
                     weight: float) -> Optional[torch.Tensor]:
    """``[n]`` loss weights of the labelled pixels in the order of
    ``PoolFeatures.labelled`` (images in pool order, then pixels): 1 for a
    click, ``weight`` for an expanded pixel; None when all would be 1."""
    if weight == 1 or not store.num_expanded:
        return None
    flags = np.concatenate([store.expanded(i)
                            for i in store.labelled_image_ids()])
    return torch.from_numpy(np.where(flags, weight, 1.0)).float()


__all__ = ['capped_expansion', 'expanded_weights']
