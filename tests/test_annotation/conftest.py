"""A pending round over a tiny fake pool, answered through the API."""
import numpy as np
import pytest

from mmseg_al.annotation import PoolImages, QueryRound
from mmseg_al.state import LabelStore, RunDir, write_queries
from helpers.pixel_model import FakePool
from .test_oracles import fill as fill_classes  # noqa: F401

#: (image id, flat pixel) of each query of the fake round (4x5 images).
PAIRS = [('train/0002.png', 7), ('train/0000.png', 0), ('train/0002.png', 1),
         ('train/0001.png', 19)]
ROUND = 2


class NamedPool(FakePool):
    """The fake pool with the class names and colours of a dataset."""
    metainfo = dict(classes=('sky', 'road', 'car'),
                    palette=[[70, 130, 180], [128, 64, 128], [0, 0, 142]])


def make_round(work_dir, pool=None, guesses=None) -> QueryRound:
    """Write the query file of the fake round in ``work_dir``; its
    QueryRound."""
    pool = pool or NamedPool()
    queries = QueryRound(round_idx=ROUND, image_ids=[i for i, _ in PAIRS],
                         pixels=np.array([p for _, p in PAIRS]),
                         run_dir=RunDir(work_dir), images=PoolImages(pool),
                         num_classes=3)
    write_queries(queries.query_file, PAIRS,
                  dict(zip(pool.image_ids, pool.image_shapes)), None, ROUND,
                  scores=[0.5, 0.25, 0.125, 1.0], guesses=guesses)
    return queries


def saved_state(work_dir, queries, classes) -> dict:
    """The arrays of the label state saved with ``classes`` as the round's
    labels."""
    shapes = queries.image_shapes
    store = LabelStore(list(shapes), list(shapes.values()),
                       queries.num_classes)
    store.add_many((queries.image_ids, queries.pixels, classes), ROUND)
    data = np.load(store.save(str(work_dir), ROUND))
    return {key: data[key] for key in data.files}


@pytest.fixture
def pending(tmp_path) -> QueryRound:
    return make_round(tmp_path)
