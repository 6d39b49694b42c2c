"""metrics.json: one entry per trained head, rewritten atomically.

Format::

    {"rounds": [{"round": r, "labelled_pixels": n, "mIoU": percent,
                 "per_class_IoU": {class: percent or null},
                 "seconds": {phase: s},
                 "unet_passes": {purpose: images}}, ...]}

Entry ``r`` describes the head trained on the labels of rounds ``0..r``;
``labelled_pixels`` counts the clicks (the budget's pixels). With region
expansion an entry also holds ``"expanded_pixels"``: the pixels the
clicks' accepted regions labelled besides.
"""
import json
import math
import os
from typing import Dict, List, Optional

from .atomic_io import atomic_write_json


class MetricsLog:
    """The learning curve of a run, persisted after every round.

    Args:
        path: the file (``RunDir.metrics``).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.entries: List[dict] = []

    def load(self, last_round: Optional[int] = None) -> 'MetricsLog':
        """Read the file, keeping only entries of rounds ``<= last_round``
        (all if None).

        Entries past the labelled state (written by a run that crashed
        before saving its labels) are dropped: they are recomputed.
        """
        if not os.path.exists(self.path):
            return self
        try:
            with open(self.path, encoding='utf-8') as file:
                data = json.load(file)
            self.entries = [
                e for e in data['rounds']
                if last_round is None or e['round'] <= last_round
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f'{self.path} is not a metrics file of this format '
                f'({exc!r}); move it away to recompute it') from None
        return self

    def entry(self, round_idx: int) -> Optional[dict]:
        return next((e for e in self.entries if e['round'] == round_idx),
                    None)

    def record(self, round_idx: int, labelled_pixels: int, miou: float,
               per_class_iou: Dict[str, float],
               seconds: Dict[str, float],
               passes: Optional[Dict[str, int]] = None,
               expanded_pixels: Optional[int] = None) -> dict:
        """Add (or replace) the entry of ``round_idx``; ``passes``: the
        images run through the backbone for it, by purpose;
        ``expanded_pixels``: with region expansion, the expanded pixels
        (None: no such key)."""
        entry = {
            'round': round_idx,
            'labelled_pixels': int(labelled_pixels),
            'mIoU': _json_number(miou),
            'per_class_IoU': {
                name: _json_number(value)
                for name, value in per_class_iou.items()
            },
            'seconds': {k: round(float(v), 3) for k, v in seconds.items()},
            'unet_passes': {k: int(v) for k, v in (passes or {}).items()},
        }
        if expanded_pixels is not None:
            entry['expanded_pixels'] = int(expanded_pixels)
        self.entries = [e for e in self.entries if e['round'] != round_idx]
        self.entries.append(entry)
        self.entries.sort(key=lambda e: e['round'])
        return entry

    def save(self) -> None:
        """Rewrite the file atomically (a crash leaves the previous one)."""
        atomic_write_json(self.path, {'rounds': self.entries})

    def table(self) -> str:
        """A plain-text table: round, labelled pixels, mIoU."""
        lines = [f'{"round":>5}  {"labelled pixels":>15}  {"mIoU":>6}']
        for e in self.entries:
            miou = 'n/a' if e['mIoU'] is None else f'{e["mIoU"]:.2f}'
            lines.append(f'{e["round"]:>5}  {e["labelled_pixels"]:>15}  '
                         f'{miou:>6}')
        return '\n'.join(lines)


def _json_number(value: float) -> Optional[float]:
    """Round to 2 decimals; NaN (e.g. a class absent everywhere) -> null."""
    value = float(value)
    return None if math.isnan(value) else round(value, 2)
