"""Label Studio round trip: export a round, read back its JSON export.

The exports are written here from Label Studio's documented JSON export
format (tasks with ``annotations`` whose ``result`` holds
``keypointlabels`` points in percent of ``original_width/height``), and
its JSON-MIN export as its converter writes it.
"""
import copy
import json

import cv2
import numpy as np
import pytest

from mmseg_al.annotation import RoundAnswers
from mmseg_al.annotation.label_studio import (export_project, import_answers,
                                              read_export)
from mmseg_al.annotation import FileOracle
from mmseg_al.state import AnnotationFileError
from .conftest import (ROUND, NamedPool, fill_classes, make_round,
                       saved_state)
from .ls_exports import annotation, json_min, ls_export, write

CLASSES = [2, 255, 0, 1]  # per query of the fixture round
LABELS = ['car', 'void', 'sky', 'road']  # the names of CLASSES


@pytest.fixture
def exported(tmp_path, pending):
    answers = RoundAnswers(pending)
    export_project(answers, str(tmp_path / 'ls'))
    with open(tmp_path / 'ls' / 'tasks.json', encoding='utf-8') as file:
        return answers, json.load(file)


def test_export_writes_config_tasks_images_and_instructions(tmp_path,
                                                            exported):
    answers, tasks = exported
    config = (tmp_path / 'ls' / 'config.xml').read_text()
    assert '<KeyPointLabels name="label" toName="image" snap="pixel"' in config
    for line in ('<Label value="sky" background="#4682b4"/>',
                 '<Label value="road" background="#804080"/>',
                 '<Label value="car" background="#00008e"/>',
                 '<Label value="void" background="#000000"/>',
                 '<Label value="?" background="#ffd400"/>'):
        assert line in config
    assert [t['data'] for t in tasks] == [
        {'image': f'/data/local-files/?d=images/train__{i}.png',
         'image_id': f'train/{i}.png', 'round': ROUND}
        for i in ('0002', '0000', '0001')]
    points = [(r['id'], r['original_width'], r['original_height'],
               r['value']['x'], r['value']['y'], r['value']['keypointlabels'])
              for t in tasks for r in t['predictions'][0]['result']]
    # (x + 0.5) / 5 * 100 and (y + 0.5) / 4 * 100 of the queried pixels
    assert points == [('q0', 5, 4, 50.0, 37.5, ['?']),
                      ('q2', 5, 4, 30.0, 12.5, ['?']),
                      ('q1', 5, 4, 10.0, 12.5, ['?']),
                      ('q3', 5, 4, 90.0, 87.5, ['?'])]
    image = cv2.imread(str(tmp_path / 'ls' / 'images' / 'train__0002.png'))
    np.testing.assert_array_equal(  # the pool's pixels, BGR as cv2 reads
        image, NamedPool().images[2].transpose(1, 2, 0))
    readme = (tmp_path / 'ls' / 'README.txt').read_text()
    assert f'LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={tmp_path / "ls"} ' \
        'label-studio' in readme
    # the storage belongs to a project, and its Sync would add image-only
    # tasks that the import refuses
    steps = ('1. Start Label Studio', '2. Create a project',
             '3. In the project, add Settings > Cloud Storage',
             '4. Import tasks.json', '5. In every task', '6. Export')
    assert [readme.index(step) for step in steps] == sorted(
        readme.index(step) for step in steps)
    assert f'Files with the absolute path {tmp_path / "ls"}/images. Do not ' \
        'press Sync' in readme


def test_with_a_url_prefix_the_readme_says_nothing_of_local_files(
        tmp_path, pending):
    export_project(RoundAnswers(pending), str(tmp_path / 'ls'),
                   url_prefix='http://images.lan:8081/')
    readme = (tmp_path / 'ls' / 'README.txt').read_text()
    assert '1. Serve the images over HTTP so that http://images.lan:8081/' \
        f'NAME fetches\n   {tmp_path / "ls"}/images/NAME' in readme
    for local in ('LOCAL_FILES', 'Local Files', 'Cloud Storage', 'Sync'):
        assert local not in readme
    assert '3. Import tasks.json' in readme
    with open(tmp_path / 'ls' / 'tasks.json', encoding='utf-8') as file:
        assert json.load(file)[0]['data']['image'] == \
            'http://images.lan:8081/train__0002.png'


def test_import_equals_file_oracle_with_the_same_answers(tmp_path, exported):
    answers, tasks = exported
    # points may sit anywhere within half a pixel of the centre
    path = write(tmp_path, ls_export(tasks, LABELS, nudge=0.49))
    assert import_answers(path, answers) == 4
    by_hand = make_round(tmp_path / 'hand')
    fill_classes(by_hand.query_file, CLASSES)
    imported, by_file = answers.classes(), FileOracle().annotate(by_hand)
    assert imported.tolist() == by_file.tolist() == CLASSES
    np.testing.assert_equal(saved_state(tmp_path / 'a', answers.queries,
                                        imported),
                            saved_state(tmp_path / 'b', by_hand, by_file))


def test_the_latest_annotation_wins_unless_agreement_is_required(
        tmp_path, exported):
    answers, tasks = exported
    export = ls_export(tasks, LABELS)
    task = export[0]  # image train/0002.png: queries 0 and 2
    early = annotation(task, {0: 'sky', 2: 'sky'}, 1, '2025-01-01T09:00:00Z')
    late = annotation(task, {0: 'road', 2: 'sky'}, 2, '2025-01-02T09:00:00Z')
    cancelled = dict(annotation(task, {0: 'sky', 2: 'car'}, 3,
                                '2025-01-03T09:00:00Z'), was_cancelled=True)
    task['annotations'] = [late, cancelled, early]
    path = write(tmp_path, export)
    assert read_export(path, answers) == {0: 1, 1: 255, 2: 0, 3: 1}
    with pytest.raises(AnnotationFileError) as refused:
        read_export(path, answers, require_agreement=True)
    assert str(refused.value) == (
        f'{path}: 1 problem(s), nothing imported:\n  task 101: the 2 '
        "annotations of image 'train/0002.png' disagree at (x=2, y=1)")


def test_times_are_compared_as_times_not_as_text(tmp_path, exported):
    """Label Studio leaves out a zero fraction of a second, so the later
    time sorts first as text ('Z' > '.')."""
    answers, tasks = exported
    export = ls_export(tasks, LABELS)
    task = export[0]
    task['annotations'] = [
        annotation(task, {0: 'road', 2: 'sky'}, 1, '2025-01-02T09:00:00Z'),
        annotation(task, {0: 'sky', 2: 'sky'}, 2,
                   '2025-01-02T09:00:00.500000Z')]
    assert task['annotations'][0]['updated_at'] > \
        task['annotations'][1]['updated_at']
    assert read_export(write(tmp_path, export), answers)[0] == 0  # sky


def test_equal_timestamps_fall_back_to_the_larger_annotation_id(
        tmp_path, exported):
    answers, tasks = exported
    export = ls_export(tasks, LABELS)
    task = export[0]
    same_time = '2025-01-02T09:00:00Z'
    task['annotations'] = [
        annotation(task, {0: 'road', 2: 'sky'}, 10, same_time),
        annotation(task, {0: 'sky', 2: 'sky'}, 9, same_time)]
    assert read_export(write(tmp_path, export), answers)[0] == 1  # road


def break_missing(export):
    export[2]['annotations'][0]['result'] = []


def break_extra(export):
    result = export[0]['annotations'][0]['result']
    result.append(copy.deepcopy(result[0]))


def break_label(export):
    export[1]['annotations'][0]['result'][0]['value']['keypointlabels'] = [
        'tree']


def break_position(export):
    export[1]['annotations'][0]['result'][0]['value']['x'] += 12.0


def break_todo(export):
    export[1]['annotations'][0]['result'][0]['value']['keypointlabels'] = [
        '?']


def break_round(export):
    export[1]['data']['round'] = ROUND - 1


def break_task(export):
    del export[2]


def break_cancelled(export):
    export[2]['annotations'][0]['was_cancelled'] = True


def point_of_task_102(export):
    return export[1]['annotations'][0]['result'][0]


def break_x_missing(export):
    del point_of_task_102(export)['value']['x']


def break_x_null(export):
    point_of_task_102(export)['value']['x'] = None


def break_x_huge(export):
    point_of_task_102(export)['value']['x'] = 10 ** 400


def break_annotations(export):
    export[1]['annotations'] = 5


def break_result(export):
    export[1]['annotations'][0]['result'] = 5


def break_nested_label(export):
    point_of_task_102(export)['value']['keypointlabels'] = [['sky']]


def break_width_text(export):
    point_of_task_102(export)['original_width'] = '5'


def break_width(export):
    point_of_task_102(export)['original_width'] = 10


def break_time(export):
    export[1]['annotations'][0]['updated_at'] = 'yesterday'


def break_round_type(export):
    export[1]['data']['round'] = True


def break_sync(export):
    """The image-only task that a Sync of the Local Files storage adds."""
    image = '/data/local-files/?d=images/train__0000.png'
    export.append(dict(id=104, data=dict(image=image), annotations=[]))


KNOWN = "give each point one of 'sky', 'road', 'car', 'void'"


@pytest.mark.parametrize('damage,problem', [
    (break_missing, 'task 103: no point on the queried pixel (x=4, y=3)'),
    (break_extra, 'task 101: result 3: a second point on the queried pixel '
                  '(x=2, y=1)'),
    (break_label, "task 102: result 1: keypointlabels ['tree'] of the point "
                  f'on (x=0, y=0): {KNOWN}'),
    (break_position, 'task 102: result 1: a point at pixel (x=1.1, y=0.5) '
                     'that was not queried; no point on the queried pixel '
                     '(x=0, y=0)'),
    (break_todo, 'task 102: result 1: the point on (x=0, y=0) is still '
                 "labelled '?'"),
    (break_round, 'task 102: a task of round 1; round 2 is being annotated'),
    (break_task, "no task for image 'train/0001.png'"),
    (break_cancelled, "task 103: image 'train/0001.png' has no submitted "
                      'annotation'),
    (break_x_missing, 'task 102: result 1: x is missing; no point on the '
                      'queried pixel (x=0, y=0)'),
    (break_x_null, 'task 102: result 1: x None is not a number; no point on '
                   'the queried pixel (x=0, y=0)'),
    (break_x_huge, 'task 102: result 1: x 100000000000000000...00000000000'
                   '00000000 is off the image (0 to 100 percent); no point on '
                   'the queried pixel (x=0, y=0)'),
    (break_annotations, 'task 102: annotations 5 is not a list'),
    (break_result, 'task 102: annotation 901: result 5 is not a list'),
    (break_nested_label, "task 102: result 1: keypointlabels [['sky']] of "
                         f'the point on (x=0, y=0): {KNOWN}'),
    (break_width_text, "task 102: result 1: original_width '5' is not an "
                       'integer; no point on the queried pixel (x=0, y=0)'),
    (break_width, 'task 102: result 1: original_width x original_height is '
                  "10x4; 'train/0000.png' is 5x4; no point on the queried "
                  'pixel (x=0, y=0)'),
    (break_time, "task 102: annotation 901: updated_at 'yesterday' is not an "
                 'ISO 8601 time'),
    (break_round_type, 'task 102: round True is not an integer'),
    (break_sync, 'task 104: not a task of tools/label_studio.py export (its '
                 'data has no image_id; delete any task that a storage Sync '
                 'added)'),
])
def test_malformed_exports_are_refused_and_nothing_is_stored(
        tmp_path, exported, damage, problem):
    answers, tasks = exported
    export = ls_export(tasks, LABELS)
    damage(export)
    path = write(tmp_path, export)
    before = open(answers.path).read()
    with pytest.raises(AnnotationFileError) as refused:
        import_answers(path, answers)
    assert str(refused.value).split('\n  ')[1:] == [problem]
    assert open(answers.path).read() == before


def test_two_problems_are_listed_together(tmp_path, exported):
    answers, tasks = exported
    export = ls_export(tasks, LABELS)
    break_missing(export)
    break_round(export)
    with pytest.raises(AnnotationFileError, match=r'2 problem\(s\), nothing '
                       r'imported:\n  task 102: .*\n  task 103: '):
        read_export(write(tmp_path, export), answers)


def test_class_names_that_clash_with_the_reserved_labels_are_refused(
        tmp_path):
    pool = NamedPool()
    pool.metainfo = dict(NamedPool.metainfo, classes=('sky', 'void', 'car'))
    with pytest.raises(ValueError, match="not 'void' or '\\?' for Label "
                       'Studio'):
        export_project(RoundAnswers(make_round(tmp_path, pool)),
                       str(tmp_path / 'ls'))


def test_an_export_that_is_not_utf8_or_too_deep_is_named(tmp_path,
                                                         exported):
    answers, tasks = exported
    path = tmp_path / 'export.json'
    text = json.dumps(ls_export(tasks, LABELS))
    offset = text.index('train/0002')
    path.write_bytes(text[:offset].encode() + b'\xe9' +
                     text[offset:].encode())  # a Latin-1 byte
    with pytest.raises(AnnotationFileError) as refused:
        read_export(str(path), answers)
    assert str(refused.value) == (
        f'{path}: not UTF-8 text (byte 0xe9 at offset {offset}); save it '
        'with the UTF-8 encoding')
    path.write_text('[' * 100000 + ']' * 100000)
    with pytest.raises(AnnotationFileError, match=f'^{path}: not valid JSON '
                       r'\(maximum recursion depth'):
        read_export(str(path), answers)


def test_a_json_min_export_imports_as_its_json_export(tmp_path, exported):
    answers, tasks = exported
    export = ls_export(tasks, LABELS, nudge=0.3)
    task = export[0]
    task['annotations'] = [  # two annotators, then one cancelled
        annotation(task, {0: 'sky', 2: 'sky'}, 1, '2025-01-02T09:00:00Z'),
        annotation(task, {0: 'car', 2: 'sky'}, 2,
                   '2025-01-02T09:00:00.500000Z'),
        dict(annotation(task, {0: 'road', 2: 'road'}, 3,
                        '2025-01-03T09:00:00Z'), was_cancelled=True)]
    records = json_min(export)
    assert len(records) == 4 and records[0]['image_id'] == 'train/0002.png'
    by_json = read_export(write(tmp_path, export), answers)
    assert by_json == {0: 2, 1: 255, 2: 0, 3: 1}
    assert read_export(write(tmp_path, records), answers) == by_json
    with pytest.raises(AnnotationFileError, match=r"task 101: the 2 "
                       r"annotations of image 'train/0002.png' disagree at "
                       r'\(x=2, y=1\)'):
        read_export(write(tmp_path, records), answers,
                    require_agreement=True)


def test_a_json_min_export_is_checked_as_a_json_export(tmp_path, exported):
    answers, tasks = exported
    records = json_min(ls_export(tasks, LABELS))
    del records[0]['label'][0]['x']
    records[1]['label'][0]['keypointlabels'] = [['sky']]
    # a task without annotations: its data and id, nothing else
    records[2] = dict(tasks[2]['data'], id=103, annotator=None,
                      annotation_id=None, created_at=None, updated_at=None,
                      lead_time=None)
    path = write(tmp_path, records)
    with pytest.raises(AnnotationFileError) as refused:
        import_answers(path, answers)
    assert str(refused.value).split('\n  ') == [
        f'{path}: 3 problem(s), nothing imported:',
        'task 101: result 1: x is missing; no point on the queried pixel '
        '(x=2, y=1)',
        "task 102: result 1: keypointlabels [['sky']] of the point on "
        f'(x=0, y=0): {KNOWN}',
        "task 103: image 'train/0001.png' has no submitted annotation"]
    assert answers.num_answered() == 0


def test_the_readme_says_the_export_carries_points_only_with_regions(
        tmp_path, pending):
    export_project(RoundAnswers(pending), str(tmp_path / 'plain'))
    assert 'points only' not in (tmp_path / 'plain' / 'README.txt'
                                 ).read_text()
    pending.regions = [np.array([p]) for p in pending.pixels]
    export_project(RoundAnswers(pending), str(tmp_path / 'ls'))
    readme = (tmp_path / 'ls' / 'README.txt').read_text()
    assert 'this\nexport carries the points only' in readme
    assert 'python tools/annotate.py WORK_DIR' in readme
