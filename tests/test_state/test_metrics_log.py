import json
import math
import os

import pytest
from mmseg_al.engine.hooks.learning_curve_hook import plot_learning_curve
from mmseg_al.state import RunDir


def test_record_load_and_truncate(tmp_path):
    log = RunDir(tmp_path).metrics
    for r in range(3):
        log.record(r, 5 * (r + 1), 10.0 + r + 0.004,
                   {'sky': 20.0, 'road': math.nan}, {'train': 1.23456})
    log.save()
    with open(tmp_path / 'metrics.json') as file:
        saved = json.load(file)
    assert saved['rounds'][1] == {
        'round': 1, 'labelled_pixels': 10, 'mIoU': 11.0,
        'per_class_IoU': {'sky': 20.0, 'road': None},
        'seconds': {'train': 1.235}}
    # labels saved only up to round 1: round 2's entry is recomputed
    resumed = RunDir(tmp_path).metrics.load(last_round=1)
    assert [e['round'] for e in resumed.entries] == [0, 1]
    assert resumed.entry(2) is None and resumed.entry(1)['mIoU'] == 11.0
    assert resumed.table().splitlines() == [
        'round  labelled pixels    mIoU', '    0                5   10.00',
        '    1               10   11.00']


def test_unreadable_metrics_file_names_itself(tmp_path):
    for text in ('{"rows": []}', '{"rounds": [{"mIoU": 1}]}', '[1, 2'):
        (tmp_path / 'metrics.json').write_text(text)
        with pytest.raises(ValueError, match='metrics.json is not a metrics'):
            RunDir(tmp_path).metrics.load(last_round=0)


def test_curve_is_written(tmp_path):
    entries = [dict(labelled_pixels=5, mIoU=10.0),
               dict(labelled_pixels=10, mIoU=None)]
    path = plot_learning_curve(entries, str(tmp_path / 'curve.png'), 'toy')
    with open(path, 'rb') as file:
        assert file.read(8) == b'\x89PNG\r\n\x1a\n'


def test_curve_replaces_the_file_atomically(tmp_path, monkeypatch):
    path = tmp_path / 'curve.png'
    path.write_bytes(b'old')

    def fail(*args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', fail)
    with pytest.raises(OSError, match='disk full'):
        plot_learning_curve([dict(labelled_pixels=5, mIoU=1.0)], str(path))
    assert path.read_bytes() == b'old'
    assert sorted(os.listdir(tmp_path)) == ['curve.png']
