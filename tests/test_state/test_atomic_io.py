"""Atomic writes leave either the old file or the new one, and no debris."""
import json
import os
import re

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


@pytest.mark.parametrize('mode', ['a', 'r+', 'rb', 'w+'])
def test_refuses_modes_that_do_not_write_a_whole_file(tmp_path, mode):
    with pytest.raises(ValueError, match=re.escape(f"got '{mode}'")):
        with atomic_open(tmp_path / 'f', mode):
            pass
    assert os.listdir(tmp_path) == []
