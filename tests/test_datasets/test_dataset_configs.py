"""The base dataset configs build through mmengine's Config + DATASETS."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine import Config
from mmseg.datasets import CityscapesDataset
from mmseg.registry import DATASETS

from mmseg_al.datasets import (ADEBedDataset, CamVidDataset,
                               PascalContext33Dataset, PixelSparseDataset,
                               ToyScenesDataset)
from .fake_layout import random_labels, write_split

CONFIG_DIR = osp.join(
    osp.dirname(__file__), '..', '..', 'configs', '_base_', 'datasets')


def load(name: str, data_root: str) -> Config:
    """The config with every dataset's data_root moved to ``data_root``."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    for dataset in (cfg.train_dataloader.dataset.dataset,
                    cfg.val_dataloader.dataset, cfg.test_dataloader.dataset):
        dataset.data_root = data_root
    return cfg


def check_common(cfg: Config, pool_type, eval_type, eval_images: int):
    assert cfg.val_evaluator == dict(
        type='PerClassIoUMetric', iou_metrics=['mIoU'])
    assert cfg.test_evaluator == cfg.val_evaluator
    assert [t['type'] for t in cfg.train_dataloader.dataset.dataset.pipeline
            ] == ['LoadImageFromFile', 'LoadAnnotations', 'PackSegInputs']
    pool = DATASETS.build(cfg.train_dataloader.dataset)
    assert isinstance(pool, PixelSparseDataset)
    assert isinstance(pool.dataset, pool_type)
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        evaluation = DATASETS.build(loader.dataset)
        assert type(evaluation) is eval_type
        assert len(evaluation) == eval_images
    return pool


@pytest.mark.parametrize('name, dataset_type, num_classes, eval_split', [
    ('camvid.py', CamVidDataset, 11, 'test'),
    ('ade_bed.py', ADEBedDataset, 30, 'test'),
    ('pascal_context_33.py', PascalContext33Dataset, 33, 'val'),
])
def test_converted_dataset_configs(tmp_path, name, dataset_type, num_classes,
                                   eval_split):
    root = str(tmp_path)
    write_split(root, 'train', ['x.png', 'y.png'], num_classes)
    write_split(root, eval_split, ['z.png'], num_classes)
    pool = check_common(load(name, root), dataset_type, dataset_type, 1)
    assert pool.image_ids == ['x.png', 'y.png']
    assert pool.num_classes == num_classes


def test_cityscapes_config(tmp_path):
    root = str(tmp_path)
    for split, city in (('train', 'aachen'), ('val', 'lindau')):
        stem = f'{city}_000000_000019'
        files = (('leftImg8bit', '_leftImg8bit.png',
                  np.zeros((4, 8, 3), np.uint8)),
                 ('gtFine', '_gtFine_labelTrainIds.png',
                  random_labels(19, (4, 8), 0)))
        for sub, suffix, array in files:
            folder = osp.join(root, sub, split, city)
            os.makedirs(folder, exist_ok=True)
            cv2.imwrite(osp.join(folder, stem + suffix), array)
    pool = check_common(load('cityscapes.py', root), CityscapesDataset,
                        CityscapesDataset, 1)
    assert pool.image_ids == ['aachen/aachen_000000_000019_leftImg8bit.png']
    assert pool.num_classes == 19


def test_toy_scenes_config(tmp_path):
    cfg = load('toy_scenes.py', str(tmp_path / 'toy'))
    for dataset in (cfg.train_dataloader.dataset.dataset,
                    cfg.val_dataloader.dataset):
        dataset.update(num_train=4, num_val=2, image_size=32)
    cfg.test_dataloader = cfg.val_dataloader
    pool = check_common(cfg, ToyScenesDataset, ToyScenesDataset, 2)
    assert pool.image_ids == ['0000.png', '0001.png', '0002.png', '0003.png']
    assert pool.image_shapes == [(32, 32)] * 4
