"""WorkDirLock: one run per work dir, released however the holder ends."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from mmseg_al.state import RunDir
from mmseg_al.state.work_dir_lock import WorkDirLock, WorkDirLockedError

#: Holds the lock until killed (loads only the lock module: starts fast).
HOLD = textwrap.dedent('''
    import sys, time
    from mmseg_al.state.work_dir_lock import WorkDirLock
    lock = WorkDirLock(sys.argv[1])
    lock.acquire()
    print('locked', flush=True)
    time.sleep(600)
''')


def test_second_lock_fails_at_once_naming_the_holder(tmp_path):
    work = tmp_path / 'new' / 'work'
    with WorkDirLock(work) as held:
        assert (work / RunDir.LOCK_FILE).read_text() == f'{os.getpid()}\n'
        with pytest.raises(WorkDirLockedError) as error:
            WorkDirLock(work).acquire()
        assert str(error.value) == (
            f'{work} is in use by another run or annotator (PID '
            f'{os.getpid()} holds {work / RunDir.LOCK_FILE}). Wait for it to '
            'finish or stop it, or choose another --work-dir.')
        assert held.path == str(work / RunDir.LOCK_FILE)
    with WorkDirLock(work):  # released on exit
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, '-c', HOLD, str(tmp_path)],
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
        assert (tmp_path / RunDir.LOCK_FILE).read_text() == f'{os.getpid()}\n'
