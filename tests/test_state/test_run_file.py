"""al_run.json: the settings a run started with, and the resume checks."""
import json
import logging

import pytest
from mmengine.config import Config

from mmseg_al.state import LabelStore, RunDir
from mmseg_al.state.run_file import (RunSettingsError, changed_settings,
                                     resolve_budget, run_settings)


def toy_cfg(**train_cfg):
    return Config(dict(
        train_dataloader=dict(dataset=dict(type='PixelSparseDataset',
                                           dataset=dict(type='Toy'))),
        model=dict(backbone=dict(steps=(50, 150))),
        train_cfg=dict(dict(rounds=3, budget=dict(pixels=5),
                            oracle=dict(type='GroundTruthOracle')),
                       **train_cfg),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-3))))


def test_run_settings_are_flat_json_without_free_keys():
    assert run_settings(toy_cfg(), seed=7) == {
        'seed': 7,
        'dataset.type': 'PixelSparseDataset',
        'dataset.dataset.type': 'Toy',
        'model.backbone.steps': [50, 150],
        'train_cfg.budget.pixels': 5,
        'train_cfg.oracle.type': 'GroundTruthOracle',
        'optim_wrapper.optimizer.type': 'Adam',
        'optim_wrapper.optimizer.lr': 1e-3,
        'param_scheduler': None,
    }
    # more rounds: the same settings
    assert run_settings(toy_cfg(rounds=9), 7) == \
        run_settings(toy_cfg(), 7)
    assert changed_settings({'a': 1, 'b': 2}, {'a': 1, 'c': 3}) == [
        ('b', 2, '<unset>'), ('c', '<unset>', 3)]


def test_changed_settings_are_refused_with_every_key_listed(tmp_path):
    run_file = RunDir(tmp_path).run_file
    started = run_settings(toy_cfg(), 0)
    run_file.write(started)
    run_file.check(run_settings(toy_cfg(rounds=10), 0), allow_change=False)
    changed = run_settings(toy_cfg(budget=dict(pixels=30),
                                   oracle=dict(type='FileOracle')), 5)
    with pytest.raises(RunSettingsError) as error:
        run_file.check(changed, allow_change=False)
    assert str(error.value) == (
        f'{tmp_path / RunDir.RUN_FILE}: this run was started with other '
        'settings than the config now gives, so it would choose or label '
        'other pixels than it did so far:\n'
        '  seed: 0 -> 5\n'
        '  train_cfg.budget.pixels: 5 -> 30\n'
        "  train_cfg.oracle.type: 'GroundTruthOracle' -> 'FileOracle'\n"
        'Resume with the settings the run was started with (for the seed: '
        'resume with --seed 0), or pass --allow-config-change to go on with '
        'the new settings on purpose (raising train_cfg.rounds needs no '
        'flag).')
    assert run_file.read() == started
    # on purpose: warned about, and recorded as the run's settings now
    logger = logging.getLogger('run_file_test')
    warnings = []
    logger.warning = warnings.append
    run_file.check(changed, allow_change=True, logger=logger)
    assert run_file.read() == changed
    assert warnings[0].endswith('(--allow-config-change):\n'
                                '  seed: 0 -> 5\n'
                                '  train_cfg.budget.pixels: 5 -> 30\n'
                                "  train_cfg.oracle.type: 'GroundTruthOracle'"
                                " -> 'FileOracle'")


def test_a_seed_only_run_file_is_checked_and_completed(tmp_path):
    (tmp_path / RunDir.RUN_FILE).write_text(json.dumps({'seed': 0}))
    run_file = RunDir(tmp_path).run_file
    with pytest.raises(RunSettingsError, match=r'seed: 0 -> 1\n'):
        run_file.check(run_settings(toy_cfg(), 1), allow_change=False)
    run_file.check(run_settings(toy_cfg(), 0), allow_change=False)
    assert run_file.read() == run_settings(toy_cfg(), 0)


@pytest.mark.parametrize('content', ['', '{"settings": 3}', '\xff'])
def test_unreadable_run_file_names_it_and_the_way_on(tmp_path, content):
    (tmp_path / RunDir.RUN_FILE).write_text(content, encoding='latin-1')
    with pytest.raises(RunSettingsError) as error:
        RunDir(tmp_path).run_file.read()
    message = str(error.value)
    assert message.startswith(str(tmp_path / RunDir.RUN_FILE))
    assert message.endswith(
        'The saved labels are not affected: restore the file, or '
        'delete it and resume with the config the run was started with, '
        'which is then recorded again.')


def test_check_resume(tmp_path):
    work = str(tmp_path)
    run_dir = RunDir(work)
    run_dir.check_resume(False)
    run_dir.check_resume('auto')
    with pytest.raises(FileNotFoundError) as error:
        run_dir.check_resume(True)
    assert str(error.value) == (
        f'--resume: there is no run to continue in {work} (no al_run.json, '
        'no al_state/). Check the --work-dir path, or use --resume=auto to '
        'start a fresh run when there is none.')
    run_dir.run_file.write({'seed': 0})
    run_dir.check_resume(True)
    with pytest.raises(FileExistsError, match=r'\(no labels saved yet\)'):
        run_dir.check_resume(False)
    LabelStore(['a'], [(2, 2)], 2).save(run_dir.state_dir, 2)
    with pytest.raises(FileExistsError, match=r'\(labels up to round 2\)'):
        run_dir.check_resume(False)


def test_resolve_budget():
    assert resolve_budget(dict(per_image=0.1), 367) == 37
    assert resolve_budget(dict(per_image=0.1), 25) == 2  # round(2.5) == 2
    assert resolve_budget(dict(per_image=None, pixels=7), 3) == 7
    with pytest.raises(ValueError, match='exactly one of per_image'):
        resolve_budget(dict(per_image=0.1, pixels=7), 10)
    with pytest.raises(ValueError, match='= 0 pixels per round'):
        resolve_budget(dict(per_image=0.01), 10)
    with pytest.raises(ValueError, match='positive integer'):
        resolve_budget(dict(pixels=0), 10)
