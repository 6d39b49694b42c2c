"""Converted output is what the dataset configs read."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS

import mmseg_al  # noqa: F401  (registers the dataset classes)
from tools.dataset_converters import (ade_bed, camvid, cityscapes,
                                      pascal_context)

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs/_base_/datasets'


@pytest.mark.parametrize('converter,raw_fixture,config,eval_split', [
    (camvid, 'camvid_raw', 'camvid.py', 'test'),
    (ade_bed, 'ade_raw', 'ade_bed.py', 'test'),
    (cityscapes, 'cityscapes_raw', 'cityscapes.py', 'val'),
    (pascal_context, 'pascal_raw', 'pascal_context_33.py', 'val')])
def test_dataset_configs_find_every_converted_pair(converter, raw_fixture,
                                                   config, eval_split,
                                                   request, tmp_path):
    raw_root, expected = request.getfixturevalue(raw_fixture)
    out_dir = tmp_path / 'converted'
    converter.convert(raw_root, out_dir)
    cfg = Config.fromfile(CONFIG_DIR / config)
    for split, dataset_cfg in (('train', cfg.train_dataloader.dataset.dataset),
                               (eval_split, cfg.val_dataloader.dataset)):
        with DefaultScope.overwrite_default_scope('mmseg'):
            dataset = DATASETS.build(
                dict(dataset_cfg, data_root=str(out_dir)))
        found = sorted(
            (str(Path(info['img_path']).relative_to(out_dir)),
             str(Path(info['seg_map_path']).relative_to(out_dir)))
            for info in map(dataset.get_data_info, range(len(dataset))))
        # The split is the second path component in every layout.
        assert found == sorted((e.out_image, e.out_label) for e in expected
                               if e.out_image.split('/')[1] == split)
