"""One round's queries, and what answering them needs of the images.

An oracle (the dataset's labels, or a person through a file, the browser
or Label Studio) receives a :class:`QueryRound` and returns a class per
query. The round carries an image provider rather than the dataset, so
annotation depends only on what it shows and reads: the images as the
model sees them, their sizes, the class table and, for the simulated
oracle alone, the ground truth.
"""
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

from mmseg_al.state.annotations import read_annotations
from mmseg_al.state.run_dir import RunDir


class PoolImages:
    """The image provider of a pool dataset (``PixelSparseDataset``).

    Args:
        pool: the pool (``image_ids``, ``image_shapes``, ``index_of``,
            ``pool_item``, ``ground_truth``, ``metainfo``).
    """

    def __init__(self, pool) -> None:
        self._pool = pool

    @property
    def metainfo(self) -> dict:
        """The dataset's ``classes`` and ``palette``."""
        return self._pool.metainfo

    @property
    def image_shapes(self) -> Mapping[str, Tuple[int, int]]:
        return dict(zip(self._pool.image_ids, self._pool.image_shapes))

    def rgb(self, image_id: str) -> np.ndarray:
        """``[H, W, 3]`` uint8 RGB image as the model sees it."""
        item = self._pool.pool_item(self._pool.index_of(image_id))
        # the pipeline's inputs are BGR (mmcv's loading order)
        return np.ascontiguousarray(
            item['inputs'].permute(1, 2, 0).cpu().numpy().astype(
                np.uint8)[..., ::-1])

    def ground_truth(self, image_id: str) -> np.ndarray:
        """``[H, W]`` label map (the simulated oracle only)."""
        return np.asarray(
            self._pool.ground_truth(self._pool.index_of(image_id)))


@dataclass
class QueryRound:
    """One round's queries, with what an oracle needs to answer them.

    Attributes:
        round_idx: the round asking.
        image_ids: image id of each query.
        pixels: ``[n]`` int64 flat pixel index of each query.
        run_dir: the run's work directory, which holds the round's query
            file (``image, x, y, class, round, score``; ``class`` empty
            until answered) and overlay pictures.
        images: the image provider (:class:`PoolImages`).
        num_classes: number of classes.
        ignore_index: the void label.
        regions: with region expansion, each query's proposed region (flat
            pixels of its image, its click included); None without.
    """
    round_idx: int
    image_ids: List[str]
    pixels: np.ndarray
    run_dir: RunDir
    images: PoolImages
    num_classes: int
    ignore_index: int = 255
    regions: Optional[List[np.ndarray]] = None

    @property
    def pairs(self) -> List[Tuple[str, int]]:
        return [(i, int(p)) for i, p in zip(self.image_ids, self.pixels)]

    @property
    def image_shapes(self) -> Mapping[str, Tuple[int, int]]:
        return self.images.image_shapes

    @property
    def query_file(self) -> str:
        return self.run_dir.queries(self.round_idx).query_file

    @property
    def overlay_dir(self) -> str:
        return self.run_dir.queries(self.round_idx).overlay_dir


def read_answers(queries: QueryRound) -> Dict[Tuple[str, int], int]:
    """``{(image id, pixel): class}`` of the rows of the round's query file.

    Raises:
        AnnotationFileError: listing every bad row (see
            :func:`~mmseg_al.state.read_annotations`).
    """
    answers = read_annotations(
        queries.query_file, queries.image_shapes, queries.num_classes,
        ignore_index=queries.ignore_index, round_idx=queries.round_idx,
        queries=queries.pairs)
    return dict(zip(zip(answers.image_ids, answers.pixels.tolist()),
                    answers.classes.tolist()))


__all__ = ['PoolImages', 'QueryRound', 'read_answers']
