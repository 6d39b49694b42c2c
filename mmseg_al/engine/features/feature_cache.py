"""Pixel features kept for the whole run.

With a frozen backbone a pixel's clean feature is a constant, and so is a
noise draw's feature when the draws are the same every round. The
labelled pixels' features are needed again in every round (the head is
retrained from scratch), and with a fixed candidate subset so are the
candidates'. They are kept here, keyed by ``(draw, image_id, pixel)``
(``draw`` None for the clean features).
"""
from typing import Dict, Optional, Tuple

import torch

Key = Tuple[Optional[int], str]


class FeatureCache:
    """Rows of features ``[n, D]`` per (draw, image), looked up by flat
    pixel index."""

    def __init__(self) -> None:
        self._entries: Dict[Key, Tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return sum(pixels.numel() for pixels, _ in self._entries.values())

    def lookup(self, image_id: str, pixels: torch.Tensor,
               draw: Optional[int] = None
               ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Find cached rows for ``pixels``.

        Args:
            image_id: the image.
            pixels: ``[n]`` int64 flat pixel indices (any order).
            draw: the noise draw (None: the clean features).

        Returns:
            ``(hit, rows)``: ``hit`` is a ``[n]`` bool CPU mask, ``rows``
            the cached features ``[hit.sum(), D]`` of the hits in request
            order (None when the image has no entry).
        """
        entry = self._entries.get((draw, image_id))
        if entry is None or pixels.numel() == 0:
            return torch.zeros(pixels.numel(), dtype=torch.bool), None
        cached_pixels, cached_rows = entry
        pixels = pixels.cpu()
        pos = torch.searchsorted(cached_pixels, pixels).clamp_(
            max=cached_pixels.numel() - 1)
        hit = cached_pixels[pos] == pixels
        return hit, cached_rows[pos[hit].to(cached_rows.device)]

    def put(self, image_id: str, pixels: torch.Tensor, rows: torch.Tensor,
            draw: Optional[int] = None) -> None:
        """Add features of ``pixels`` (pixels already cached are skipped)."""
        pixels = pixels.cpu()
        hit, _ = self.lookup(image_id, pixels, draw)
        pixels, rows = pixels[~hit], rows[(~hit).to(rows.device)]
        if pixels.numel() == 0:
            return
        entry = self._entries.get((draw, image_id))
        if entry is not None:
            pixels = torch.cat([entry[0], pixels])
            rows = torch.cat([entry[1], rows])
        order = torch.argsort(pixels)
        self._entries[(draw, image_id)] = (pixels[order],
                                           rows[order.to(rows.device)])
