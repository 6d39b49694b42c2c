"""A round's selection, kept on disk until its labels are saved.

Selecting is the expensive step of a round, and with a human annotator the
run stops between selecting and labelling. The selection is therefore
written first (``queries/round_XX.npz``: image ids, pixels, scores; plain
arrays, no pickles) next to the annotator's ``queries/round_XX.json``, and a
resumed run labels exactly these pixels instead of selecting again.
With region expansion the regions proposed for its clicks are kept next to
it (``queries/round_XX_regions.npz``), for the annotator to see and the
loop to store.
"""
import io
import os
import zipfile
import zlib
from typing import List, NamedTuple, Optional, Sequence

import numpy as np

from .atomic_io import atomic_write_bytes
from .label_store import LabelStore


class RoundSelection(NamedTuple):
    """The pixels chosen in a round, in selection order."""
    image_ids: List[str]
    pixels: np.ndarray  #: ``[b]`` int64 flat pixel indices
    scores: np.ndarray  #: ``[b]`` float64 scores that ranked them


class PendingQueries:
    """One round's selection, query file and overlays (from
    ``RunDir.queries``), and the storage of the selection.

    Args:
        selection_file: the ``.npz`` selection.
        query_file: the JSON file a person answers.
        overlay_dir: the folder of the overlay pictures.
        round_idx: the round.
    """

    def __init__(self, selection_file: str, query_file: str,
                 overlay_dir: str, round_idx: int) -> None:
        self.selection_file = selection_file
        self.query_file = query_file
        self.overlay_dir = overlay_dir
        self.round_idx = round_idx

    @property
    def regions_file(self) -> str:
        """The regions proposed for the round's clicks."""
        return os.path.splitext(self.selection_file)[0] + '_regions.npz'

    def save_regions(self, regions: Sequence[np.ndarray]) -> None:
        """Keep each click's proposed region (flat pixels), in query
        order."""
        buffer = io.BytesIO()
        np.savez(buffer, pixels=np.concatenate(
            [np.asarray(r, dtype=np.int64) for r in regions]
        ) if len(regions) else np.zeros(0, dtype=np.int64),
            sizes=np.asarray([len(r) for r in regions], dtype=np.int64))
        atomic_write_bytes(self.regions_file, buffer.getvalue())

    def load_regions(self, count: int) -> Optional[List[np.ndarray]]:
        """The saved regions of the round's ``count`` clicks, or None when
        none were saved.

        Raises:
            ValueError: the file is unreadable or holds another number of
                regions, naming it and how to propose them again.
        """
        if not os.path.exists(self.regions_file):
            return None
        try:
            with np.load(self.regions_file, allow_pickle=False) as data:
                pixels, sizes = data['pixels'], data['sizes']
        except (OSError, ValueError, KeyError, EOFError,
                zipfile.BadZipFile, zlib.error) as exc:
            raise self._bad_regions(f'unreadable ({type(exc).__name__}: '
                                    f'{exc})') from None
        if sizes.shape != (count, ) or sizes.sum() != len(pixels):
            raise self._bad_regions(f'{sizes.size} regions of {len(pixels)} '
                                    f'pixels for {count} clicks')
        if not count:
            return []
        return np.split(pixels.astype(np.int64), np.cumsum(sizes)[:-1])

    def _bad_regions(self, problem: str) -> ValueError:
        return ValueError(f'{self.regions_file}: {problem}. Delete it to '
                          'propose the regions again (the same ones).')

    def save(self, image_ids: Sequence[str], pixels: np.ndarray,
             scores: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, image_ids=np.asarray(image_ids, dtype=np.str_),
                 pixels=np.asarray(pixels, dtype=np.int64),
                 scores=np.asarray(scores, dtype=np.float64))
        atomic_write_bytes(self.selection_file, buffer.getvalue())

    def load(self, store: Optional[LabelStore] = None,
             budget: Optional[int] = None
             ) -> Optional[RoundSelection]:
        """The saved selection, or None if nothing is pending.

        Args:
            store: the labels of the earlier rounds; the selection must
                name distinct unlabelled pixels of its images.
            budget: the pixels the round labels; the selection must hold
                exactly that many.

        Raises:
            ValueError: the file is unreadable or breaks one of these
                rules, naming it and how to select the round again.
        """
        if not os.path.exists(self.selection_file):
            return None
        try:
            with np.load(self.selection_file, allow_pickle=False) as data:
                image_ids = [str(i) for i in data['image_ids']]
                pixels, scores = data['pixels'], data['scores']
        except (OSError, ValueError, KeyError, EOFError,
                zipfile.BadZipFile, zlib.error) as exc:
            raise self._invalid(
                f'unreadable pending selection of round {self.round_idx} '
                f'({type(exc).__name__}: {exc})') from None
        if scores.shape != (len(image_ids), ):
            raise self._invalid(f'{scores.shape} scores for '
                                f'{len(image_ids)} image ids')
        if budget is not None and len(image_ids) != budget:
            raise self._invalid(
                f'{len(image_ids)} pixels are pending, but round '
                f'{self.round_idx} labels {budget} (train_cfg.budget)')
        if store is not None:
            try:
                store.check_unlabelled(image_ids, pixels)
            except (ValueError, TypeError) as exc:
                raise self._invalid(f'not a selection of this run: {exc}'
                                    ) from None
        return RoundSelection(image_ids, pixels.astype(np.int64),
                              scores.astype(np.float64))

    def _invalid(self, problem: str) -> ValueError:
        return ValueError(
            f'{self.selection_file}: {problem}. Delete it to select this '
            'round again (the same pixels are chosen); '
            f'{self.query_file} is then written again, blank, so move it '
            'aside first if it holds labels.')
