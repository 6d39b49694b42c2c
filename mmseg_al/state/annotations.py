"""Query files for human annotators, and the labels they send back.

A file holds one row per pixel with the columns ``image, x, y, class, round,
score`` (plus ``path``, the image file to open, when known). ``image`` is
the stable image id, ``(x, y)`` the pixel (column, row), ``class`` the
train id the annotator fills in (``ignore_index``, 255 by default, marks a
pixel the annotator calls void), ``round`` the active-learning round that
asked for it and ``score`` the acquisition score that ranked it (empty when
none). A query file written by the loop in round 1 or later may also give
each row ``guesses``, the model's three likeliest ``[class, probability]``
pairs, shown to annotators (JSON only; readers ignore it).
Two plain formats are understood, chosen by the file extension:

* ``.csv``: a header line, then one line per pixel; empty cell = no value.
* ``.json``: a list of objects with those keys; ``null`` = no value.

Reading validates every row and reports all problems at once, each with the
file and its CSV line (header = line 1) or JSON record number (1-based), so
an annotator can fix the file in one pass. Nothing is returned, and hence
nothing is labelled, while any row is bad. Rows may be deleted: a pixel
without a row stays unlabelled and can be asked again.
"""
import csv
import json
import math
import os
import re
from dataclasses import dataclass
from typing import (Any, Dict, Iterator, List, Mapping, Optional, Sequence,
                    Set, Tuple)

import numpy as np

from .atomic_io import PathLike, atomic_open, atomic_write_json
from .problems import list_problems

COLUMNS = ('image', 'x', 'y', 'class', 'round', 'score')
REQUIRED_COLUMNS = ('image', 'x', 'y', 'class')
PATH_COLUMN = 'path'
GUESSES_KEY = 'guesses'
#: A query file row's choice about its click's proposed region (region
#: expansion): ``'accept'`` labels the region, ``'pixel'`` (or no choice)
#: the clicked pixel alone.
REGION_KEY = 'region'
REGION_CHOICES = ('accept', 'pixel')
#: Problems listed in one error message; the rest are counted.
MAX_REPORTED_PROBLEMS = 20

ImageShapes = Mapping[str, Tuple[int, int]]
#: The model's likeliest classes at a pixel: ``[(class, probability), ...]``.
Guesses = Sequence[Tuple[int, float]]
_INTEGER = re.compile(r'[+-]?\d+')


class AnnotationFileError(ValueError):
    """An annotation file cannot be imported; the message lists every bad
    row by file and line/record number."""


class UnansweredRowsError(AnnotationFileError):
    """Every bad row of the file merely has no class yet: a query file not
    (completely) filled in, rather than a wrong one.

    Attributes:
        count: the rows without a class.
    """

    def __init__(self, message: str, count: int) -> None:
        super().__init__(message)
        self.count = count


class _NoClass(ValueError):
    """A row that is fine but for its empty class."""


@dataclass
class Annotations:
    """Validated rows of an annotation file, as aligned columns.

    Attributes:
        image_ids (list[str]): image id of each row.
        pixels (np.ndarray): ``[n]`` int64 flat pixel index ``y * W + x``.
        classes (np.ndarray): ``[n]`` int64 class (or ``ignore_index``).
        rounds (np.ndarray): ``[n]`` int64 round of each row.
        scores (np.ndarray): ``[n]`` float64 score, NaN where none.
    """
    image_ids: List[str]
    pixels: np.ndarray
    classes: np.ndarray
    rounds: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.image_ids)


def annotation_format(path: PathLike) -> str:
    """``'csv'`` or ``'json'`` from the extension of ``path``."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in ('.csv', '.json'):
        raise ValueError(f'{os.fspath(path)}: unsupported annotation file '
                         f'type {ext!r}; use a .csv or .json file name')
    return ext[1:]


def _image_size(image_shapes: ImageShapes, image_id: str) -> Tuple[int, int]:
    try:
        height, width = image_shapes[image_id]
    except KeyError:
        raise ValueError(
            f'unknown image id {image_id!r}: not among the '
            f'{len(image_shapes)} images of the dataset') from None
    return int(height), int(width)


def check_class(cls: int, num_classes: int, ignore_index: int) -> int:
    """``cls`` if it is a class id or the void value, else ValueError."""
    if not (0 <= cls < num_classes or cls == ignore_index):
        raise ValueError(
            f'class {cls} is neither a class id in [0, {num_classes}) nor '
            f'the void value {ignore_index}')
    return cls


def _optional_number(value: Any) -> Optional[float]:
    """``None`` for NaN and infinities (e.g. the first Core-set pick, whose
    distance to no centre is infinite) so that JSON stays strict and CSV
    cells stay empty."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def write_annotations(path: PathLike, image_ids: Sequence[str],
                      pixels: Sequence[int], image_shapes: ImageShapes,
                      rounds: Sequence[int],
                      classes: Optional[Sequence[int]] = None,
                      scores: Optional[Sequence[float]] = None,
                      image_paths: Optional[Mapping[str, str]] = None,
                      guesses: Optional[Sequence[Guesses]] = None) -> str:
    """Write one row per pixel, atomically, as CSV or JSON.

    Args:
        path: target ``.csv`` or ``.json`` file.
        image_ids: image id of each row.
        pixels: flat pixel index of each row.
        image_shapes: ``{image id: (H, W)}``, to turn pixels into (x, y).
        rounds: round of each row.
        classes: class of each row; None leaves the column empty for an
            annotator to fill.
        scores: score of each row (NaN or None = no score).
        image_paths: ``{image id: file path}``; adds a ``path`` column.
        guesses: the model's top guesses ``[(class, probability), ...]`` of
            each row, written as ``guesses`` (JSON files only).

    Returns:
        The path written.
    """
    fmt = annotation_format(path)
    if guesses is not None and fmt != 'json':
        raise ValueError(f'{os.fspath(path)}: guesses are written to .json '
                         'query files only')
    num_rows = len(image_ids)
    for name, column in (('pixels', pixels), ('rounds', rounds),
                         ('classes', classes), ('scores', scores),
                         ('guesses', guesses)):
        if column is not None and len(column) != num_rows:
            raise ValueError(f'{name} has {len(column)} entries for '
                             f'{num_rows} image ids')
    columns = COLUMNS + ((PATH_COLUMN, ) if image_paths is not None else ())
    rows = []
    for i, (image_id, pixel) in enumerate(zip(image_ids, pixels)):
        height, width = _image_size(image_shapes, image_id)
        pixel = int(pixel)
        if not 0 <= pixel < height * width:
            raise ValueError(f'pixel {pixel} of image {image_id!r} is outside '
                             f'its {height}x{width} grid')
        row = {'image': image_id, 'x': pixel % width, 'y': pixel // width,
               'class': None if classes is None else int(classes[i]),
               'round': int(rounds[i]),
               'score': None if scores is None else _optional_number(
                   scores[i])}
        if image_paths is not None:
            if image_id not in image_paths:
                raise ValueError(f'image_paths has no file for image '
                                 f'{image_id!r}')
            row[PATH_COLUMN] = image_paths[image_id]
        if guesses is not None:
            row[GUESSES_KEY] = [[int(c), float(p)] for c, p in guesses[i]]
        rows.append(row)
    if fmt == 'json':
        atomic_write_json(path, rows)
    else:
        with atomic_open(path, 'w', newline='', encoding='utf-8') as file:
            writer = csv.DictWriter(file, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)  # None is written as an empty cell
    return os.fspath(path)


def write_queries(path: PathLike, queries: Sequence[Tuple[str, int]],
                  image_shapes: ImageShapes,
                  image_paths: Optional[Mapping[str, str]], round_idx: int,
                  scores: Optional[Sequence[float]] = None,
                  guesses: Optional[Sequence[Guesses]] = None) -> str:
    """Write the pixels of one round for an annotator, ``class`` left empty.

    Args:
        path: target ``.csv`` or ``.json`` file.
        queries: ``(image id, flat pixel)`` pairs, in selection order.
        image_shapes: ``{image id: (H, W)}``.
        image_paths: ``{image id: file path}`` (adds a ``path`` column so the
            annotator knows which file to open), or None.
        round_idx: the round asking for these labels.
        scores: acquisition score of each query, or None.
        guesses: the model's top guesses of each query (JSON only), or None.

    Returns:
        The path written.
    """
    if len(set(queries)) != len(queries):
        raise ValueError('queries contain the same (image, pixel) twice; '
                         'each pixel can be asked for only once')
    image_ids = [image_id for image_id, _ in queries]
    pixels = [int(pixel) for _, pixel in queries]
    return write_annotations(path, image_ids, pixels, image_shapes,
                             [round_idx] * len(queries), scores=scores,
                             image_paths=image_paths, guesses=guesses)


def _not_utf8(path: str, exc: UnicodeDecodeError) -> AnnotationFileError:
    return AnnotationFileError(
        f'{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at '
        f'offset {exc.start}); save it with the UTF-8 encoding')


def _csv_rows(path: str) -> Iterator[Tuple[str, Mapping[str, Any]]]:
    # utf-8-sig: spreadsheets often save a byte-order mark.
    with open(path, newline='', encoding='utf-8-sig') as file:
        try:
            reader = csv.DictReader(file)
            missing = [c for c in REQUIRED_COLUMNS
                       if c not in (reader.fieldnames or [])]
            if missing:
                raise AnnotationFileError(
                    f'{path}: the header line lacks the column(s) '
                    f'{", ".join(missing)}; expected {",".join(COLUMNS)}')
            rows = [(f'line {reader.line_num}', row) for row in reader]
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, exc) from None
    yield from rows


def read_json(path: str) -> Any:
    """The JSON document in ``path``.

    Every JSON file a person or another tool hands in (query files, Label
    Studio exports) is read here, so that each says the same thing about
    bad bytes.

    Raises:
        AnnotationFileError: naming the file when it is not UTF-8, not
            JSON, or nested too deeply to parse.
        OSError: the file cannot be opened.
    """
    with open(path, encoding='utf-8') as file:
        try:
            return json.load(file)
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, exc) from None
        except (json.JSONDecodeError, RecursionError) as exc:
            raise AnnotationFileError(f'{path}: not valid JSON ({exc})'
                                      ) from None


def _json_rows(path: str) -> Iterator[Tuple[str, Mapping[str, Any]]]:
    records = read_json(path)
    if not isinstance(records, list):
        raise AnnotationFileError(
            f'{path}: expected a JSON list of objects with the keys '
            f'{", ".join(COLUMNS)}, got a {type(records).__name__}')
    for number, record in enumerate(records, start=1):
        yield f'record {number}', record


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _parse_int(value: Any, what: str) -> int:
    """An integer from a JSON number or a CSV cell, else ValueError."""
    if _is_missing(value):
        raise ValueError(f'{what} is missing')
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    raise ValueError(f'{what} {value!r} is not an integer')


def _parse_score(value: Any) -> float:
    if _is_missing(value):
        return math.nan
    if isinstance(value, bool):
        raise ValueError(f'score {value!r} is not a number')
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f'score {value!r} is not a number') from None


class _RowParser:
    """Turns raw rows into validated columns, remembering what it has seen
    so that duplicates name the row they repeat."""

    def __init__(self, image_shapes: ImageShapes, num_classes: int,
                 ignore_index: int, round_idx: Optional[int],
                 queries: Optional[Set[Tuple[str, int]]]) -> None:
        self.image_shapes = image_shapes
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.round_idx = round_idx
        self.queries = queries
        self.seen: Dict[Tuple[str, int], str] = {}

    def parse(self, location: str, row: Any) -> Tuple[str, int, int, int,
                                                      float]:
        """``(image id, pixel, class, round, score)`` of a row."""
        if not isinstance(row, Mapping):
            raise ValueError(f'expected an object with the keys '
                             f'{", ".join(COLUMNS)}, got {row!r}')
        image_id = row.get('image')
        if _is_missing(image_id) or not isinstance(image_id, str):
            raise ValueError(f'image {image_id!r} is missing or not an '
                             f'image id')
        height, width = _image_size(self.image_shapes, image_id)
        x, y = _parse_int(row.get('x'), 'x'), _parse_int(row.get('y'), 'y')
        if not (0 <= x < width and 0 <= y < height):
            raise ValueError(f'(x={x}, y={y}) is outside image {image_id!r} '
                             f'({width} wide, {height} high)')
        pixel = y * width + x
        key = (image_id, pixel)
        if key in self.seen:
            raise ValueError(f'(x={x}, y={y}) of image {image_id!r} was '
                             f'already given on {self.seen[key]}')
        if self.queries is not None and key not in self.queries:
            raise ValueError(f'(x={x}, y={y}) of image {image_id!r} was not '
                             f'queried')
        self.seen[key] = location
        if _is_missing(row.get('class')):
            raise _NoClass('class is missing')
        cls = check_class(_parse_int(row.get('class'), 'class'),
                          self.num_classes, self.ignore_index)
        return image_id, pixel, cls, self._round(row.get('round')), \
            _parse_score(row.get('score'))

    def _round(self, value: Any) -> int:
        if self.round_idx is None:
            return _parse_int(value, 'round')
        if not _is_missing(value) and _parse_int(value, 'round') != \
                self.round_idx:
            raise ValueError(f'round {value} differs from round '
                             f'{self.round_idx} being imported')
        return self.round_idx


def read_annotations(path: PathLike, image_shapes: ImageShapes,
                     num_classes: int, ignore_index: int = 255,
                     round_idx: Optional[int] = None,
                     queries: Optional[Sequence[Tuple[str, int]]] = None
                     ) -> Annotations:
    """Parse and validate a filled annotation file.

    Args:
        path: a ``.csv`` or ``.json`` file in the format of
            :func:`write_queries`.
        image_shapes: ``{image id: (H, W)}`` of the dataset.
        num_classes: valid classes are ``0 .. num_classes - 1``.
        ignore_index: the class value an annotator uses for void.
        round_idx: the round being imported: rows may leave ``round`` empty
            and must not name another round. None takes each row's own
            ``round``, which is then required (re-importing an export).
        queries: the ``(image id, flat pixel)`` pairs that were asked; rows
            for any other pixel are rejected. None accepts any pixel.

    Returns:
        The rows as aligned columns, in file order.

    Raises:
        AnnotationFileError: listing every bad row (file, line or record,
            problem); nothing is returned then. It is an
            :class:`UnansweredRowsError` when every bad row only lacks
            its class.
    """
    path = os.fspath(path)
    rows = _csv_rows(path) if annotation_format(path) == 'csv' \
        else _json_rows(path)
    parser = _RowParser(image_shapes, num_classes, ignore_index, round_idx,
                        None if queries is None else
                        {(i, int(p)) for i, p in queries})
    parsed, problems, unanswered = [], [], 0
    for location, row in rows:
        try:
            parsed.append(parser.parse(location, row))
        except ValueError as exc:
            problems.append(f'{location}: {exc}')
            unanswered += isinstance(exc, _NoClass)
    if problems:
        message = list_problems(
            f'{path}: {len(problems)} bad row(s), nothing imported:',
            problems, MAX_REPORTED_PROBLEMS)
        if unanswered == len(problems):
            raise UnansweredRowsError(message, unanswered)
        raise AnnotationFileError(message)
    image_ids, pixels, classes, rounds, scores = (list(c) for c in zip(
        *parsed)) if parsed else ([], [], [], [], [])
    return Annotations(image_ids=image_ids,
                       pixels=np.asarray(pixels, dtype=np.int64),
                       classes=np.asarray(classes, dtype=np.int64),
                       rounds=np.asarray(rounds, dtype=np.int64),
                       scores=np.asarray(scores, dtype=np.float64))
