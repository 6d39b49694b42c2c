"""tools/al_train.py: configuration from the command line, and the errors it
gives before any heavy work."""
import importlib.util
import os
import os.path as osp

import pytest

from tools import al_train

REPO = osp.dirname(osp.dirname(osp.abspath(al_train.__file__)))
CAMVID = osp.join(REPO, 'configs', 'edald', 'camvid.py')
TOY = osp.join(REPO, 'configs', 'edald', 'toy.py')


def test_build_config_applies_the_command_line():
    cfg = al_train.build_config(al_train.parse_args([
        CAMVID, '--seed', '7', '--deterministic', '--resume',
        '--cfg-options', 'train_cfg.rounds=3']))
    assert cfg.work_dir == osp.join('./work_dirs', 'camvid')
    assert cfg.randomness == dict(seed=7, deterministic=True)
    assert cfg.resume is True and cfg.train_cfg.rounds == 3
    assert cfg.launcher == 'none'
    cfg = al_train.build_config(al_train.parse_args(
        [CAMVID, '--work-dir', 'elsewhere']))
    assert cfg.work_dir == 'elsewhere' and cfg.resume is False
    assert cfg.randomness == dict(seed=0)


def test_resume_modes_and_allowed_config_change():
    def parsed(*argv):
        cfg = al_train.build_config(al_train.parse_args([CAMVID, *argv]))
        return cfg.resume, cfg.allow_config_change

    assert parsed() == (False, False)
    assert parsed('--resume') == (True, False)
    assert parsed('--resume=auto', '--allow-config-change') == ('auto', True)
    with pytest.raises(SystemExit):
        al_train.parse_args([CAMVID, '--resume=yes'])


def test_lock_is_taken_by_rank_0_of_a_launch_only(monkeypatch):
    monkeypatch.setenv('RANK', '1')
    monkeypatch.setenv('SLURM_PROCID', '2')
    assert al_train.launch_rank('none') == 0
    assert al_train.launch_rank('pytorch') == 1
    assert al_train.launch_rank('slurm') == 2


@pytest.mark.parametrize('given,expected', [(None, 'PASSIVE'),
                                            ('ACTIVE', 'ACTIVE')])
def test_openmp_threads_sleep_unless_told_otherwise(monkeypatch, given,
                                                    expected):
    """Set before torch loads (a fresh process); an explicit value wins."""
    if given is None:
        monkeypatch.delenv('OMP_WAIT_POLICY', raising=False)
    else:
        monkeypatch.setenv('OMP_WAIT_POLICY', given)
    spec = importlib.util.spec_from_file_location('al_train_fresh',
                                                  al_train.__file__)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert os.environ['OMP_WAIT_POLICY'] == expected


def test_tensorboard_backend_only_when_installed(monkeypatch):
    cfg = al_train.build_config(al_train.parse_args([CAMVID]))
    types = [b['type'] for b in cfg.visualizer.vis_backends]
    assert types[0] == 'LocalVisBackend'
    installed = al_train.importlib.util.find_spec('tensorboard') is not None
    assert ('TensorboardVisBackend' in types) == installed
    monkeypatch.setattr(al_train.importlib.util, 'find_spec',
                        lambda name: object())
    al_train.add_tensorboard_backend(cfg)
    al_train.add_tensorboard_backend(cfg)
    types = [b['type'] for b in cfg.visualizer.vis_backends]
    assert types.count('TensorboardVisBackend') == 1


def test_missing_data_root_names_the_converter(tmp_path):
    missing = str(tmp_path / 'camvid')
    with pytest.raises(FileNotFoundError) as error:
        al_train.main([CAMVID, '--work-dir', str(tmp_path / 'w'),
                       '--cfg-options',
                       f'train_dataloader.dataset.dataset.data_root={missing}'
                       ])
    message = str(error.value)
    assert osp.join(missing, 'img_dir/train') in message
    assert 'tools/dataset_converters/camvid.py' in message
    assert not (tmp_path / 'w').exists()  # failed before the runner


def test_missing_checkpoint_names_download_and_place(tmp_path):
    root = tmp_path / 'camvid'
    for split in ('train', 'test'):
        os.makedirs(root / 'img_dir' / split)
    checkpoint = tmp_path / 'ckpt' / '256x256_diffusion_uncond.pt'
    options = [f'train_dataloader.dataset.dataset.data_root={root}',
               f'val_dataloader.dataset.data_root={root}',
               f'model.backbone.checkpoint={checkpoint}']
    with pytest.raises(FileNotFoundError) as error:
        al_train.main([CAMVID, '--cfg-options', *options])
    message = str(error.value)
    assert str(checkpoint) in message
    assert 'https://openaipublic.blob.core.windows.net/diffusion/jul-2021/' \
        '256x256_diffusion_uncond.pt' in message
    # present: no complaint
    os.makedirs(checkpoint.parent)
    checkpoint.write_bytes(b'')
    al_train.check_inputs(al_train.build_config(al_train.parse_args(
        [CAMVID, '--cfg-options', *options])))


def test_generated_data_and_hook_made_checkpoint_pass(tmp_path):
    cfg = al_train.build_config(al_train.parse_args([
        TOY, '--cfg-options',
        f'train_dataloader.dataset.dataset.data_root={tmp_path}/toy']))
    al_train.check_inputs(cfg)  # ToyScenes and DiffusionPretrainHook
    cfg.custom_hooks = []
    cfg.model.backbone.checkpoint = str(tmp_path / 'none.pt')
    with pytest.raises(FileNotFoundError, match='tools/pretrain_ddpm.py'):
        al_train.check_inputs(cfg)


def test_missing_config_file():
    with pytest.raises(FileNotFoundError, match='nowhere.py'):
        al_train.main(['configs/nowhere.py'])


def test_work_dir_and_lock_of_the_wrong_type_are_named(tmp_path):
    """Refused before the runner is built, with the path and the fix."""
    argv = [TOY, '--cfg-options',
            f'train_dataloader.dataset.dataset.data_root={tmp_path}/toy']
    a_file = tmp_path / 'work.txt'
    a_file.write_text('notes')
    with pytest.raises(NotADirectoryError) as error:
        al_train.main([*argv, '--work-dir', str(a_file)])
    assert str(error.value) == (f'{a_file} is a file, not a work directory; '
                                'choose another --work-dir')
    lock = tmp_path / 'work' / 'al_run.lock'
    lock.mkdir(parents=True)
    with pytest.raises(IsADirectoryError) as error:
        al_train.main([*argv, '--work-dir', str(tmp_path / 'work')])
    assert str(error.value) == (
        f"{lock} is a directory where the run's lock file belongs; move it "
        'away (the run creates the file)')
    assert os.listdir(tmp_path / 'work') == ['al_run.lock']
