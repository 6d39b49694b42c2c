"""LearningCurveHook: curve.png from the curve the loop publishes."""
import os
from types import SimpleNamespace

import pytest
from mmengine.logging import MessageHub

from mmseg_al.engine.hooks import LearningCurveHook
from mmseg_al.engine.hooks.learning_curve_hook import plot_learning_curve


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


def test_the_hook_plots_what_the_loop_published(tmp_path):
    hub = MessageHub.get_instance('learning_curve_hook_test')
    runner = SimpleNamespace(message_hub=hub, work_dir=str(tmp_path))
    LearningCurveHook().after_train_epoch(runner)  # nothing published yet
    assert not (tmp_path / 'curve.png').exists()
    hub.update_info('al/learning_curve',
                    [dict(labelled_pixels=5, mIoU=10.0)])
    LearningCurveHook().after_train_epoch(runner)
    assert (tmp_path / 'curve.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
