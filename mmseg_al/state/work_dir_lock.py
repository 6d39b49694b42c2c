"""One run per work dir: an exclusive OS lock held for the run's lifetime.

Two runs in one work dir overwrite each other's labels and metrics, and two
annotators each other's answers (the annotation tools take this lock while
they write a pending round's answers). The lock is ``fcntl.flock`` on
``work_dir/al_run.lock``: the OS releases it when the process ends, however
it ends, so a killed run never leaves a stale lock behind. The holder writes
its PID into the file so that a refused process can name it.
"""
import errno
import fcntl
import os
from typing import Optional, Union

from .run_dir import RunDir


class WorkDirLockedError(RuntimeError):
    """Another live process holds the work dir."""


class WorkDirLock:
    """Exclusive lock of a work dir, as a context manager.

    Args:
        work_dir: the run's work directory (created if missing).
    """

    def __init__(self, work_dir: Union[str, 'os.PathLike[str]']) -> None:
        self.work_dir = os.fspath(work_dir)
        self.path = RunDir(self.work_dir).lock_file
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        """Take the lock at once, or fail.

        Raises:
            WorkDirLockedError: naming the PID that holds it.
            NotADirectoryError: the work dir is a file.
            IsADirectoryError: the lock file is a directory.
        """
        if os.path.exists(self.work_dir) and not os.path.isdir(self.work_dir):
            raise NotADirectoryError(
                f'{self.work_dir} is a file, not a work directory; choose '
                'another --work-dir')
        os.makedirs(self.work_dir, exist_ok=True)
        if os.path.isdir(self.path):
            raise IsADirectoryError(
                f"{self.path} is a directory where the run's lock file "
                'belongs; move it away (the run creates the file)')
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 32, 0).decode('ascii', 'replace').strip()
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            raise WorkDirLockedError(
                f'{self.work_dir} is in use by another run or annotator (PID '
                f'{holder or "unknown"} holds {self.path}). Wait for it to '
                'finish or stop it, or choose another --work-dir.') from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f'{os.getpid()}\n'.encode('ascii'), 0)
        self._fd = fd

    def release(self) -> None:
        """Let the next run in (the file stays; only the lock matters)."""
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> 'WorkDirLock':
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()
