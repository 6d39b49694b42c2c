"""Crash-safe file writes: readers see the old file or the new one, never half.

A file is written to a temporary sibling in the same directory, flushed and
fsynced, then moved over the target with :func:`os.replace` (atomic on POSIX
and Windows), and finally the directory entry itself is fsynced. A crash or
an exception at any point before the rename leaves the previous file intact
and removes the temporary one; an OS error (a full disk) names the target.
"""
import json
import os
import secrets
from contextlib import contextmanager
from typing import IO, Any, Iterator, Union

PathLike = Union[str, 'os.PathLike[str]']


def _fsync_directory(directory: str) -> None:
    """Persist a rename: fsync the directory that holds the entry."""
    if os.name != 'posix':  # directories cannot be opened for fsync there
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_open(path: PathLike, mode: str = 'wb', **open_kwargs: Any
                ) -> Iterator[IO]:
    """Open ``path`` for writing so that it is replaced atomically on success.

    The parent directory is created if needed. On an exception inside the
    ``with`` block the target is left untouched.

    Args:
        path: the file to (re)write.
        mode: a write mode: ``'wb'``, ``'w'`` or ``'wt'``.
        **open_kwargs: passed to :func:`open` (e.g. ``encoding``,
            ``newline`` in text mode).

    Yields:
        The open temporary file.
    """
    if mode not in ('wb', 'w', 'wt'):
        raise ValueError(f'atomic_open writes whole files: mode must be '
                         f"'wb', 'w' or 'wt', got {mode!r}")
    path = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(path)
    os.makedirs(directory, exist_ok=True)
    tmp_path = os.path.join(
        directory, f'.{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp')
    # 0o666 lets the umask decide the permissions, as for a normal open().
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_path, path)
    except BaseException as exc:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        if isinstance(exc, OSError) and exc.errno is not None and \
                exc.filename is None:
            # a full disk fails a write(), whose error names no file
            raise OSError(exc.errno, exc.strerror, path) from exc
        raise
    _fsync_directory(directory)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Replace ``path`` atomically with ``data``."""
    with atomic_open(path, 'wb') as file:
        file.write(data)


def atomic_write_text(path: PathLike, text: str,
                      encoding: str = 'utf-8') -> None:
    """Replace ``path`` atomically with ``text``."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: PathLike, obj: Any, indent: int = 2) -> None:
    """Replace ``path`` atomically with ``obj`` as JSON (trailing newline).

    Args:
        path: the ``.json`` file to (re)write.
        obj: anything :func:`json.dumps` accepts. Non-finite floats are
            written as ``NaN``/``Infinity`` (Python reads them back; strict
            JSON parsers do not, so store ``None`` where that matters).
        indent: indentation, for files people read.
    """
    atomic_write_text(path, json.dumps(obj, indent=indent) + '\n')
