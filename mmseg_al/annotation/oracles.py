"""Who answers the queries: the dataset's labels, or a person via a file.

An oracle receives one round's queries and returns a class per query (the
void label for a pixel the annotator calls void). Oracles are registered in
mmseg's ``TASK_UTILS`` registry and built from the loop's ``oracle`` config.
An oracle whose ``wants_guesses`` is true gets the model's top guesses written
into the query file (from round 1 on), to show a person. With region
expansion, ``accepted_regions`` says which clicks' proposed regions are
labelled too.
"""
import os
from typing import Optional

import numpy as np
from mmengine.dist import is_main_process

from mmseg_al.registry import TASK_UTILS
from mmseg_al.state.annotations import (AnnotationFileError,
                                        UnansweredRowsError)
from mmseg_al.state.imported_query_files import file_sha256
from .query_overlays import write_query_overlays
from .query_round import QueryRound, read_answers
from .round_answers import RoundAnswers


class AnnotationRequired(RuntimeError):
    """The run stops until a person has labelled the queries of a round.

    The message says which file to fill in and how to continue.
    """


@TASK_UTILS.register_module()
class GroundTruthOracle:
    """Simulated annotator: reads each queried pixel from the label maps."""

    wants_guesses = False

    def annotate(self, queries: QueryRound) -> np.ndarray:
        """Classes ``[n]`` int64 of the queried pixels, in query order."""
        classes = np.empty(len(queries.pixels), dtype=np.int64)
        image_ids = np.asarray(queries.image_ids)
        for image_id in dict.fromkeys(queries.image_ids):
            rows = np.flatnonzero(image_ids == image_id)
            label = queries.images.ground_truth(image_id)
            classes[rows] = label.reshape(-1)[queries.pixels[rows]]
        return classes

    def accepted_regions(self, queries: QueryRound) -> np.ndarray:
        """Every proposed region is accepted as proposed (the paper's
        protocol)."""
        return np.ones(len(queries.pixels), dtype=bool)


@TASK_UTILS.register_module()
class FileOracle:
    """A person labels the queries in the round's query file.

    The first time a round is asked, the run stops with
    :class:`AnnotationRequired`, naming the query file and the overlay
    images (one per queried image, queries circled and numbered by row).
    Once every row's ``class`` is filled in, the same command with
    ``--resume`` imports the file (fully validated: nothing is labelled
    while any row is wrong) and continues.

    Args:
        overlay_radius: circle radius of the overlay markers, in pixels.
    """

    wants_guesses = True

    def __init__(self, overlay_radius: Optional[int] = None) -> None:
        self.overlay_radius = overlay_radius

    def annotate(self, queries: QueryRound) -> np.ndarray:
        path = queries.query_file
        try:
            digest = file_sha256(path)
            answered = read_answers(queries)
        except UnansweredRowsError as exc:
            raise AnnotationRequired(self._instructions(queries, exc.count))
        except AnnotationFileError as exc:
            raise AnnotationRequired(self._instructions(
                queries, problem=f'The file cannot be imported yet: {exc}'))
        missing = [pair for pair in queries.pairs if pair not in answered]
        if missing:
            raise AnnotationRequired(self._instructions(
                queries, problem=f'{path}: {len(missing)} of '
                f'{len(queries.pairs)} queried pixels have no row; keep '
                'every row of the file.'))
        queries.run_dir.imports.record(path, digest)
        return np.asarray([answered[pair] for pair in queries.pairs],
                          dtype=np.int64)

    def accepted_regions(self, queries: QueryRound) -> np.ndarray:
        """The rows whose ``region`` is ``'accept'`` (the web annotator
        records the choice; a row without one keeps the pixel alone)."""
        try:
            return RoundAnswers(queries).accepted_regions()
        except AnnotationFileError as exc:
            raise AnnotationRequired(self._instructions(
                queries, problem=f'The file cannot be imported yet: {exc}'))

    def _instructions(self, queries: QueryRound,
                      unanswered: Optional[int] = None,
                      problem: Optional[str] = None) -> str:
        """How to give the round's labels; ``unanswered`` rows have no
        class yet, ``problem`` says what else keeps the file out."""
        overlay_dir = queries.overlay_dir
        if is_main_process():
            write_query_overlays(queries.images, queries.image_ids,
                                 queries.pixels, overlay_dir,
                                 max_images=None, radius=self.overlay_radius)
        path, total = queries.query_file, len(queries.pixels)
        work_dir = queries.run_dir.work_dir
        if unanswered is None:
            waiting = f'{total} pixels need labels'
        else:
            waiting = (f'{total}' if unanswered == total else
                       f'{unanswered} of {total}') + ' pixels await labels'
        lines = [
            f'Round {queries.round_idx}: {waiting} (circled in the images '
            f'under {overlay_dir}). Give them in one of three ways:',
            f'  - in the browser: python tools/annotate.py {work_dir}',
            '  - in Label Studio: python tools/label_studio.py export '
            f'{work_dir} OUT_DIR, label, then python tools/label_studio.py '
            f'import {work_dir} EXPORT.json',
            f'  - by hand or by script: fill in the "class" of every row of '
            f'{path} (a class id in [0, {queries.num_classes}), or '
            f'{queries.ignore_index} for void)',
            'Then run the same command again with --resume (a deleted query '
            'file is written again, blank, from the saved selection '
            f'{os.path.splitext(path)[0]}.npz).']
        if queries.regions is not None:
            lines.append('Region expansion: the browser shows each pixel\'s '
                         'proposed region; in the file, "region": "accept" '
                         'on a row labels its region too (no choice: the '
                         'pixel alone).')
        other = os.path.splitext(path)[0] + '.csv'
        if os.path.exists(other):
            lines.append(f'{other} is not read: the run reads the answers '
                         f'from {path} only.')
        if problem is not None:
            lines.append(problem)
        return '\n'.join(lines)
