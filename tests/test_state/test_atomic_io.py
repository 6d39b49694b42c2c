"""Atomic writes leave either the old file or the new one, and no debris."""
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from mmseg_al.state import atomic_io
from mmseg_al.state.atomic_io import (atomic_open, atomic_write_bytes,
                                      atomic_write_json, atomic_write_text)


def test_writes_bytes_text_and_json_and_leaves_no_temporary_files(tmp_path):
    atomic_write_bytes(tmp_path / 'a.bin', b'\x00\x01')
    atomic_write_text(tmp_path / 'b.txt', 'héllo')
    atomic_write_json(tmp_path / 'c.json', {'round': 3, 'miou': [0.5]})

    assert (tmp_path / 'a.bin').read_bytes() == b'\x00\x01'
    assert (tmp_path / 'b.txt').read_bytes() == 'héllo'.encode('utf-8')
    text = (tmp_path / 'c.json').read_text()
    assert json.loads(text) == {'round': 3, 'miou': [0.5]}
    assert text.endswith('\n')
    assert sorted(os.listdir(tmp_path)) == ['a.bin', 'b.txt', 'c.json']


def test_creates_missing_parent_directories(tmp_path):
    atomic_write_text(tmp_path / 'x' / 'y' / 'z.txt', 'ok')
    assert (tmp_path / 'x' / 'y' / 'z.txt').read_text() == 'ok'


def test_permissions_follow_the_umask_like_a_plain_open(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / 'f.txt', 'x')
    finally:
        os.umask(old)
    assert (tmp_path / 'f.txt').stat().st_mode & 0o777 == 0o644


def test_exception_inside_the_block_keeps_the_old_file(tmp_path):
    target = tmp_path / 'metrics.json'
    target.write_text('old')
    with pytest.raises(RuntimeError, match='disk full'):
        with atomic_open(target, 'w') as file:
            file.write('half of the new')
            raise RuntimeError('disk full')
    assert target.read_text() == 'old'
    assert os.listdir(tmp_path) == ['metrics.json']


def test_failing_rename_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / 'metrics.json'
    target.write_text('old')

    def broken_replace(src, dst):
        raise OSError('rename interrupted')

    monkeypatch.setattr(atomic_io.os, 'replace', broken_replace)
    with pytest.raises(OSError, match='rename interrupted'):
        atomic_write_text(target, 'new')
    assert target.read_text() == 'old'
    assert os.listdir(tmp_path) == ['metrics.json']


#: Writes 64 KiB atomically under a 1 KiB file size limit, as on a full
#: disk (loads only the atomic_io module: starts fast).
FULL_DISK = textwrap.dedent('''
    import importlib.util, resource, signal, sys
    spec = importlib.util.spec_from_file_location('atomic_io', sys.argv[2])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.RLIM_INFINITY))
    try:
        module.atomic_write_bytes(sys.argv[1], bytes(65536))
    except OSError as exc:
        print(exc)
''')


def test_a_full_disk_error_names_the_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / 'round_00' / 'overlay.png'
    target.parent.mkdir()
    target.write_bytes(b'old')
    found = subprocess.run(
        [sys.executable, '-c', FULL_DISK, str(target), atomic_io.__file__],
        capture_output=True, text=True, check=True).stdout
    assert found == f"[Errno 27] File too large: '{target}'\n"
    assert target.read_bytes() == b'old'
    assert os.listdir(target.parent) == ['overlay.png']


@pytest.mark.parametrize('mode', ['a', 'r+', 'rb', 'w+'])
def test_refuses_modes_that_do_not_write_a_whole_file(tmp_path, mode):
    with pytest.raises(ValueError, match=re.escape(f"got '{mode}'")):
        with atomic_open(tmp_path / 'f', mode):
            pass
    assert os.listdir(tmp_path) == []
