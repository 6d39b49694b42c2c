"""Whole runs under torchrun (gloo, 2 CPU processes): the same labels,
scores and per-round mIoU as one process, and a dead rank fails the run,
which then resumes to the same end."""
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from helpers.toy_run import REPO, al_train_main, outcomes, write_toy_config

#: Kills one rank in its first head-training step of a round, once (the
#: round's labels are saved, its head and evaluation are not done).
KILLER = textwrap.dedent('''\
    import os
    import signal

    from mmengine.hooks import Hook
    from mmseg.registry import HOOKS


    @HOOKS.register_module()
    class KillRankHook(Hook):

        def __init__(self, rank, round_idx, marker):
            self.rank, self.round_idx, self.marker = rank, round_idx, marker

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if (runner.rank, runner.epoch) != (self.rank, self.round_idx) \\
                    or os.path.exists(self.marker):
                return
            open(self.marker, 'w').close()
            os.kill(os.getpid(), signal.SIGKILL)
    ''')


def torchrun(config, work_dir, *args, pythonpath=(), timeout=600):
    """``tools/al_train.py`` on 2 gloo ranks; the finished process.

    A dead rank is noticed by torchrun, which stops the other at once; the
    collective timeout is only the backstop, and generous, because on a
    loaded machine one rank may work alone for a while (rank 0's global
    steps) while the other waits.
    """
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([REPO, *pythonpath]))
    command = [
        sys.executable, '-m', 'torch.distributed.run', '--standalone',
        '--nproc_per_node', '2', osp.join(REPO, 'tools', 'al_train.py'),
        config, '--launcher', 'pytorch', '--work-dir', str(work_dir), *args,
        '--cfg-options', 'env_cfg.dist_cfg.backend=gloo',
        'env_cfg.dist_cfg.timeout=300'
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=timeout)


def outcome(work_dir, rounds=2):
    """The saved labels of ``rounds`` rounds, and metrics without timings."""
    states = []
    for round_idx in range(rounds):
        data = np.load(osp.join(work_dir, 'al_state',
                                f'round_{round_idx:02d}.npz'))
        states.append({key: data[key].tolist() for key in data.files})
    with open(osp.join(work_dir, 'metrics.json'), encoding='utf-8') as file:
        rounds = json.load(file)['rounds']
    return states, outcomes(rounds)


@pytest.fixture
def toy_config(tmp_path, tiny_unet_cfg):
    return write_toy_config(tmp_path / 'toy.py', tmp_path / 'data',
                            tiny_unet_cfg)


def test_two_ranks_give_the_run_of_one(tmp_path, toy_config):
    assert al_train_main([toy_config, '--work-dir',
                          str(tmp_path / 'one')]) == 0
    run = torchrun(toy_config, tmp_path / 'two')
    assert run.returncode == 0, run.stderr[-3000:]
    one, two = outcome(tmp_path / 'one'), outcome(tmp_path / 'two')
    assert two == one


def test_a_dead_rank_fails_the_run_and_resume_finishes_it(tmp_path,
                                                          toy_config):
    reference = tmp_path / 'one'
    assert al_train_main([toy_config, '--work-dir', str(reference)]) == 0
    (tmp_path / 'killer.py').write_text(KILLER)
    marker = tmp_path / 'killed'
    with open(toy_config, 'a', encoding='utf-8') as file:
        file.write(
            "custom_imports = dict(imports=['mmseg_al', 'killer'], "
            'allow_failed_imports=False)\n'
            f"custom_hooks = [dict(type='KillRankHook', rank=1, round_idx=1, "
            f'marker={str(marker)!r})]\n')
    work = tmp_path / 'two'
    killed = torchrun(toy_config, work, pythonpath=[str(tmp_path)])
    assert killed.returncode != 0
    assert marker.exists() and 'SIGKILL' in killed.stderr
    assert len(outcome(work, rounds=2)[1]) == 1  # round 1 not evaluated
    resumed = torchrun(toy_config, work, '--resume',
                       pythonpath=[str(tmp_path)])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert outcome(work) == outcome(reference)
