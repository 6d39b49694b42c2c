"""The answers of a pending round, saved one at a time.

A round's answers live in its query file (``queries/round_XX.json``), the
file a :class:`~mmseg_al.annotation.FileOracle` reads: a person's answer fills
the ``class`` of its row. The web annotator, the Label Studio import and a
hand-edited file therefore share one storage and one validation, and a run
stopped for annotation continues with ``--resume`` whichever way the rows
were filled. Every change rewrites the file atomically under a lock (read,
modify, write), so concurrent answers are neither lost nor repeated, and
nothing is written to the run's ``LabelStore``: the loop does that once the
round is complete. The lock covers one process; another process is kept
out by the work dir's lock, which a run holds and so do the tools that
write answers (:func:`~mmseg_al.annotation.saved_run.pending_answers`).
"""
import threading
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from .query_round import QueryRound, read_answers
from mmseg_al.state import AnnotationFileError, atomic_write_json, check_class
from mmseg_al.state.annotations import (GUESSES_KEY, REGION_CHOICES,
                                        REGION_KEY, read_json)


def _is_integer(value: Any) -> bool:
    """JSON's integers only: ``true`` and ``1.0`` are no round or class."""
    return isinstance(value, int) and not isinstance(value, bool)


class AnswerError(ValueError):
    """An answer that cannot be stored; ``status`` is its HTTP status.

    Args:
        message: what is wrong and how to fix it.
        status: 400 a round that is not an integer, 404 unknown query,
            409 another round, 422 invalid class.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RoundAnswers:
    """Read and fill the ``class`` of a pending round's query file.

    Queries are numbered by their position in the round's selection
    (``0 .. n - 1``), the order of the query file the loop writes.

    Args:
        queries: the pending round.

    Raises:
        AnnotationFileError: the query file is not UTF-8 JSON (as
            :func:`~mmseg_al.state.annotations.read_json` says) or lacks a
            row for a queried pixel.
        OSError: the query file cannot be opened.
    """

    def __init__(self, queries: QueryRound) -> None:
        self.queries = queries
        self.path = queries.query_file
        self._lock = threading.Lock()
        self._shapes = queries.image_shapes
        self._pairs = queries.pairs
        self._row_of = self._match_rows(self._load())

    @property
    def round_idx(self) -> int:
        return self.queries.round_idx

    def __len__(self) -> int:
        return len(self._pairs)

    def _load(self) -> List[dict]:
        rows = read_json(self.path)
        if not isinstance(rows, list) or not all(
                isinstance(row, dict) for row in rows):
            raise AnnotationFileError(
                f'{self.path}: expected a JSON list of objects, one per '
                'queried pixel')
        return rows

    def _match_rows(self, rows: List[dict]) -> List[int]:
        """Row of the file holding each query."""
        position: Dict[Tuple[str, int], int] = {}
        for number, row in enumerate(rows):
            image_id = row.get('image')
            if image_id in self._shapes and isinstance(row.get('x'), int) \
                    and isinstance(row.get('y'), int):
                width = self._shapes[image_id][1]
                position[(image_id, row['y'] * width + row['x'])] = number
        missing = [pair for pair in self._pairs if pair not in position]
        if missing:
            image_id, pixel = missing[0]
            width = self._shapes[image_id][1]
            raise AnnotationFileError(
                f'{self.path}: {len(missing)} of {len(self._pairs)} queried '
                f'pixels have no row (e.g. x={pixel % width}, '
                f'y={pixel // width} of image {image_id!r}); restore the '
                'rows, keeping every row of the file')
        return [position[pair] for pair in self._pairs]

    def queries_view(self) -> List[dict]:
        """Every query as ``id, image, x, y, class, guesses, region`` (class
        None while unanswered, guesses None when the file has no guesses,
        region the choice about its proposed region, None while none)."""
        rows = self._load()
        view = []
        for query_id, ((image_id, pixel), row) in enumerate(
                zip(self._pairs, self._row_of)):
            height, width = self._shapes[image_id]
            view.append(dict(
                id=query_id, image=image_id, x=pixel % width,
                y=pixel // width, width=width, height=height,
                **{'class': rows[row].get('class'),
                   GUESSES_KEY: rows[row].get(GUESSES_KEY),
                   REGION_KEY: rows[row].get(REGION_KEY)}))
        return view

    def num_answered(self) -> int:
        rows = self._load()
        return sum(rows[row].get('class') is not None
                   for row in self._row_of)

    def _check(self, query_id: int, cls: Optional[int]) -> None:
        if not (isinstance(query_id, int) and 0 <= query_id < len(self)):
            raise AnswerError(
                f'unknown query id {query_id!r}: round {self.round_idx} has '
                f'the queries 0 .. {len(self) - 1}', 404)
        if cls is None:
            return
        if not _is_integer(cls):
            raise AnswerError(f'class {cls!r} is not an integer', 422)
        try:
            check_class(cls, self.queries.num_classes,
                        self.queries.ignore_index)
        except ValueError as exc:
            raise AnswerError(str(exc), 422) from None

    def answer(self, query_id: int, cls: Optional[int],
               round_idx: int, region: Optional[str] = None) -> int:
        """Store (``cls`` None: clear) the class of one query, and the
        choice about its proposed region.

        Args:
            query_id: position of the query in the round.
            cls: a class id, the void value, or None to undo.
            round_idx: the round the annotator sees; another round than the
                pending one is refused (a stale page).
            region: ``'accept'`` (label the proposed region too),
                ``'pixel'`` (the pixel alone) or None (no choice: the
                pixel alone).

        Returns:
            The number of answered queries.

        Raises:
            AnswerError: naming the bad value; nothing is written then.
        """
        if not _is_integer(round_idx):
            raise AnswerError(f'round {round_idx!r} is not an integer', 400)
        if round_idx != self.round_idx:
            raise AnswerError(
                f'the answer is for round {round_idx!r}, but round '
                f'{self.round_idx} is being annotated; reload the page', 409)
        self._check(query_id, cls)
        if region is not None and region not in REGION_CHOICES:
            raise AnswerError(f'region {region!r} is none of '
                              f'{list(REGION_CHOICES)}', 422)
        return self.answer_many({query_id: cls}, {query_id: region})

    def answer_many(self, classes: Mapping[int, Optional[int]],
                    regions: Optional[Mapping[int, Optional[str]]] = None
                    ) -> int:
        """Store several answers (and region choices) at once (all or
        none, one write)."""
        for query_id, cls in classes.items():
            self._check(query_id, cls)
        with self._lock:
            rows = self._load()
            for query_id, cls in classes.items():
                row = rows[self._row_of[query_id]]
                row['class'] = cls
                choice = (regions or {}).get(query_id)
                if choice is None:
                    row.pop(REGION_KEY, None)
                else:
                    row[REGION_KEY] = choice
            atomic_write_json(self.path, rows)
            return sum(rows[row].get('class') is not None
                       for row in self._row_of)

    def classes(self) -> Optional[np.ndarray]:
        """``[n]`` int64 classes in query order once every query is
        answered (validated as :class:`~mmseg_al.annotation.FileOracle` does),
        else None."""
        if self.num_answered() < len(self):
            return None
        answered = read_answers(self.queries)
        return np.asarray([answered[pair] for pair in self._pairs],
                          dtype=np.int64)

    def accepted_regions(self) -> np.ndarray:
        """``[n]`` bool in query order: the rows whose ``region`` is
        ``'accept'``; no choice keeps the pixel alone.

        Raises:
            AnnotationFileError: naming every row whose choice is neither.
        """
        rows = self._load()
        choices = [rows[row].get(REGION_KEY) for row in self._row_of]
        bad = [f'row {row + 1}: region {choice!r}' for row, choice in
               zip(self._row_of, choices)
               if choice is not None and choice not in REGION_CHOICES]
        if bad:
            raise AnnotationFileError(
                f'{self.path}: "{REGION_KEY}" must be one of '
                f'{list(REGION_CHOICES)} or absent; ' + '; '.join(bad))
        return np.asarray([c == 'accept' for c in choices], dtype=bool)
