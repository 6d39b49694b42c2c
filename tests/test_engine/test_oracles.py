import json

import numpy as np
import pytest

from mmseg_al.engine import AnnotationRequired, FileOracle, GroundTruthOracle
from mmseg_al.engine.oracles import QueryRound
from mmseg_al.state import write_queries
from .point_model import FakePool


def query_round(tmp_path, pool, pairs):
    path = str(tmp_path / 'queries' / 'round_03.json')
    shapes = dict(zip(pool.image_ids, pool.image_shapes))
    write_queries(path, pairs, shapes, None, 3)
    return QueryRound(round_idx=3, image_ids=[i for i, _ in pairs],
                      pixels=np.array([p for _, p in pairs]),
                      query_file=path, dataset=pool, num_classes=3)


PAIRS = [('train/0002.png', 7), ('train/0000.png', 0), ('train/0002.png', 1)]


def test_ground_truth_oracle_reads_the_label_maps(tmp_path):
    pool = FakePool()
    classes = GroundTruthOracle().annotate(query_round(tmp_path, pool, PAIRS))
    expected = [pool.labels[2].flat[7], 255, pool.labels[2].flat[1]]
    assert classes.tolist() == expected


def fill(path, classes):
    with open(path, encoding='utf-8') as file:
        rows = json.load(file)
    for row, cls in zip(rows, classes):
        row['class'] = cls
    with open(path, 'w', encoding='utf-8') as file:
        json.dump(rows, file)
    return rows


def test_file_oracle_waits_for_the_file_then_reads_it(tmp_path):
    queries = query_round(tmp_path, FakePool(), PAIRS)
    oracle = FileOracle()
    with pytest.raises(AnnotationRequired) as waiting:
        oracle.annotate(queries)
    message = str(waiting.value)
    assert queries.query_file in message and '--resume' in message
    overlays = tmp_path / 'queries' / 'round_03'
    assert sorted(p.name for p in overlays.iterdir()) == [
        'train__0000.png', 'train__0002.png']

    fill(queries.query_file, [2, 'x', None])
    with pytest.raises(AnnotationRequired, match=r'record 2: class'):
        oracle.annotate(queries)
    rows = fill(queries.query_file, [2, 255, 0])
    assert oracle.annotate(queries).tolist() == [2, 255, 0]

    with open(queries.query_file, 'w', encoding='utf-8') as file:
        json.dump(rows[:2], file)
    with pytest.raises(AnnotationRequired, match='1 of 3 queried pixels'):
        oracle.annotate(queries)
