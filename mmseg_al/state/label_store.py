"""The labelled pixels of every image: the state a run must never lose.

A :class:`LabelStore` records, per image, which pixels have been labelled,
with which class, in which round and with which acquisition score. A pixel
is either a click (a pixel the annotator was asked about; the budget counts
these) or an expanded pixel (a click's class spread over its region by
:mod:`~mmseg_al.annotation.region_expansion`), which carries the
``expanded`` flag and its ``source``, the click it comes from. The store
refuses any batch that contains a bad record (unknown image, pixel outside
the image, pixel labelled before or twice in the batch, invalid class,
expanded pixel without its click) as a whole, so bad input never corrupts
what is already labelled.

After every round the store is saved in the run's state folder
(``RunDir.state_dir``) as ``round_XX.npz`` (plain arrays, no pickles) plus
``latest.json`` (round, dataset fingerprint, file name, counts), each
written atomically; files of format 1 (before expansion) hold clicks only
and still load. Every round's file is kept, so an earlier round can always
be reloaded.
"""
import copy
import hashlib
import io
import json
import os
import re
import zipfile
import zlib
from collections import Counter
from typing import (Any, Dict, List, Mapping, NamedTuple, Optional, Sequence,
                    Tuple, Union)

import numpy as np

from .annotations import write_annotations
from .atomic_io import PathLike, atomic_write_bytes, atomic_write_json
from .problems import list_problems

LATEST_FILE = 'latest.json'
FORMAT_VERSION = 2
#: Bad records listed in one error message; the rest are counted.
MAX_REPORTED_RECORDS = 10
_ROUND_FILE = re.compile(r'round_(\d+)\.npz')

ArrayLike = Union[np.ndarray, Sequence[int], Any]
#: Rows ``(image_id, pixel, class)``, or columns ``(image_ids, pixels,
#: classes)`` with ``pixels`` and ``classes`` as arrays or tensors.
Records = Union[Sequence[Tuple[str, int, int]],
                Tuple[Sequence[str], ArrayLike, ArrayLike]]


class StateFileError(RuntimeError):
    """A saved label state is missing, corrupt, or of another dataset."""


def round_name(round_idx: int) -> str:
    """``round_XX``: the name of round ``round_idx``'s files (its state,
    its selection, its query file, its overlay folder)."""
    return f'round_{round_idx:02d}'


def round_file_name(round_idx: int) -> str:
    """File name of the state saved after round ``round_idx``."""
    return round_name(round_idx) + '.npz'


def dataset_fingerprint(image_ids: Sequence[str],
                        image_shapes: Sequence[Tuple[int, int]],
                        num_classes: int) -> str:
    """Identify a dataset by its image ids, image sizes and class count.

    The ids are sorted first, so the same dataset listed in another order
    has the same fingerprint (records are stored by id, not by position).
    """
    entries = sorted([str(i), int(h), int(w)]
                     for i, (h, w) in zip(image_ids, image_shapes))
    text = json.dumps({'images': entries, 'num_classes': int(num_classes)},
                      separators=(',', ':'))
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]


def _int_array(values: ArrayLike, what: str) -> np.ndarray:
    """``values`` as a 1-D int64 array; TypeError for non-integers."""
    array = np.atleast_1d(np.asarray(values))
    if array.ndim != 1:
        raise ValueError(f'{what} must be 1-D, got shape {array.shape}')
    if array.size and array.dtype.kind not in 'iu':
        raise TypeError(f'{what} must be integers, got dtype {array.dtype}')
    return array.astype(np.int64)


class _ImageLabels(NamedTuple):
    """Labels of one image, sorted by pixel; all arrays aligned."""
    pixels: np.ndarray  # int64
    classes: np.ndarray  # int64
    rounds: np.ndarray  # int64
    scores: np.ndarray  # float64, NaN = no score
    sources: np.ndarray  # int64, the click a label comes from (a click: own)
    expanded: np.ndarray  # bool, True = an expanded pixel, not a click


_NO_LABELS = _ImageLabels(*(np.empty(0, dtype=d) for d in
                            (np.int64, np.int64, np.int64, np.float64,
                             np.int64, np.bool_)))


class LabelStore:
    """Labelled pixels per image, validated, savable and exportable.

    Pixels are flat indices ``y * W + x`` into an image's ``H x W`` grid.
    A pixel whose class is ``ignore_index`` was marked void by the
    annotator: it counts as labelled (it is never asked again) but adds to
    no class count.

    Args:
        image_ids (Sequence[str]): stable ids of the pool images.
        image_shapes (Sequence[tuple[int, int]]): ``(H, W)`` of each image.
        num_classes (int): valid classes are ``0 .. num_classes - 1``.
        ignore_index (int): the void value. Default: 255.
    """

    def __init__(self, image_ids: Sequence[str],
                 image_shapes: Sequence[Tuple[int, int]], num_classes: int,
                 ignore_index: int = 255) -> None:
        image_ids = [str(i) for i in image_ids]
        if not image_ids:
            raise ValueError('a LabelStore needs at least one image')
        if len(image_ids) != len(image_shapes):
            raise ValueError(f'got {len(image_ids)} image ids but '
                             f'{len(image_shapes)} image shapes')
        repeated = [i for i, n in Counter(image_ids).items() if n > 1]
        if repeated:
            raise ValueError(f'image id {repeated[0]!r} appears more than '
                             f'once; image ids must be unique')
        shapes = [tuple(int(v) for v in shape) for shape in image_shapes]
        for image_id, shape in zip(image_ids, shapes):
            if len(shape) != 2 or min(shape) <= 0:
                raise ValueError(f'image {image_id!r} has the shape {shape}; '
                                 f'expected (H, W) with H, W > 0')
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        if 0 <= ignore_index < num_classes:
            raise ValueError(f'ignore_index {ignore_index} is a valid class '
                             f'id (num_classes={num_classes}); the void '
                             f'value must lie outside [0, {num_classes})')
        self._image_ids = image_ids
        self._shapes: Dict[str, Tuple[int, int]] = dict(zip(image_ids,
                                                            shapes))
        self._position = {image_id: i for i, image_id in enumerate(image_ids)}
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.fingerprint = dataset_fingerprint(image_ids, shapes, num_classes)
        self._labels: Dict[str, _ImageLabels] = {}

    # ------------------------------------------------------------------ query
    @property
    def image_ids(self) -> List[str]:
        """Ids of all images of the pool, in dataset order."""
        return list(self._image_ids)

    @property
    def image_shapes(self) -> Dict[str, Tuple[int, int]]:
        """``{image id: (H, W)}`` of all images."""
        return dict(self._shapes)

    def image_shape(self, image_id: str) -> Tuple[int, int]:
        """``(H, W)`` of ``image_id``."""
        self._check_known(image_id)
        return self._shapes[image_id]

    def _check_known(self, image_id: str) -> None:
        if image_id not in self._shapes:
            raise KeyError(f'unknown image id {image_id!r}: not among the '
                           f'{len(self._image_ids)} images of this store')

    def _get(self, image_id: str) -> _ImageLabels:
        self._check_known(image_id)
        return self._labels.get(image_id, _NO_LABELS)

    def pixels(self, image_id: str) -> np.ndarray:
        """Labelled pixels of ``image_id``: sorted int64 flat indices."""
        return self._get(image_id).pixels.copy()

    def classes(self, image_id: str) -> np.ndarray:
        """Class of each pixel of :meth:`pixels` (int64)."""
        return self._get(image_id).classes.copy()

    def rounds(self, image_id: str) -> np.ndarray:
        """Round in which each pixel of :meth:`pixels` was labelled."""
        return self._get(image_id).rounds.copy()

    def scores(self, image_id: str) -> np.ndarray:
        """Acquisition score of each pixel of :meth:`pixels` (NaN = none)."""
        return self._get(image_id).scores.copy()

    def sources(self, image_id: str) -> np.ndarray:
        """The click each pixel of :meth:`pixels` takes its label from: the
        pixel itself for a click, its click for an expanded pixel."""
        return self._get(image_id).sources.copy()

    def expanded(self, image_id: str) -> np.ndarray:
        """Flag of each pixel of :meth:`pixels`: True for an expanded
        pixel, False for a click."""
        return self._get(image_id).expanded.copy()

    def labelled_image_ids(self) -> List[str]:
        """Images with at least one labelled pixel, in dataset order."""
        return [i for i in self._image_ids if i in self._labels]

    def up_to_round(self, round_idx: int) -> 'LabelStore':
        """A copy holding the labels of rounds ``0..round_idx`` only: what
        the head of round ``round_idx`` was trained on."""
        return self.selected({image_id: labels.rounds <= round_idx
                              for image_id, labels in self._labels.items()})

    def selected(self, keep: Mapping[str, np.ndarray]) -> 'LabelStore':
        """A copy holding, of each image named in ``keep``, the labels
        whose entry of its boolean mask (aligned with :meth:`pixels`) is
        True; images not named keep nothing."""
        subset = copy.copy(self)
        subset._labels = {}
        for image_id, mask in keep.items():
            mask = np.asarray(mask, dtype=bool)
            if mask.any():
                subset._labels[image_id] = _ImageLabels(
                    *(a[mask] for a in self._get(image_id)))
        return subset

    def label_map(self, image_id: str,
                  clicks_only: bool = False) -> np.ndarray:
        """``[H, W]`` int64 map: the class at labelled pixels (clicks and
        expanded pixels, or the clicks alone), else ``ignore_index``
        (e.g. to train another mmseg model on the labels as sparse label
        maps)."""
        labels = self._get(image_id)
        keep = ~labels.expanded if clicks_only else slice(None)
        label_map = np.full(self._shapes[image_id], self.ignore_index,
                            dtype=np.int64)
        label_map.reshape(-1)[labels.pixels[keep]] = labels.classes[keep]
        return label_map

    @property
    def num_labelled(self) -> int:
        """Number of labelled pixels (clicks and expanded pixels),
        void-marked ones included."""
        return sum(len(labels.pixels) for labels in self._labels.values())

    @property
    def num_clicks(self) -> int:
        """Number of clicks: the labelled pixels the budget counts."""
        return self.num_labelled - self.num_expanded

    @property
    def num_expanded(self) -> int:
        """Number of expanded pixels (labelled through a click's region)."""
        return sum(int(labels.expanded.sum())
                   for labels in self._labels.values())

    def class_counts(self) -> np.ndarray:
        """``[num_classes]`` int64 labelled pixels per class (void-marked
        pixels are not counted)."""
        counts = np.zeros(self.num_classes, dtype=np.int64)
        for labels in self._labels.values():
            valid = labels.classes[labels.classes != self.ignore_index]
            counts += np.bincount(valid, minlength=self.num_classes)
        return counts

    # -------------------------------------------------------------------- add
    def add(self, image_id: str, pixels: ArrayLike, classes: ArrayLike,
            round_idx: int, scores: Optional[ArrayLike] = None) -> None:
        """Label ``pixels`` of one image as clicks; all-or-nothing (see
        :meth:`add_many`).

        Args:
            image_id: the image.
            pixels: flat pixel indices (int array, tensor or scalar).
            classes: class of each pixel (``ignore_index`` = void).
            round_idx: the round in which they were labelled.
            scores: acquisition score of each pixel, or None.
        """
        pixels = _int_array(pixels, 'pixels')
        classes = _int_array(classes, 'classes')
        self.add_many(([image_id] * len(pixels), pixels, classes), round_idx,
                      scores)

    def add_many(self, records: Records, round_idx: int,
                 scores: Optional[ArrayLike] = None) -> None:
        """Label pixels of many images at once as clicks; all-or-nothing.

        Args:
            records: rows ``[(image_id, pixel, class), ...]``, or columns
                ``(image_ids, pixels, classes)`` with ``pixels`` and
                ``classes`` given as numpy arrays or tensors.
            round_idx: the round in which they were labelled.
            scores: acquisition score of each record, or None.

        Raises:
            ValueError: naming every bad record (image, pixel and (x, y),
                value) if any record has an unknown image, a pixel outside
                its image, a pixel already labelled or repeated in the
                batch, or a class outside ``[0, num_classes)`` that is not
                ``ignore_index``. The store is then unchanged.
        """
        image_ids, pixels, classes = self._columns(records)
        rounds = np.full(len(image_ids), int(round_idx), dtype=np.int64)
        self._add_columns(image_ids, pixels, classes, rounds, scores)

    def add_expanded(self, image_ids: Sequence[str], pixels: ArrayLike,
                     sources: ArrayLike, round_idx: int) -> None:
        """Label pixels with the class of their click: pixel ``pixels[k]``
        of ``image_ids[k]`` takes the class of the click ``sources[k]`` of
        the same image, labelled in round ``round_idx``; all-or-nothing.

        Raises:
            ValueError: naming every bad record, as :meth:`add_many`
                does, and every source that is not a click of its image
                labelled in ``round_idx`` with a class. The store is then
                unchanged.
        """
        image_ids = [str(i) for i in image_ids]
        sources = _int_array(sources, 'sources')
        classes = np.full(len(sources), self.ignore_index, dtype=np.int64)
        ids = np.asarray(image_ids)
        problems = []
        for image_id in dict.fromkeys(image_ids):
            rows = np.flatnonzero(ids == image_id)
            labels = self._labels.get(image_id, _NO_LABELS)
            ok = np.zeros(len(rows), dtype=bool)
            if len(labels.pixels):
                at = np.minimum(np.searchsorted(labels.pixels, sources[rows]),
                                len(labels.pixels) - 1)
                ok = (labels.pixels[at] == sources[rows]) & \
                    ~labels.expanded[at] & (labels.rounds[at] == round_idx) \
                    & (labels.classes[at] != self.ignore_index)
                classes[rows[ok]] = labels.classes[at[ok]]
            problems += [f'image {image_id!r} source {source}: not a click '
                         f'with a class labelled in round {round_idx}'
                         for source in sources[rows[~ok]]]
        if problems:
            raise ValueError(list_problems(
                f'{len(problems)} bad source(s), nothing was added:',
                problems, MAX_REPORTED_RECORDS))
        self._add_columns(image_ids, pixels, classes,
                          np.full(len(sources), int(round_idx)), None,
                          sources, np.ones(len(sources), dtype=bool))

    @staticmethod
    def _columns(records: Records
                 ) -> Tuple[List[str], ArrayLike, ArrayLike]:
        is_columns = (isinstance(records, tuple) and len(records) == 3
                      and all(hasattr(c, 'dtype') for c in records[1:]))
        if is_columns:
            image_ids, pixels, classes = records
            return [str(i) for i in image_ids], pixels, classes
        rows = list(records)
        for number, row in enumerate(rows):
            if len(row) != 3:
                raise ValueError(f'record {number} is {row!r}; expected '
                                 f'(image_id, pixel, class)')
        return ([str(r[0]) for r in rows], [r[1] for r in rows],
                [r[2] for r in rows])

    def _add_columns(self, image_ids: List[str], pixels: ArrayLike,
                     classes: ArrayLike, rounds: np.ndarray,
                     scores: Optional[ArrayLike],
                     sources: Optional[ArrayLike] = None,
                     expanded: Optional[ArrayLike] = None) -> None:
        """Validate everything, then merge (the only mutation point);
        ``sources`` and ``expanded`` None: clicks."""
        pixels = _int_array(pixels, 'pixels')
        classes = _int_array(classes, 'classes')
        rounds = _int_array(rounds, 'rounds')
        scores = np.full(len(image_ids), np.nan) if scores is None else \
            np.atleast_1d(np.asarray(scores, dtype=np.float64))
        sources = pixels if sources is None else _int_array(sources,
                                                            'sources')
        expanded = np.zeros(len(pixels), dtype=bool) if expanded is None \
            else np.atleast_1d(np.asarray(expanded)).astype(bool)
        lengths = {len(image_ids), len(pixels), len(classes), len(rounds),
                   len(scores), len(sources), len(expanded)}
        if len(lengths) != 1:
            raise ValueError(
                f'records are misaligned: {len(image_ids)} image ids, '
                f'{len(pixels)} pixels, {len(classes)} classes, '
                f'{len(scores)} scores')
        if rounds.size and rounds.min() < 0:
            raise ValueError(f'round {rounds.min()} is negative')
        groups = self._checked_groups(image_ids, pixels, classes,
                                      'nothing was added')
        new = {}
        for image_id, index in groups.items():
            old = self._get(image_id)
            merged = _ImageLabels(*(np.concatenate([a, b[index]]) for a, b in
                                    zip(old, (pixels, classes, rounds,
                                              scores, sources, expanded))))
            order = np.argsort(merged.pixels, kind='stable')
            new[image_id] = _ImageLabels(*(a[order] for a in merged))
        problems = [p for image_id, labels in new.items()
                    for p in _source_problems(image_id, labels)]
        if problems:
            raise ValueError(list_problems(
                f'{len(problems)} bad source(s), nothing was added:',
                problems, MAX_REPORTED_RECORDS))
        self._labels.update(new)

    def check_unlabelled(self, image_ids: Sequence[str],
                         pixels: ArrayLike) -> None:
        """Refuse pixels that cannot be asked for (a selection's): each must
        be a pixel of a known image, unlabelled and not repeated.

        Raises:
            ValueError: naming every bad record, as :meth:`add_many` does.
        """
        pixels = _int_array(pixels, 'pixels')
        if len(image_ids) != len(pixels):
            raise ValueError(f'records are misaligned: {len(image_ids)} '
                             f'image ids, {len(pixels)} pixels')
        self._checked_groups([str(i) for i in image_ids], pixels, None,
                             'nothing was labelled')

    def _checked_groups(self, image_ids: List[str], pixels: np.ndarray,
                        classes: Optional[np.ndarray], outcome: str
                        ) -> Dict[str, np.ndarray]:
        """:meth:`_group_by_image` of records that all pass
        :meth:`_check_image`, else ValueError listing every bad one."""
        unknown = sorted({i for i in image_ids if i not in self._shapes})
        if unknown:
            raise ValueError(
                f'unknown image id(s) {unknown[:MAX_REPORTED_RECORDS]}: not '
                f'among the {len(self._image_ids)} images of this store '
                f'(ids look like {self._image_ids[0]!r}); {outcome}')
        groups = self._group_by_image(image_ids)
        problems = [problem for image_id, index in groups.items()
                    for problem in self._check_image(
                        image_id, pixels[index],
                        None if classes is None else classes[index])]
        if problems:
            raise ValueError(list_problems(
                f'{len(problems)} bad record(s), {outcome}:', problems,
                MAX_REPORTED_RECORDS))
        return groups

    def _group_by_image(self, image_ids: List[str]
                        ) -> Dict[str, np.ndarray]:
        """``{image id: record indices}`` in dataset order."""
        positions = np.fromiter((self._position[i] for i in image_ids),
                                dtype=np.int64, count=len(image_ids))
        order = np.argsort(positions, kind='stable')
        unique, starts = np.unique(positions[order], return_index=True)
        return {self._image_ids[p]: index for p, index in
                zip(unique, np.split(order, starts[1:]))}

    def _check_image(self, image_id: str, pixels: np.ndarray,
                     classes: Optional[np.ndarray]) -> List[str]:
        """Problems of the new records of one image, one line each
        (classes None: pixels only)."""
        height, width = self._shapes[image_id]
        problems = []

        def where(pixel: int) -> str:
            return f'image {image_id!r} pixel {pixel} (x={pixel % width}, ' \
                   f'y={pixel // width})'

        outside = (pixels < 0) | (pixels >= height * width)
        problems += [f'image {image_id!r} pixel {p}: outside its '
                     f'{height}x{width} grid (valid 0..{height * width - 1})'
                     for p in pixels[outside]]
        if classes is not None:
            bad_class = ~(((classes >= 0) & (classes < self.num_classes))
                          | (classes == self.ignore_index))
            problems += [f'{where(p)}: class {c} is neither in [0, '
                         f'{self.num_classes}) nor the void value '
                         f'{self.ignore_index}' for p, c in
                         zip(pixels[bad_class], classes[bad_class])]
        unique, counts = np.unique(pixels[~outside], return_counts=True)
        problems += [f'{where(p)}: given {n} times in this batch'
                     for p, n in zip(unique[counts > 1], counts[counts > 1])]
        old = self._get(image_id)
        again = np.isin(unique, old.pixels)
        for pixel in unique[again]:
            at = np.searchsorted(old.pixels, pixel)
            problems.append(f'{where(pixel)}: already labelled (class '
                            f'{old.classes[at]}, round {old.rounds[at]})')
        return problems

    # -------------------------------------------------------------- save/load
    def _flat_columns(self) -> Dict[str, np.ndarray]:
        """All records, images in dataset order, pixels sorted."""
        ids = self.labelled_image_ids()
        parts = [self._labels[i] for i in ids]
        columns = {
            name: np.concatenate([getattr(p, name) for p in parts]
                                 ) if parts else getattr(_NO_LABELS, name)
            for name in _ImageLabels._fields
        }
        columns['image_ids'] = np.array(
            [i for i, p in zip(ids, parts) for _ in range(len(p.pixels))],
            dtype=str)
        return columns

    def _summary(self, round_idx: int, file_name: str) -> Dict[str, Any]:
        num_void = sum(int((labels.classes == self.ignore_index).sum())
                       for labels in self._labels.values())
        return {
            'format_version': FORMAT_VERSION,
            'round': int(round_idx),
            'file': file_name,
            'fingerprint': self.fingerprint,
            'num_images': len(self._image_ids),
            'num_classes': self.num_classes,
            'ignore_index': self.ignore_index,
            'num_labelled': self.num_labelled,
            'num_clicks': self.num_clicks,
            'num_expanded': self.num_expanded,
            'num_void': num_void,
            'num_labelled_images': len(self._labels),
            'class_counts': self.class_counts().tolist(),
        }

    def save(self, state_dir: PathLike, round_idx: int) -> str:
        """Save the store as the state after round ``round_idx``.

        Writes ``state_dir/round_XX.npz`` and then points
        ``state_dir/latest.json`` at it, each atomically: a crash at
        any moment leaves the previous state loadable and unchanged.

        Returns:
            Path of the round file.
        """
        if round_idx < 0:
            raise ValueError(f'round_idx must be >= 0, got {round_idx}')
        state_dir = os.fspath(state_dir)
        file_name = round_file_name(round_idx)
        path = os.path.join(state_dir, file_name)
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, **self._flat_columns(),
            round=np.int64(round_idx),
            fingerprint=np.array(self.fingerprint),
            num_images=np.int64(len(self._image_ids)),
            num_classes=np.int64(self.num_classes),
            ignore_index=np.int64(self.ignore_index),
            format_version=np.int64(FORMAT_VERSION))
        data = buffer.getvalue()
        atomic_write_bytes(path, data)
        summary = self._summary(round_idx, file_name)
        summary['sha256'] = hashlib.sha256(data).hexdigest()
        atomic_write_json(os.path.join(state_dir, LATEST_FILE), summary)
        return path

    @staticmethod
    def saved_rounds(state_dir: PathLike) -> List[int]:
        """Rounds with a state file in ``state_dir`` (intact or not)."""
        state_dir = os.fspath(state_dir)
        if not os.path.isdir(state_dir):
            return []
        matches = map(_ROUND_FILE.fullmatch, os.listdir(state_dir))
        return sorted(int(m.group(1)) for m in matches if m)

    @staticmethod
    def latest_round(state_dir: PathLike) -> Optional[int]:
        """Round of ``latest.json`` in ``state_dir``, None when no
        state was saved there (a fresh run).

        Raises:
            StateFileError: if round files exist without ``latest.json``
                (it was deleted): the run is not silently restarted.
        """
        path = os.path.join(os.fspath(state_dir), LATEST_FILE)
        if not os.path.exists(path):
            rounds = LabelStore.saved_rounds(state_dir)
            if rounds:
                raise StateFileError(
                    f'{path} is missing, but the label states of rounds '
                    f'{rounds} are saved next to it, so the run cannot tell '
                    'which one is current. Restore it from a backup, or '
                    'rebuild it from the last round you trust, k: '
                    'LabelStore.load(state_dir, image_ids, image_shapes, '
                    'num_classes, round_idx=k).save(state_dir, k) (this '
                    'rewrites both files), and move the later round files '
                    'away.')
            return None
        return int(_read_latest(path)['round'])

    @classmethod
    def load(cls, state_dir: PathLike, image_ids: Sequence[str],
             image_shapes: Sequence[Tuple[int, int]], num_classes: int,
             round_idx: Optional[int] = None,
             ignore_index: int = 255) -> 'LabelStore':
        """Load the state saved in ``state_dir`` for this dataset.

        Args:
            state_dir: the run's state folder (``RunDir.state_dir``).
            image_ids, image_shapes, num_classes, ignore_index: the dataset,
                as for the constructor; the saved state must have the same
                fingerprint.
            round_idx: the round to load; None loads the one that
                ``latest.json`` points at.

        Raises:
            StateFileError: if the state is missing, corrupt or was saved
                for another dataset; the message names the file and, where
                useful, the rounds that can be loaded instead.
        """
        store = cls(image_ids, image_shapes, num_classes, ignore_index)
        state_dir = os.fspath(state_dir)
        latest: Dict[str, Any] = {}
        if round_idx is None:
            latest_path = os.path.join(state_dir, LATEST_FILE)
            if not os.path.exists(latest_path):
                raise StateFileError(f'no saved label state: {latest_path} '
                                     f'does not exist')
            latest = _read_latest(latest_path)
            store._check_fingerprint(latest, latest_path)
            file_name, round_idx = latest['file'], int(latest['round'])
            if os.path.basename(file_name) != file_name:
                raise StateFileError(f'{latest_path}: "file" must be a file '
                                     f'name in {state_dir}, got {file_name!r}')
        else:
            file_name = round_file_name(round_idx)
        path = os.path.join(state_dir, file_name)
        if not os.path.exists(path):
            raise StateFileError(
                f'{path} does not exist; saved rounds in {state_dir}: '
                f'{cls.saved_rounds(state_dir)} (load one with round_idx=k)')
        arrays = _read_npz(path, state_dir, cls.saved_rounds(state_dir))
        store._check_fingerprint(
            {k: arrays[k].item()
             for k in ('fingerprint', 'num_images', 'num_classes')}, path)
        if int(arrays['round']) != round_idx:
            raise StateFileError(f'{path} holds round {int(arrays["round"])}, '
                                 f'expected round {round_idx}')
        try:
            store._add_columns(arrays['image_ids'].tolist(),
                               arrays['pixels'], arrays['classes'],
                               arrays['rounds'], arrays['scores'],
                               arrays.get('sources'), arrays.get('expanded'))
        except (ValueError, TypeError) as exc:
            raise StateFileError(f'{path} holds invalid records: {exc}'
                                 ) from exc
        _check_summary(path, latest, store.num_labelled,
                       cls.saved_rounds(state_dir))
        return store

    def _check_fingerprint(self, saved: Mapping[str, Any], path: str) -> None:
        if saved['fingerprint'] != self.fingerprint:
            raise StateFileError(
                f'{path} is the label state of another dataset (fingerprint '
                f'{saved["fingerprint"]}, {saved["num_images"]} images, '
                f'{saved["num_classes"]} classes) than the one being loaded '
                f'(fingerprint {self.fingerprint}, {len(self._image_ids)} '
                f'images, {self.num_classes} classes). Use the dataset '
                f'config of that run, or a new work_dir for this dataset.')

    # --------------------------------------------------------- export/import
    def export(self, path: PathLike,
               image_paths: Optional[Mapping[str, str]] = None) -> str:
        """Write every click as a ``.json`` or ``.csv`` annotation file
        (columns image, x, y, class, round, score[, path]); expanded
        pixels are in the label maps (:meth:`label_map`), not here.

        Args:
            path: target file; the extension picks the format.
            image_paths: ``{image id: image file}`` for a ``path`` column.

        Returns:
            The path written.
        """
        columns = self._flat_columns()
        clicks = ~columns['expanded']
        return write_annotations(path, columns['image_ids'][clicks].tolist(),
                                 columns['pixels'][clicks], self._shapes,
                                 columns['rounds'][clicks],
                                 columns['classes'][clicks],
                                 columns['scores'][clicks], image_paths)


def _source_problems(image_id: str, labels: _ImageLabels) -> List[str]:
    """Problems of an image's labels as a whole: a click must be its own
    source; an expanded pixel's source must be a click of the same round
    and class."""
    clicks = ~labels.expanded
    problems = [f'image {image_id!r} pixel {p}: a click whose source is '
                f'{s}, not itself' for p, s in
                zip(labels.pixels[clicks], labels.sources[clicks])
                if p != s]
    sources = labels.sources[labels.expanded]
    at = np.minimum(np.searchsorted(labels.pixels, sources),
                    len(labels.pixels) - 1)
    ok = (labels.pixels[at] == sources) & clicks[at] & \
        (labels.rounds[at] == labels.rounds[labels.expanded]) & \
        (labels.classes[at] == labels.classes[labels.expanded])
    problems += [f'image {image_id!r} pixel {p}: expanded from {s}, which '
                 'is no click of its round and class' for p, s in
                 zip(labels.pixels[labels.expanded][~ok], sources[~ok])]
    return problems


def _read_latest(path: str) -> Dict[str, Any]:
    """Parse ``latest.json``; StateFileError naming it when unusable."""
    try:
        with open(path, encoding='utf-8') as file:
            latest = json.load(file)
    except (OSError, ValueError) as exc:
        raise StateFileError(f'{path} is unreadable or corrupt ({exc}); '
                             f'load a round explicitly with round_idx=k'
                             ) from exc
    required = ('round', 'file', 'fingerprint', 'num_images', 'num_classes')
    missing = [k for k in required
               if not isinstance(latest, dict) or k not in latest]
    if missing:
        raise StateFileError(f'{path} lacks the key(s) {missing}; load a '
                             f'round explicitly with round_idx=k')
    return latest


def _check_summary(path: str, latest: Mapping[str, Any], num_records: int,
                   saved_rounds: List[int]) -> None:
    """The round file is the one ``latest.json`` describes: same checksum
    (when recorded) and record count."""
    if not latest:
        return
    problem = None
    if 'sha256' in latest:
        with open(path, 'rb') as file:
            digest = hashlib.sha256(file.read()).hexdigest()
        if digest != latest['sha256']:
            problem = (f'its SHA-256 is {digest[:16]}..., {LATEST_FILE} '
                       f'recorded {str(latest["sha256"])[:16]}...')
    if problem is None and num_records != latest.get('num_labelled',
                                                     num_records):
        problem = (f'it holds {num_records} records, {LATEST_FILE} recorded '
                   f'{latest["num_labelled"]}')
    if problem is not None:
        raise StateFileError(
            f'{path} was changed after it was saved ({problem}). Restore '
            f'it from a backup, or load another saved round '
            f'({saved_rounds}) with round_idx=k.')


_NPZ_ARRAYS = ('image_ids', 'pixels', 'classes', 'rounds', 'scores', 'round',
               'fingerprint', 'num_images', 'num_classes')
#: Arrays of format 2 (absent in format 1: every record a click).
_EXPANSION_ARRAYS = ('sources', 'expanded')


def _read_npz(path: str, state_dir: str,
              saved_rounds: List[int]) -> Dict[str, np.ndarray]:
    """Arrays of a round file; StateFileError naming it when corrupt."""
    hint = (f'other saved rounds in {state_dir}: {saved_rounds} (load one '
            f'with round_idx=k)')
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in _NPZ_ARRAYS if k not in data.files]
            if missing:
                raise StateFileError(f'{path} lacks the array(s) {missing}; '
                                     f'it is not a label state file; {hint}')
            arrays = {k: data[k] for k in _NPZ_ARRAYS + _EXPANSION_ARRAYS
                      if k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile,
            zlib.error) as exc:
        raise StateFileError(f'{path} is truncated or corrupt ({exc}); '
                             f'{hint}') from exc
    columns = [arrays[k] for k in _NPZ_ARRAYS[:5] + _EXPANSION_ARRAYS
               if k in arrays]
    if any(c.ndim != 1 or len(c) != len(columns[0]) for c in columns) or \
            any(arrays[k].ndim != 0 for k in _NPZ_ARRAYS[5:]):
        raise StateFileError(f'{path} is corrupt: its record arrays are not '
                             f'aligned 1-D arrays, or its round, '
                             f'fingerprint and counts are not scalars; {hint}')
    return arrays
