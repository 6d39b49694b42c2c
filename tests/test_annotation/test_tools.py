"""tools/label_studio.py and tools/annotate.py on a stopped toy run.

A FileOracle run stops at round 0, which is answered through a Label
Studio export; resumed, it stores those answers and stops at round 1,
which is answered through the web annotator of tools/annotate.py, into the
query file that the next ``--resume`` imports (as tested for FileOracle in
test_engine). Then what the tools refuse, and how they say it, on a run
stopped without training (stopped_run.py).
"""
import json
import os.path as osp
import subprocess
import sys
import threading

import numpy as np
import pytest

from mmseg_al.datasets.toy_scenes import TOY_SCENES_CLASSES
from mmseg_al.state import RunDir
from mmseg_al.state import AnnotationFileError, read_annotations
from helpers.toy_run import (REPO, al_train_main, tool_main, write_toy_config)
from .stopped_run import write_stopped_run

httpx = pytest.importorskip('httpx2', reason='needs the tests extra')
pytest.importorskip('uvicorn', reason='needs pip install mmseg-al[annotate]')
from .live_run import (PATIENCE, free_port, ground_truth,  # noqa: E402
                       serving_round)
from .ls_exports import ls_export, write  # noqa: E402


def queried_truth(work, data_root, round_idx):
    """``{(image, pixel): ground-truth class}`` of a round's queries."""
    path = osp.join(work, 'queries', f'round_{round_idx:02d}.json')
    with open(path, encoding='utf-8') as file:
        rows = json.load(file)
    return {(r['image'], r['y'] * 32 + r['x']):
            ground_truth(data_root, r['image'], r['x'], r['y']) for r in rows}


def test_a_stopped_run_is_answered_with_the_tools(tmp_path, tiny_unet_cfg):
    data_root = str(tmp_path / 'data')
    cfg = write_toy_config(tmp_path / 'toy.py', data_root, tiny_unet_cfg,
                           extra="train_cfg.update(oracle=dict("
                           "type='FileOracle'))\n")
    work = str(tmp_path / 'work')
    assert al_train_main([cfg, '--work-dir', work]) == 3

    ls_dir = tmp_path / 'ls'
    assert tool_main('label_studio', ['export', work, str(ls_dir)]) == 0
    tasks = json.loads((ls_dir / 'tasks.json').read_text())
    truth = list(queried_truth(work, data_root, 0).values())
    names = [TOY_SCENES_CLASSES[c] if c < 255 else 'void' for c in truth]
    export = write(tmp_path, ls_export(tasks, names))
    assert tool_main('label_studio', ['import', work, export]) == 0
    assert al_train_main([cfg, '--work-dir', work, '--resume']) == 3
    state = np.load(osp.join(work, 'al_state', 'round_00.npz'))
    assert {(str(i), int(p)): int(c) for i, p, c in zip(
        state['image_ids'], state['pixels'], state['classes'])} == \
        queried_truth(work, data_root, 0)

    port = free_port()
    status = []
    serving = threading.Thread(target=lambda: status.append(tool_main(
        'annotate', [work, '--port', str(port)])), daemon=True)
    serving.start()
    url = f'http://127.0.0.1:{port}/'
    info = serving_round(url, 1, serving.is_alive)
    assert all(len(q['guesses']) == 3 for q in info['queries'])
    for query in info['queries']:
        cls = ground_truth(data_root, query['image'], query['x'], query['y'])
        assert httpx.put(f'{url}api/answers/{query["id"]}', json={
            'round': 1, 'class': cls}).status_code == 200
    serving.join(PATIENCE)
    assert status == [0]
    with open(osp.join(work, 'queries', 'round_01.json')) as file:
        assert {(r['image'], r['y'] * 32 + r['x']): r['class']
                for r in json.load(file)} == queried_truth(work, data_root, 1)


def test_no_pending_round_is_named(tmp_path, capsys):
    missing = tmp_path / 'missing'
    assert tool_main('annotate', [str(missing)]) == 1
    assert capsys.readouterr().err == \
        f'annotate: {missing}: no such work directory\n'
    assert not missing.exists()
    (tmp_path / 'run.py').write_text("default_scope = 'mmseg'\n")
    assert tool_main('annotate', [str(tmp_path)]) == 1
    assert f'annotate: {tmp_path}: no round waits for labels (round 0 has ' \
        'no pending selection' in capsys.readouterr().err
    (tmp_path / 'other.py').write_text('')
    assert tool_main('label_studio', ['export', str(tmp_path), 'out']) == 1
    assert f'label_studio: {tmp_path} holds 2 config files' in \
        capsys.readouterr().err


@pytest.fixture
def stopped(tmp_path):
    """``(work dir, query file, queried pairs)`` of a run stopped at
    round 0."""
    work = str(tmp_path / 'work')
    return (work, ) + write_stopped_run(work, str(tmp_path / 'data'))


def test_a_second_annotator_is_refused_while_the_first_serves(
        stopped, tmp_path, capsys):
    """Each process rewrites the whole query file from what it read, so two
    annotators would lose each other's answers: the second one, and a
    Label Studio import, are refused, naming the process that serves."""
    work, query_file, pairs = stopped
    annotate = [sys.executable, osp.join(REPO, 'tools', 'annotate.py'), work]
    port = free_port()
    with open(tmp_path / 'first.log', 'w') as log:
        first = subprocess.Popen(annotate + ['--port', str(port)],
                                 stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f'http://127.0.0.1:{port}/'
        queries = serving_round(url, 0, lambda: first.poll() is None)[
            'queries']
        second = subprocess.run(annotate + ['--port', str(free_port())],
                                capture_output=True, text=True,
                                timeout=PATIENCE)
        held = (f'{work} is in use by another run or annotator (PID '
                f'{first.pid} holds {osp.join(work, "al_run.lock")})')
        assert second.returncode == 1
        assert f'annotate: {held}' in second.stderr
        assert tool_main('label_studio', ['import', work, 'export.json']) == 1
        assert f'label_studio: {held}' in capsys.readouterr().err

        classes = [query['id'] % 6 for query in queries]

        def tab(query_ids):
            with httpx.Client(base_url=url) as browser:
                for query_id in query_ids:
                    assert browser.put(f'api/answers/{query_id}', json={
                        'round': 0, 'class': classes[query_id]}
                    ).status_code == 200

        tabs = [threading.Thread(target=tab, args=(range(i, len(queries),
                                                         2), ))
                for i in (0, 1)]
        for thread in tabs:
            thread.start()
        for thread in tabs:
            thread.join()
        assert first.wait(PATIENCE) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    with open(query_file, encoding='utf-8') as file:
        assert [row['class'] for row in json.load(file)] == classes
    assert tool_main('label_studio', ['export', work, str(tmp_path / 'ls')]
                     ) == 0  # the lock went with the first annotator


def test_a_query_file_that_is_not_utf8_is_named_as_the_run_names_it(
        stopped, capsys):
    work, query_file, pairs = stopped
    with open(query_file, 'rb') as file:
        blank = file.read()
    with open(query_file, 'wb') as file:
        file.write(blank.replace(b'.png', b'\xe9.png', 1))  # Latin-1
    with pytest.raises(AnnotationFileError) as by_the_run:
        read_annotations(query_file, {}, len(TOY_SCENES_CLASSES))
    assert str(by_the_run.value).startswith(f'{query_file}: not UTF-8 text')
    assert tool_main('annotate', [work]) == 1
    assert capsys.readouterr().err == f'annotate: {by_the_run.value}\n'


def test_a_crafted_pending_selection_is_refused_by_the_tools(stopped,
                                                             capsys):
    work, query_file, pairs = stopped
    pending = RunDir(work).queries(0)
    image_ids, pixels, scores = pending.load()
    pending.save(image_ids[:3], pixels[:3], scores[:3])
    for tool, argv in (('annotate', [work]),
                       ('label_studio', ['export', work,
                                         osp.join(work, 'x')])):
        assert tool_main(tool, argv) == 1
        assert capsys.readouterr().err.startswith(
            f'{tool}: {pending.selection_file}: 3 pixels are pending, but '
            f'round 0 labels {len(pairs)} (train_cfg.budget). Delete it')


def test_a_bad_export_ends_the_import_with_one_message(stopped, tmp_path,
                                                       capsys):
    work, query_file, pairs = stopped
    assert tool_main('label_studio', ['export', work, str(tmp_path / 'ls')]
                     ) == 0
    tasks = json.loads((tmp_path / 'ls' / 'tasks.json').read_text())
    export = ls_export(tasks, [TOY_SCENES_CLASSES[1]] * len(pairs))
    del export[1]['annotations'][0]['result'][0]['value']['x']
    path = write(tmp_path, export)
    with open(query_file, 'rb') as file:
        blank = file.read()
    capsys.readouterr()
    assert tool_main('label_studio', ['import', work, path]) == 1
    assert capsys.readouterr().err == (
        f'label_studio: {path}: 1 problem(s), nothing imported:\n'
        '  task 102: result 1: x is missing; no point on the queried pixel '
        '(x=5, y=1)\n')
    text = json.dumps(ls_export(tasks, [TOY_SCENES_CLASSES[1]] * len(pairs)))
    with open(path, 'wb') as file:
        file.write(text.encode() + b'\xe9')  # a Latin-1 byte
    assert tool_main('label_studio', ['import', work, path]) == 1
    assert capsys.readouterr().err == (
        f'label_studio: {path}: not UTF-8 text (byte 0xe9 at offset '
        f'{len(text)}); save it with the UTF-8 encoding\n')
    with open(query_file, 'rb') as file:
        assert file.read() == blank
