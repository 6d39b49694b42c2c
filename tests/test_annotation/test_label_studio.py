"""Label Studio round trip: export a round, read back its JSON export.

The exports are written here from Label Studio's documented JSON export
format (tasks with ``annotations`` whose ``result`` holds
``keypointlabels`` points in percent of ``original_width/height``).
"""
import copy
import json

import cv2
import numpy as np
import pytest

from mmseg_al.annotation import RoundAnswers
from mmseg_al.annotation.label_studio import (export_project, import_answers,
                                              read_export)
from mmseg_al.engine import FileOracle
from mmseg_al.state import AnnotationFileError
from .conftest import (ROUND, NamedPool, fill_classes, make_round,
                       saved_state)
from .ls_exports import annotation, ls_export, write

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
    np.testing.assert_array_equal(
        image, answers.queries.dataset.images[2].transpose(1, 2, 0))
    assert 'LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=' + str(
        tmp_path / 'ls') in (tmp_path / 'ls' / 'README.txt').read_text()


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
        "annotations of image 'train/0002.png' disagree on queries [0]")


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


@pytest.mark.parametrize('damage,problem', [
    (break_missing, 'task 103: no point on the queried pixel (x=4, y=3)'),
    (break_extra, 'task 101: an extra point on the queried pixel of query 0'),
    (break_label, "task 102: label(s) ['tree'] of query 1: give each point "
                  "one of 'sky', 'road', 'car', 'void'"),
    (break_position, 'task 102: a point at pixel (x=1.1, y=0.5) that was not '
                     'queried; no point on the queried pixel (x=0, y=0)'),
    (break_todo, "task 102: the point of query 1 is still labelled '?'"),
    (break_round, 'task 102: a task of round 1; round 2 is being annotated'),
    (break_task, "no task for image 'train/0001.png'"),
    (break_cancelled, "task 103: image 'train/0001.png' has no submitted "
                      'annotation'),
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
