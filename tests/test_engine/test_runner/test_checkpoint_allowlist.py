"""mmengine checkpoints load under torch.load's weights_only=True default."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmseg_al.engine.runner.checkpoint_allowlist import (
    history_buffer_statistic, mmengine_checkpoints_allowed)


class TinyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs))
        return dict(loss=out.pow(2).mean()) if mode == 'loss' else [out]


class ConstantMetric(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        return dict(score=np.float64(0.5))  # a numpy scalar in the meta


def run_tiny_job(work_dir, resume=False, epochs=2):
    data = [dict(inputs=torch.full((2, ), float(i))) for i in range(4)]
    loader = dict(
        dataset=data, batch_size=2, collate_fn=dict(type='pseudo_collate'),
        sampler=dict(type='DefaultSampler', shuffle=False))
    runner = Runner(
        model=TinyModel(), work_dir=str(work_dir), train_dataloader=loader,
        val_dataloader=loader, val_evaluator=dict(type=ConstantMetric),
        val_cfg=dict(), train_cfg=dict(by_epoch=True, max_epochs=epochs),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-3)),
        param_scheduler=dict(type='CosineAnnealingLR', T_max=2,
                             by_epoch=True),
        default_hooks=dict(checkpoint=dict(
            type='CheckpointHook', interval=1, save_best='score',
            rule='greater')),
        randomness=dict(seed=0), resume=resume,
        experiment_name=f'job{len(os.listdir(work_dir))}')
    runner.train()
    return runner


def test_runner_checkpoint_loads_with_weights_only(tmp_path):
    run_tiny_job(tmp_path)
    path = tmp_path / 'epoch_2.pth'
    with mmengine_checkpoints_allowed():
        checkpoint = torch.load(path, weights_only=True)
        buffer = checkpoint['message_hub']['log_scalars']['train/lr']
        assert isinstance(buffer, HistoryBuffer)
        assert buffer.mean() == pytest.approx(buffer.data[0].mean())
        assert checkpoint['meta']['epoch'] == 2
        # nothing in the file is outside the allow-list...
        assert torch.serialization.get_unsafe_globals_in_checkpoint(
            path) == []
    # ...which is needed, and applies only inside the context: the safe
    # loader refuses the file outside it, even with mmseg_al imported
    plain_load = subprocess.run(
        [sys.executable, '-c',
         f'import torch, mmseg_al; torch.load({str(path)!r})'],
        capture_output=True, text=True)
    assert plain_load.returncode != 0
    assert 'HistoryBuffer' in plain_load.stderr

    # runner.resume goes through mmengine's own torch.load call
    with mmengine_checkpoints_allowed():
        resumed = run_tiny_job(tmp_path, resume=True, epochs=3)
    assert resumed.epoch == 3


def test_getattr_stand_in_only_resolves_statistics():
    assert history_buffer_statistic(HistoryBuffer, 'mean') is \
        HistoryBuffer.mean
    with pytest.raises(RuntimeError, match='Refusing getattr'):
        history_buffer_statistic(HistoryBuffer, '__init__')
    with pytest.raises(RuntimeError, match='Refusing getattr'):
        history_buffer_statistic(os, 'system')


class ReachesBeyondStatistics:
    """Pickles as ``getattr(HistoryBuffer, '__init__')``."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_a_crafted_getattr_in_a_file_is_refused(tmp_path):
    path = tmp_path / 'crafted.pth'
    torch.save({'meta': ReachesBeyondStatistics()}, path)
    with mmengine_checkpoints_allowed(), \
            pytest.raises(Exception, match='Refusing getattr'):
        torch.load(path, weights_only=True)
    torch.save({'meta': os.system}, path)
    with mmengine_checkpoints_allowed(), \
            pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
