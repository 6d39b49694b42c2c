import json

import numpy as np
import pytest
from mmengine.visualization import Visualizer

from mmseg_al.annotation import (AnnotationRequired, FileOracle,
                                 GroundTruthOracle, PoolImages, QueryRound)
from mmseg_al.state import RunDir, write_queries
from helpers.pixel_model import FakePool


@pytest.fixture(autouse=True)
def visualizer():
    """The current visualizer a run would have made: FileOracle draws its
    overlays with it."""
    return Visualizer.get_instance('test_oracles')


def query_round(tmp_path, pool, pairs):
    queries = QueryRound(round_idx=3, image_ids=[i for i, _ in pairs],
                         pixels=np.array([p for _, p in pairs]),
                         run_dir=RunDir(tmp_path), images=PoolImages(pool),
                         num_classes=3)
    shapes = dict(zip(pool.image_ids, pool.image_shapes))
    write_queries(queries.query_file, pairs, shapes, None, 3)
    return queries


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
    overlays = tmp_path / 'queries' / 'round_03'
    # a file just written blank is waiting, not wrong: no "bad rows"
    assert str(waiting.value) == (
        f'Round 3: 3 pixels await labels (circled in the images under '
        f'{overlays}). Give them in one of three ways:\n'
        f'  - in the browser: python tools/annotate.py {tmp_path}\n'
        f'  - in Label Studio: python tools/label_studio.py export '
        f'{tmp_path} OUT_DIR, label, then python tools/label_studio.py '
        f'import {tmp_path} EXPORT.json\n'
        f'  - by hand or by script: fill in the "class" of every row of '
        f'{queries.query_file} (a class id in [0, 3), or 255 for void)\n'
        'Then run the same command again with --resume (a deleted query '
        'file is written again, blank, from the saved selection '
        f'{overlays}.npz).')
    assert sorted(p.name for p in overlays.iterdir()) == [
        'train__0000.png', 'train__0002.png']

    fill(queries.query_file, [2, None, None])
    with pytest.raises(AnnotationRequired,
                       match='Round 3: 2 of 3 pixels await labels'):
        oracle.annotate(queries)
    fill(queries.query_file, [2, 'x', None])
    with pytest.raises(AnnotationRequired) as waiting:
        oracle.annotate(queries)
    assert str(waiting.value).startswith('Round 3: 3 pixels need labels')
    assert str(waiting.value).endswith(
        f'The file cannot be imported yet: {queries.query_file}: 2 bad '
        "row(s), nothing imported:\n  record 2: class 'x' is not an "
        'integer\n  record 3: class is missing')
    rows = fill(queries.query_file, [2, 255, 0])
    assert oracle.annotate(queries).tolist() == [2, 255, 0]

    with open(queries.query_file, 'w', encoding='utf-8') as file:
        json.dump(rows[:2], file)
    with pytest.raises(AnnotationRequired, match='1 of 3 queried pixels'):
        oracle.annotate(queries)


def test_file_oracle_says_a_csv_beside_the_query_file_is_not_read(
        tmp_path):
    queries = query_round(tmp_path, FakePool(), PAIRS)
    csv = tmp_path / 'queries' / 'round_03.csv'
    csv.write_text('image,x,y,class\n')
    with pytest.raises(AnnotationRequired) as waiting:
        FileOracle().annotate(queries)
    assert str(waiting.value).endswith(
        f'\n{csv} is not read: the run reads the answers from '
        f'{queries.query_file} only.')


def test_ground_truth_oracle_accepts_every_region_as_proposed(tmp_path):
    queries = query_round(tmp_path, FakePool(), PAIRS)
    assert GroundTruthOracle().accepted_regions(queries).tolist() == [
        True, True, True]


def test_file_oracle_stops_on_a_bad_region_choice(tmp_path):
    queries = query_round(tmp_path, FakePool(), PAIRS)
    rows = fill(queries.query_file, [1, 0, 2])
    rows[0]['region'] = 1
    with open(queries.query_file, 'w', encoding='utf-8') as file:
        json.dump(rows, file)
    with pytest.raises(AnnotationRequired, match=r'row 1: region 1'):
        FileOracle().accepted_regions(queries)


def test_file_oracle_says_how_to_accept_regions_when_proposed(tmp_path):
    queries = query_round(tmp_path, FakePool(), PAIRS)
    queries.regions = [np.array([p]) for p in queries.pixels]
    with pytest.raises(AnnotationRequired, match='"region": "accept" on a '
                       'row labels its region too'):
        FileOracle().annotate(queries)
