"""WorkDirLock: one run per work dir, released however the holder ends."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from mmseg_al.state import work_dir_lock
from mmseg_al.state.work_dir_lock import (LOCK_FILE, WorkDirLock,
                                          WorkDirLockedError)

#: Holds the lock until killed (loads only the lock module: starts fast).
HOLD = textwrap.dedent('''
    import importlib.util, sys, time
    spec = importlib.util.spec_from_file_location('lock', sys.argv[2])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lock = module.WorkDirLock(sys.argv[1])
    lock.acquire()
    print('locked', flush=True)
    time.sleep(600)
''')


def test_second_lock_fails_at_once_naming_the_holder(tmp_path):
    work = tmp_path / 'new' / 'work'
    with WorkDirLock(work) as held:
        assert (work / LOCK_FILE).read_text() == f'{os.getpid()}\n'
        with pytest.raises(WorkDirLockedError) as error:
            WorkDirLock(work).acquire()
        assert str(error.value) == (
            f'{work} is in use by another run or annotator (PID '
            f'{os.getpid()} holds '
            f'{work / LOCK_FILE}). Wait for it to finish or stop it, or '
            'choose another --work-dir.')
        assert held.path == str(work / LOCK_FILE)
    with WorkDirLock(work):  # released on exit
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLD, str(tmp_path), work_dir_lock.__file__],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == 'locked\n'
        with pytest.raises(WorkDirLockedError,
                           match=f'PID {holder.pid} holds'):
            WorkDirLock(tmp_path).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with WorkDirLock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text() == f'{os.getpid()}\n'
