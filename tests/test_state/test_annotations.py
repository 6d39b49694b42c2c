"""Query files for annotators and the labels they send back."""
import csv
import json
import re

import numpy as np
import pytest

from mmseg_al.state import (AnnotationFileError, LabelStore,
                            UnansweredRowsError, read_annotations,
                            write_queries)

SHAPES = {'train/a.png': (4, 5), 'train/b.png': (3, 3)}  # (H, W)
QUERIES = [('train/b.png', 7), ('train/a.png', 19), ('train/a.png', 0)]
SCORES = [0.5, float('nan'), 0.125]
PATHS = {'train/a.png': 'data/img/a.png', 'train/b.png': 'data/img/b.png'}


def new_store():
    return LabelStore(list(SHAPES), list(SHAPES.values()), num_classes=4)


def add_rows(store, rows) -> int:
    """Add read annotation rows to ``store``, round by round; their
    count."""
    for round_idx in np.unique(rows.rounds):
        keep = rows.rounds == round_idx
        store.add_many((np.asarray(rows.image_ids)[keep].tolist(),
                        rows.pixels[keep], rows.classes[keep]),
                       int(round_idx), scores=rows.scores[keep])
    return len(rows)


def read_csv(path):
    with open(path, newline='') as file:
        return list(csv.reader(file))


def write_csv(path, rows):
    with open(path, 'w', newline='') as file:
        csv.writer(file).writerows(rows)


def test_csv_queries_leave_class_empty_for_the_annotator(tmp_path):
    path = write_queries(tmp_path / 'q.csv', QUERIES, SHAPES, PATHS, 3, SCORES)
    assert read_csv(path) == [
        ['image', 'x', 'y', 'class', 'round', 'score', 'path'],
        ['train/b.png', '1', '2', '', '3', '0.5', 'data/img/b.png'],
        ['train/a.png', '4', '3', '', '3', '', 'data/img/a.png'],
        ['train/a.png', '0', '0', '', '3', '0.125', 'data/img/a.png'],
    ]


def test_infinite_scores_are_written_as_null(tmp_path):
    scores = [float('inf'), float('-inf'), 0.125]
    path = write_queries(tmp_path / 'q.json', QUERIES, SHAPES, None, 0, scores)
    text = open(path).read()
    assert 'Infinity' not in text
    assert [row['score'] for row in json.loads(text)] == [None, None, 0.125]


def test_json_queries_are_strict_json_with_nulls(tmp_path):
    path = write_queries(tmp_path / 'q.json', QUERIES, SHAPES, None, 3, SCORES)
    text = open(path).read()
    assert 'NaN' not in text
    assert json.loads(text) == [
        {'image': 'train/b.png', 'x': 1, 'y': 2, 'class': None, 'round': 3,
         'score': 0.5},
        {'image': 'train/a.png', 'x': 4, 'y': 3, 'class': None, 'round': 3,
         'score': None},
        {'image': 'train/a.png', 'x': 0, 'y': 0, 'class': None, 'round': 3,
         'score': 0.125},
    ]


@pytest.mark.parametrize('queries,message', [
    ([('train/a.png', 20)], "pixel 20 of image 'train/a.png' is outside its "
                            '4x5 grid'),
    ([('train/z.png', 0)], "unknown image id 'train/z.png'"),
    ([('train/a.png', 1), ('train/a.png', 1)],
     'the same (image, pixel) twice'),
    ([('train/a.png', 1), ('train/b.png', 1)],
     "image_paths has no file for image 'train/b.png'"),
])
def test_bad_queries_are_not_written(tmp_path, queries, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        write_queries(tmp_path / 'q.csv', queries, SHAPES,
                      {'train/a.png': 'a.png'}, 0)
    assert not (tmp_path / 'q.csv').exists()


def test_unsupported_extension_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"q\.txt: unsupported annotation file"
                                         r" type '\.txt'"):
        write_queries(tmp_path / 'q.txt', QUERIES, SHAPES, None, 0)


def fill_csv(path, classes):
    rows = read_csv(path)
    for row, cls in zip(rows[1:], classes):
        row[3] = cls
    write_csv(path, rows)


def fill_json(path, classes):
    records = json.load(open(path))
    for record, cls in zip(records, classes):
        record['class'] = cls
    json.dump(records, open(path, 'w'))


@pytest.mark.parametrize('ext,fill', [('.csv', fill_csv),
                                      ('.json', fill_json)])
def test_filled_queries_are_read_back(tmp_path, ext, fill):
    path = write_queries(tmp_path / f'q{ext}', QUERIES, SHAPES, PATHS, 3,
                         SCORES)
    fill(path, [2, 255, 0])
    rows = read_annotations(path, SHAPES, 4, round_idx=3, queries=QUERIES)
    assert rows.image_ids == ['train/b.png', 'train/a.png', 'train/a.png']
    np.testing.assert_array_equal(rows.pixels, [7, 19, 0])
    np.testing.assert_array_equal(rows.classes, [2, 255, 0])
    np.testing.assert_array_equal(rows.rounds, [3, 3, 3])
    np.testing.assert_array_equal(rows.scores, SCORES)

    store = new_store()
    assert add_rows(store, rows) == 3
    np.testing.assert_array_equal(store.pixels('train/a.png'), [0, 19])
    np.testing.assert_array_equal(store.classes('train/a.png'), [0, 255])
    np.testing.assert_array_equal(store.rounds('train/b.png'), [3])
    np.testing.assert_array_equal(store.class_counts(), [1, 0, 1, 0])


def test_csv_saved_by_a_spreadsheet_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / 'q.csv'
    path.write_bytes('\ufeffimage,x,y,class\r\ntrain/a.png,2,1,3\r\n'
                     .encode('utf-8'))
    rows = read_annotations(path, SHAPES, 4, round_idx=0)
    np.testing.assert_array_equal(rows.pixels, [7])
    np.testing.assert_array_equal(rows.classes, [3])
    assert np.isnan(rows.scores[0])


@pytest.mark.parametrize('ext', ['.csv', '.json'])
def test_export_import_round_trip_restores_the_store(tmp_path, ext):
    store = new_store()
    store.add_many([('train/b.png', 7, 255), ('train/a.png', 19, 2)], 0,
                   scores=[0.5, 1 / 3])
    store.add('train/a.png', [3], [1], round_idx=1)
    path = store.export(tmp_path / f'labels{ext}', image_paths=PATHS)

    restored = new_store()
    assert add_rows(restored, read_annotations(path, SHAPES, 4)) == 3
    for image_id in SHAPES:
        for field in ('pixels', 'classes', 'rounds', 'scores'):
            np.testing.assert_array_equal(getattr(restored, field)(image_id),
                                          getattr(store, field)(image_id))


@pytest.mark.parametrize('ext', ['.csv', '.json'])
def test_export_writes_x_y_from_flat_pixels(tmp_path, ext):
    store = new_store()
    store.add('train/a.png', [13], [2], round_idx=4, scores=[0.25])
    rows = read_annotations(store.export(tmp_path / f'labels{ext}'), SHAPES, 4)
    assert rows.image_ids == ['train/a.png']
    np.testing.assert_array_equal(rows.pixels, [13])  # x=3, y=2 on W=5
    if ext == '.csv':
        assert read_csv(tmp_path / 'labels.csv')[1] == [
            'train/a.png', '3', '2', '2', '4', '0.25']


HEADER = ['image', 'x', 'y', 'class', 'round', 'score']
BAD_CSV_ROWS = [
    (['train/a.png', '1', '0', '', '3', ''], 'line 2: class is missing'),
    (['train/a.png', '1', '0', 'car', '3', ''],
     "line 2: class 'car' is not an integer"),
    (['train/a.png', '1', '0', '1.5', '3', ''],
     "line 2: class '1.5' is not an integer"),
    (['train/a.png', '1', '0', '4', '3', ''],
     'line 2: class 4 is neither a class id in [0, 4) nor the void value 255'),
    (['train/a.png', '5', '0', '1', '3', ''],
     "line 2: (x=5, y=0) is outside image 'train/a.png' (5 wide, 4 high)"),
    (['train/a.png', '', '0', '1', '3', ''], 'line 2: x is missing'),
    (['train/a.png', '2', '0', '1', '3', ''],
     "line 2: (x=2, y=0) of image 'train/a.png' was not queried"),
    (['train/q.png', '1', '0', '1', '3', ''],
     "line 2: unknown image id 'train/q.png'"),
    (['train/a.png', '1', '0', '1', '2', ''],
     'line 2: round 2 differs from round 3 being imported'),
    (['train/a.png', '1', '0', '1', '3', 'high'],
     "line 2: score 'high' is not a number"),
]


@pytest.mark.parametrize('row,message', BAD_CSV_ROWS)
def test_bad_csv_rows_are_named_by_file_and_line(tmp_path, row, message):
    path = tmp_path / 'answers.csv'
    write_csv(path, [HEADER, row])
    with pytest.raises(AnnotationFileError,
                       match=re.escape(f'{path}: 1 bad row(s), nothing '
                                       f'imported:\n  {message}')):
        read_annotations(path, SHAPES, 4, round_idx=3,
                         queries=[('train/a.png', 1)])


def test_duplicate_rows_name_both_lines_and_all_problems_are_listed(tmp_path):
    path = tmp_path / 'answers.csv'
    write_csv(path, [HEADER, ['train/a.png', '1', '0', '1', '', ''],
                     ['train/b.png', '0', '0', '', '', ''],
                     ['train/a.png', '1', '0', '2', '', '']])
    with pytest.raises(AnnotationFileError) as info:
        read_annotations(path, SHAPES, 4, round_idx=0)
    assert str(info.value) == (
        f'{path}: 2 bad row(s), nothing imported:\n'
        '  line 3: class is missing\n'
        "  line 4: (x=1, y=0) of image 'train/a.png' was already given on "
        'line 2')


def test_rows_only_lacking_a_class_are_told_apart_from_wrong_ones(
        tmp_path):
    path = write_queries(tmp_path / 'q.json', QUERIES, SHAPES, None, 0)
    with pytest.raises(UnansweredRowsError) as info:
        read_annotations(path, SHAPES, 4, round_idx=0)
    assert info.value.count == 3
    assert str(info.value).startswith(f'{path}: 3 bad row(s), nothing '
                                      'imported:\n  record 1: class is '
                                      'missing')
    with open(path) as file:
        rows = json.load(file)
    rows[0]['class'], rows[1]['x'] = 1, 9
    with open(path, 'w') as file:
        json.dump(rows, file)
    with pytest.raises(AnnotationFileError) as info:
        read_annotations(path, SHAPES, 4, round_idx=0)
    assert not isinstance(info.value, UnansweredRowsError)
    assert str(info.value) == (
        f"{path}: 2 bad row(s), nothing imported:\n  record 2: (x=9, y=3) "
        "is outside image 'train/a.png' (5 wide, 4 high)\n  record 3: class "
        'is missing')


def test_rounds_are_required_when_no_round_is_given(tmp_path):
    path = tmp_path / 'answers.csv'
    write_csv(path, [HEADER, ['train/a.png', '1', '0', '1', '', '']])
    with pytest.raises(AnnotationFileError, match='line 2: round is missing'):
        read_annotations(path, SHAPES, 4, round_idx=None)


def test_csv_without_required_columns_is_refused(tmp_path):
    path = tmp_path / 'answers.csv'
    write_csv(path, [['image', 'x', 'label'], ['train/a.png', '1', '2']])
    with pytest.raises(AnnotationFileError,
                       match=re.escape(f'{path}: the header line lacks the '
                                       'column(s) y, class')):
        read_annotations(path, SHAPES, 4, round_idx=0)


@pytest.mark.parametrize('content,message', [
    ('[{"image": "train/a.png", "x": 1, "y": 0, "class": 1.0}]',
     'record 1: class 1.0 is not an integer'),
    ('[{"image": "train/a.png", "x": 1, "y": 0, "class": 1}, '
     '{"image": "train/a.png", "x": true, "y": 0, "class": 1}]',
     'record 2: x True is not an integer'),
    ('[{"image": "train/a.png", "x": 1, "y": 0, "class": null}]',
     'record 1: class is missing'),
    ('[["train/a.png", 1, 0, 1]]', 'record 1: expected an object'),
    ('[{"x": 1, "y": 0, "class": 1}]', 'record 1: image None is missing'),
])
def test_bad_json_records_are_named_by_file_and_record(tmp_path, content,
                                                       message):
    path = tmp_path / 'answers.json'
    path.write_text(content)
    with pytest.raises(AnnotationFileError,
                       match=re.escape(f'{path}: 1 bad row(s), nothing '
                                       f'imported:\n  {message}')):
        read_annotations(path, SHAPES, 4, round_idx=0)


@pytest.mark.parametrize('content,message', [
    ('[{"image": ', 'not valid JSON'),
    ('{"image": "train/a.png"}', 'expected a JSON list of objects'),
])
def test_malformed_json_files_are_named(tmp_path, content, message):
    path = tmp_path / 'answers.json'
    path.write_text(content)
    with pytest.raises(AnnotationFileError,
                       match=re.escape(f'{path}: {message}')):
        read_annotations(path, SHAPES, 4, round_idx=0)


@pytest.mark.parametrize('ext', ['csv', 'json'])
def test_files_that_are_not_utf8_are_named(tmp_path, ext):
    path = tmp_path / f'answers.{ext}'
    header = b'image,x,y,class\n' if ext == 'csv' else b'[{"image": "'
    path.write_bytes(header + b'train/a\xe9.png')  # Latin-1, not UTF-8
    with pytest.raises(AnnotationFileError) as error:
        read_annotations(path, SHAPES, 4, round_idx=0)
    assert str(error.value) == (
        f'{path}: not UTF-8 text (byte 0xe9 at offset {len(header) + 7}); '
        'save it with the UTF-8 encoding')


def test_many_problems_are_capped_in_the_message(tmp_path):
    path = tmp_path / 'answers.csv'
    write_csv(path, [HEADER] + [['train/a.png', str(x), '0', '', '', '']
                                for x in range(5)] * 5)
    with pytest.raises(AnnotationFileError) as info:
        read_annotations(path, SHAPES, 4, round_idx=0)
    lines = str(info.value).splitlines()
    assert lines[0].endswith('25 bad row(s), nothing imported:')
    assert len(lines) == 1 + 20 + 1 and lines[-1] == '  ... and 5 more'


def test_rows_deleted_by_the_annotator_stay_unlabelled(tmp_path):
    path = write_queries(tmp_path / 'q.csv', QUERIES, SHAPES, None, 1)
    rows = read_csv(path)
    rows[2][3] = '3'
    write_csv(path, [rows[0], rows[2]])  # only the second query answered
    store = new_store()
    assert add_rows(store, read_annotations(path, SHAPES, 4, round_idx=1,
                                            queries=QUERIES)) == 1
    np.testing.assert_array_equal(store.pixels('train/a.png'), [19])
    assert store.labelled_image_ids() == ['train/a.png']


def test_json_queries_carry_the_model_guesses(tmp_path):
    guesses = [[(2, 0.5), (0, 0.25), (1, 0.125)]] * 3
    path = write_queries(tmp_path / 'q.json', QUERIES, SHAPES, None, 3,
                         guesses=guesses)
    rows = json.load(open(path))
    assert [row['guesses']
            for row in rows] == [[[2, 0.5], [0, 0.25], [1, 0.125]]] * 3
    fill_json(path, [1, 2, 3])
    np.testing.assert_array_equal(
        read_annotations(path, SHAPES, 4, round_idx=3).classes, [1, 2, 3])
    with pytest.raises(ValueError, match=r'q\.csv: guesses are written to '
                                         r'\.json query files only'):
        write_queries(tmp_path / 'q.csv', QUERIES, SHAPES, None, 3,
                      guesses=guesses)
