"""Cache of pixel features that cannot change during a run.

With a frozen backbone and a fixed noise per image, the clean feature of a
labelled pixel is a constant: it is computed once and every later training
step reads it from here instead of running the UNet again.
"""
from typing import Dict

import torch
from torch import Tensor


class PointFeatureCache:
    """Features keyed by ``(image id, flat pixel index)``."""

    def __init__(self) -> None:
        self._rows: Dict[str, Dict[int, Tensor]] = {}

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._rows.values())

    def missing(self, image_id: str, pixels: Tensor) -> Tensor:
        """Boolean mask ``[n]``: which of ``pixels`` are not cached yet."""
        rows = self._rows.get(image_id, {})
        return torch.tensor([int(p) not in rows for p in pixels.tolist()],
                            dtype=torch.bool)

    def store(self, image_id: str, pixels: Tensor, features: Tensor) -> None:
        """Remember ``features[i]`` (detached) as the feature of
        ``pixels[i]``."""
        rows = self._rows.setdefault(image_id, {})
        for pixel, row in zip(pixels.tolist(), features.detach()):
            rows[int(pixel)] = row

    def gather(self, image_id: str, pixels: Tensor) -> Tensor:
        """``[n, D]`` cached features of ``pixels`` (all must be cached)."""
        rows = self._rows[image_id]
        return torch.stack([rows[int(p)] for p in pixels.tolist()])

    def clear(self) -> None:
        """Forget everything (e.g. after loading other backbone weights)."""
        self._rows.clear()
