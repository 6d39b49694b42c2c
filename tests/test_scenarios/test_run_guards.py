"""What a run refuses, and how it says so: a locked work dir, changed
settings, damaged or missing files, impossible budgets."""
import glob
import json
import os
import os.path as osp
import re

import numpy as np
import pytest

from mmseg_al.datasets.toy_scenes import write_toy_scenes
from mmseg_al.engine.hooks import DiffusionPretrainHook
from mmseg_al.state import LabelStore, RunDir, StateFileError
from mmseg_al.state.run_file import RunSettingsError
from mmseg_al.state.work_dir_lock import WorkDirLock, WorkDirLockedError
from test_engine.test_runner.test_active_learning_loop import \
    answer_from_ground_truth
from helpers.toy_run import al_train_main, write_toy_config


@pytest.fixture
def toy_cfg(tmp_path, tiny_unet_cfg):
    return write_toy_config(tmp_path / 'toy.py', tmp_path / 'data',
                            tiny_unet_cfg)


def last_log(work_dir):
    with open(sorted(glob.glob(osp.join(work_dir, '*', '*.log')))[-1],
              encoding='utf-8') as file:
        return file.read()


def test_resume_refuses_changes_locks_and_damage(tmp_path, toy_cfg):
    work = str(tmp_path / 'work')
    one_round = ['--cfg-options', 'train_cfg.rounds=1']
    assert al_train_main([toy_cfg, '--work-dir', work, *one_round]) == 0
    resume = [toy_cfg, '--work-dir', work, '--resume']
    # a second run while one holds the work dir
    with WorkDirLock(work):
        with pytest.raises(WorkDirLockedError,
                           match=f'PID {os.getpid()} holds'):
            al_train_main(resume)
    # other settings than the run started with: every key listed
    with pytest.raises(RunSettingsError) as error:
        al_train_main([*resume, '--cfg-options',
                       'train_cfg.budget.pixels=6',
                       'train_cfg.oracle.type=FileOracle'])
    assert ("  train_cfg.budget.pixels: 5 -> 6\n"
            "  train_cfg.oracle.type: 'GroundTruthOracle' -> 'FileOracle'\n"
            ) in str(error.value)
    # an emptied run file
    run_file = RunDir(work).run_file.path
    with open(run_file, 'rb') as file:
        recorded = file.read()
    open(run_file, 'w').close()
    with pytest.raises(RunSettingsError, match=re.escape(
            f'{run_file} is unreadable or not JSON')):
        al_train_main(resume)
    with open(run_file, 'wb') as file:
        file.write(recorded)
    # a deleted latest.json is not a fresh start
    latest = osp.join(work, 'al_state', 'latest.json')
    os.rename(latest, latest + '.bak')
    with pytest.raises(StateFileError, match='rounds \\[0\\] are saved'):
        al_train_main(resume)
    os.rename(latest + '.bak', latest)
    # nothing above changed the run; more rounds need no flag
    assert al_train_main(resume) == 0
    with open(osp.join(work, 'metrics.json'), encoding='utf-8') as file:
        assert [e['labelled_pixels']
                for e in json.load(file)['rounds']] == [5, 10]


def test_resume_needs_a_run_unless_auto(tmp_path, toy_cfg):
    misspelt = str(tmp_path / 'wrok')
    with pytest.raises(FileNotFoundError, match='--resume=auto'):
        al_train_main([toy_cfg, '--work-dir', misspelt, '--resume'])
    assert not osp.exists(RunDir(misspelt).run_file.path)
    assert al_train_main([toy_cfg, '--work-dir', misspelt, '--resume=auto',
                          '--cfg-options', 'train_cfg.rounds=1']) == 0
    assert RunDir(misspelt).latest_labelled_round() == 0


def test_resume_without_a_run_is_refused_before_pretraining(
        tmp_path, tiny_unet_cfg, monkeypatch):
    checkpoint = str(tmp_path / 'pretrained.pt')
    cfg = write_toy_config(
        tmp_path / 'toy.py', tmp_path / 'data', tiny_unet_cfg,
        extra=f"model['backbone']['checkpoint'] = {checkpoint!r}\n"
        f"custom_hooks = [dict(type='DiffusionPretrainHook', "
        f"checkpoint={checkpoint!r})]\n")
    pretrained = []
    monkeypatch.setattr(DiffusionPretrainHook, 'before_run',
                        lambda self, runner: pretrained.append(runner))
    with pytest.raises(FileNotFoundError,
                       match='--resume: there is no run to continue'):
        al_train_main([cfg, '--work-dir', str(tmp_path / 'w'), '--resume'])
    assert pretrained == []


def test_a_truncated_pool_image_stops_the_run_before_round_0(
        tmp_path, toy_cfg):
    write_toy_scenes(str(tmp_path / 'data'), 32, 4, 2, 0)  # as toy_cfg
    image = str(tmp_path / 'data' / 'img_dir' / 'train' / '0002.png')
    with open(image, 'r+b') as file:
        file.truncate(osp.getsize(image) - 12)
    work = str(tmp_path / 'work')
    with pytest.raises(ValueError, match=re.escape(
            f'Image file {image} is truncated or corrupt')):
        al_train_main([toy_cfg, '--work-dir', work])
    assert RunDir(work).latest_labelled_round() is None


@pytest.mark.parametrize('option,message', [
    ('train_cfg.rounds=2.5',
     'train_cfg.rounds must be an integer >= 1, got 2.5'),
    ('train_cfg.budget.pixels=None train_cfg.budget.per_image=abc',
     "train_cfg.budget.per_image must be a number of pixels per pool image, "
     "got 'abc'"),
])
def test_non_numbers_in_the_schedule_name_the_key(tmp_path, toy_cfg, option,
                                                  message):
    with pytest.raises(ValueError, match=re.escape(message)):
        al_train_main([toy_cfg, '--work-dir', str(tmp_path / 'w'),
                       '--cfg-options', *option.split()])


def test_a_budget_beyond_the_pool_is_an_error(tmp_path, toy_cfg):
    work = str(tmp_path / 'work')
    with pytest.raises(ValueError) as error:
        al_train_main([toy_cfg, '--work-dir', work, '--cfg-options',
                       'train_cfg.budget.pixels=200000'])
    # 4 images x local_budget 4
    assert str(error.value).startswith(
        'Round 0: the selector found only 16 candidate pixels for a budget '
        'of 200000 per round (nothing was labelled).')
    assert RunDir(work).latest_labelled_round() is None


def test_truncated_pending_selection_says_how_to_recover(tmp_path):
    pending = RunDir(tmp_path).queries(2)
    pending.save(['a'], np.array([3]), np.array([0.5]))
    with open(pending.selection_file, 'r+b') as file:
        file.truncate(40)
    with pytest.raises(ValueError) as error:
        pending.load()
    assert str(error.value).startswith(
        f'{pending.selection_file}: unreadable pending selection of round '
        '2 (BadZipFile: ')
    assert str(error.value).endswith(
        'Delete it to select this round again (the same pixels are chosen); '
        f'{pending.query_file} is then written again, blank, so move it '
        'aside first if it holds labels.')


@pytest.mark.parametrize('image_ids,pixels,problem', [
    (['a', 'b'], [4, 16], "not a selection of this run: 1 bad record(s), "
     "nothing was labelled:\n  image 'b' pixel 16: outside its 4x4 grid "
     "(valid 0..15)"),
    (['a', 'c'], [4, 5], "not a selection of this run: unknown image id(s) "
     "['c']: not among the 2 images of this store (ids look like 'a'); "
     "nothing was labelled"),
    (['a', 'b'], [3, 0], "not a selection of this run: 1 bad record(s), "
     "nothing was labelled:\n  image 'a' pixel 3 (x=3, y=0): already "
     "labelled (class 1, round 0)"),
    (['a'], [5], '1 pixels are pending, but round 1 labels 2 '
     '(train_cfg.budget)'),
])
def test_crafted_pending_selection_is_refused_naming_it(
        tmp_path, image_ids, pixels, problem):
    store = LabelStore(['a', 'b'], [(4, 4), (4, 4)], num_classes=2)
    store.add('a', [3], [1], round_idx=0)
    pending = RunDir(tmp_path).queries(1)
    pending.save(image_ids, np.array(pixels), np.zeros(len(pixels)))
    with pytest.raises(ValueError) as error:
        pending.load(store, budget=2)
    assert str(error.value) == (
        f'{pending.selection_file}: {problem}. Delete it to select this '
        f'round again (the same pixels are chosen); {pending.query_file} is '
        'then written again, blank, so move it aside first if it holds '
        'labels.')
    assert store.num_labelled == 1


def test_a_run_refuses_a_pending_selection_short_of_its_budget(
        tmp_path, tiny_unet_cfg):
    cfg = write_toy_config(
        tmp_path / 'toy.py', tmp_path / 'data', tiny_unet_cfg,
        extra="train_cfg.update(oracle=dict(type='FileOracle'))\n")
    work = str(tmp_path / 'work')
    assert al_train_main([cfg, '--work-dir', work]) == 3
    pending = RunDir(work).queries(0)
    image_ids, pixels, scores = pending.load()
    pending.save(image_ids[:3], pixels[:3], scores[:3])
    answer_from_ground_truth(pending.query_file,
                             str(tmp_path / 'data' / 'ann_dir' / 'train'))
    with pytest.raises(ValueError, match=re.escape(
            f'{pending.selection_file}: 3 pixels are pending, but round 0 '
            'labels 5 (train_cfg.budget). Delete it')):
        al_train_main([cfg, '--work-dir', work, '--resume'])
    assert RunDir(work).latest_labelled_round() is None


def test_query_files_lost_or_edited_after_import(tmp_path, tiny_unet_cfg):
    cfg = write_toy_config(
        tmp_path / 'toy.py', tmp_path / 'data', tiny_unet_cfg,
        extra="train_cfg.update(oracle=dict(type='FileOracle'))\n")
    work = str(tmp_path / 'work')
    ann_dir = str(tmp_path / 'data' / 'ann_dir' / 'train')
    query_file = osp.join(work, 'queries', 'round_00.json')
    assert al_train_main([cfg, '--work-dir', work]) == 3
    with open(query_file, 'rb') as file:
        asked = file.read()
    # deleted before it was answered: written again from the selection,
    # and a CSV of answers beside it is said to be ignored
    os.remove(query_file)
    csv_file = query_file[:-len('.json')] + '.csv'
    open(csv_file, 'w').close()
    assert al_train_main([cfg, '--work-dir', work, '--resume']) == 3
    with open(query_file, 'rb') as file:
        assert file.read() == asked
    assert 'round_00.json was missing: written again from the saved ' \
        'selection' in last_log(work)
    assert f'{csv_file} is not read: the run reads the answers from ' \
        f'{query_file} only.' in last_log(work)
    answer_from_ground_truth(query_file, ann_dir)
    assert al_train_main([cfg, '--work-dir', work, '--resume']) == 3
    assert 'edited after its labels were imported' not in last_log(work)
    # edited after its import: the edit is ignored, and the run says so
    rows = json.loads(open(query_file, encoding='utf-8').read())
    rows[0]['class'] = (rows[0]['class'] + 1) % 6
    with open(query_file, 'w', encoding='utf-8') as file:
        json.dump(rows, file)
    assert al_train_main([cfg, '--work-dir', work, '--resume']) == 3
    assert (f'{query_file} was edited after its labels were imported; the '
            'run keeps the labels as imported and ignores the edit.'
            ) in last_log(work)
