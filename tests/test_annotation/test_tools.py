"""tools/label_studio.py and tools/annotate.py on a stopped toy run.

A FileOracle run stops at round 0, which is answered through a Label
Studio export; resumed, it stores those answers and stops at round 1,
which is answered through the web annotator of tools/annotate.py, into the
query file that the next ``--resume`` imports (as tested for FileOracle in
test_engine).
"""
import json
import os.path as osp
import threading

import numpy as np
import pytest

from mmseg_al.datasets.toy_scenes import TOY_SCENES_CLASSES
from test_engine.toy_run import al_train_main, tool_main, write_toy_config

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
    info = serving_round(url, 1, serving)
    assert all(len(q['top3']) == 3 for q in info['queries'])
    for query in info['queries']:
        cls = ground_truth(data_root, query['image'], query['x'], query['y'])
        assert httpx.put(f'{url}api/answers/{query["id"]}', json={
            'round': 1, 'class': cls}).status_code == 200
    serving.join(PATIENCE)
    assert status == [0]
    with open(osp.join(work, 'queries', 'round_01.json')) as file:
        assert {(r['image'], r['y'] * 32 + r['x']): r['class']
                for r in json.load(file)} == queried_truth(work, data_root, 1)


def test_no_pending_round_is_named(tmp_path):
    (tmp_path / 'run.py').write_text("default_scope = 'mmseg'\n")
    with pytest.raises(FileNotFoundError, match=r'no round waits for labels '
                       r'\(round 0 has no pending selection'):
        tool_main('annotate', [str(tmp_path)])
    (tmp_path / 'other.py').write_text('')
    with pytest.raises(FileNotFoundError, match=r'2 config files .* name it '
                       'with --config'):
        tool_main('annotate', [str(tmp_path)])
