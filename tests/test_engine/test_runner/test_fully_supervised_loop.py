"""FullySupervisedLoop through tools/al_train.py: one head trained on every
non-void ground-truth pixel of the pool, streamed image group by image
group, then evaluated into metrics.json."""
import glob
import json
import os.path as osp
import textwrap

import cv2
import numpy as np
import pytest
import torch

from mmseg_al.datasets.toy_scenes import TOY_SCENES_CLASSES
from mmseg_al.engine.training.ground_truth_pixels import ImageGroupSampler
from helpers.toy_run import al_train_main, write_toy_config


def test_the_head_learns_from_every_ground_truth_pixel(tmp_path,
                                                       tiny_unet_cfg):
    cfg = write_toy_config(
        tmp_path / 'toy.py', tmp_path / 'data', tiny_unet_cfg,
        extra=textwrap.dedent('''\
            model.update(decode_head=dict(
                type='PixelMLPEnsembleHead', num_classes=6, num_models=2))
            train_cfg = dict(
                _delete_=True, type='FullySupervisedLoop',
                images_per_group=3, feature_batch_size=2, seed=3,
                head_training=dict(max_epochs=2, patience=10**6))
            default_hooks = dict(checkpoint=dict(interval=1))
            '''))
    work = str(tmp_path / 'work')
    assert al_train_main([cfg, '--work-dir', work]) == 0
    checkpoint = torch.load(osp.join(work, 'epoch_1.pth'),
                            weights_only=False)
    assert checkpoint['meta']['dataset_meta']['classes'] == \
        TOY_SCENES_CLASSES

    labels = [cv2.imread(p, cv2.IMREAD_UNCHANGED) for p in sorted(
        glob.glob(str(tmp_path / 'data' / 'ann_dir' / 'train' / '*.png')))]
    counts = [int(np.count_nonzero(label != 255)) for label in labels]
    assert len(counts) == 4 and 0 < sum(counts) <= 4 * 32 * 32
    with open(osp.join(work, 'metrics.json'), encoding='utf-8') as file:
        entry, = json.load(file)['rounds']
    assert (entry['round'], entry['labelled_pixels']) == (0, sum(counts))
    assert entry['mIoU'] is not None and 'train' in entry['seconds']
    assert osp.isfile(osp.join(work, 'curve.png'))

    sampler = ImageGroupSampler(counts, 3, 64, seed=3)
    iterations = len(sampler)
    sampler.set_epoch(1)
    iterations += len(sampler)
    log_file, = glob.glob(osp.join(work, '*', '*.log'))
    with open(log_file, encoding='utf-8') as file:
        assert (f'Head trained on all {sum(counts)} ground-truth pixels of '
                f'4 images, 2 epochs / {iterations} iterations'
                ) in file.read()


def test_several_processes_are_refused(tmp_path, tiny_unet_cfg, monkeypatch):
    monkeypatch.setattr(
        'mmseg_al.engine.runner.fully_supervised_loop.get_world_size',
        lambda: 2)
    cfg = write_toy_config(
        tmp_path / 'toy.py', tmp_path / 'data', tiny_unet_cfg,
        extra="train_cfg = dict(_delete_=True, type='FullySupervisedLoop')\n")
    with pytest.raises(RuntimeError, match=r'FullySupervisedLoop is not '
                       r'sharded, and 2 processes would each train the whole '
                       r'head: run it in one process'):
        al_train_main([cfg, '--work-dir', str(tmp_path / 'work')])
