import os.path as osp

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

from mmseg_al.datasets import (ADEBedDataset, CamVidDataset,
                               ConvertedSegDataset, PascalContext33Dataset)
from mmseg_al.datasets.metainfo import (ADE_BED_PALETTE, CAMVID_PALETTE,
                                        PASCAL_CONTEXT_33_PALETTE)
from .fake_layout import PIPELINE, random_labels, write_pair, write_split


def build(dataset_type: str, root: str, split: str = 'train', **kwargs):
    return DATASETS.build(
        dict(type=dataset_type, data_root=root, pipeline=PIPELINE,
             data_prefix=dict(img_path=f'img_dir/{split}',
                              seg_map_path=f'ann_dir/{split}'), **kwargs))


@pytest.mark.parametrize('cls, num_classes, first, last, palette', [
    (CamVidDataset, 11, 'sky', 'bicyclist', CAMVID_PALETTE),
    (ADEBedDataset, 30, 'wall', 'television', ADE_BED_PALETTE),
    (PascalContext33Dataset, 33, 'aeroplane', 'ceiling',
     PASCAL_CONTEXT_33_PALETTE),
])
def test_metainfo(tmp_path, cls, num_classes, first, last, palette):
    write_split(str(tmp_path), 'train', ['a.png'], num_classes)
    dataset = build(cls.__name__, str(tmp_path))
    classes = dataset.metainfo['classes']
    assert (len(classes), classes[0], classes[-1]) == (num_classes, first,
                                                       last)
    assert len(set(classes)) == num_classes
    assert [tuple(c) for c in dataset.metainfo['palette']] == list(palette)
    assert dataset.ignore_index == 255 and not dataset.reduce_zero_label
    assert (dataset.img_suffix, dataset.seg_map_suffix) == ('.png', '.png')


def test_loads_pairs_in_name_order(tmp_path):
    write_split(str(tmp_path), 'train', ['b.png', 'a.png'], 11)
    dataset = build('CamVidDataset', str(tmp_path))
    assert [osp.basename(dataset.get_data_info(i)['img_path'])
            for i in range(len(dataset))] == ['a.png', 'b.png']
    sample = dataset[1]
    expected = random_labels(11, (8, 12), seed=0)  # b.png was written first
    assert np.array_equal(sample['data_samples'].gt_sem_seg.data[0].numpy(),
                          expected)
    assert tuple(sample['inputs'].shape) == (3, 8, 12)


def test_empty_dataset_names_directory_and_converter(tmp_path):
    root = str(tmp_path / 'camvid')
    with pytest.raises(FileNotFoundError) as info:
        build('CamVidDataset', root)
    assert str(info.value) == (
        "CamVidDataset found no images ending in '.png' under "
        f"'{root}/img_dir/train'. Convert the raw dataset first (python "
        f'tools/dataset_converters/camvid.py RAW_ROOT -o {root}) and point '
        'data_root at its output.')

    (tmp_path / 'pc' / 'img_dir' / 'val').mkdir(parents=True)
    with pytest.raises(FileNotFoundError,
                       match='tools/dataset_converters/pascal_context.py'):
        build('PascalContext33Dataset', str(tmp_path / 'pc'), split='val')


def test_missing_label_file(tmp_path):
    write_split(str(tmp_path), 'train', ['a.png', 'b.png'], 11)
    (tmp_path / 'ann_dir' / 'train' / 'b.png').unlink()
    missing = osp.join(str(tmp_path), 'ann_dir/train/b.png')
    with pytest.raises(FileNotFoundError, match=f'Label file {missing} '):
        build('CamVidDataset', str(tmp_path))


def test_size_mismatch_names_both_files(tmp_path):
    write_pair(str(tmp_path), 'train', 'a.png', random_labels(11, (8, 12), 0),
               image_shape=(8, 10))
    with pytest.raises(ValueError) as info:
        build('CamVidDataset', str(tmp_path))
    message = str(info.value)
    assert osp.join(str(tmp_path), 'img_dir/train/a.png') + ' is 8x10' in (
        message)
    assert osp.join(str(tmp_path), 'ann_dir/train/a.png') + ' is 8x12' in (
        message)


def test_colour_label_file_is_rejected(tmp_path):
    write_pair(str(tmp_path), 'train', 'a.png',
               np.zeros((8, 12, 3), np.uint8))
    with pytest.raises(ValueError, match="mode 'RGB'.*single-channel"):
        build('CamVidDataset', str(tmp_path))


def test_out_of_range_label_values_name_file_and_values(tmp_path):
    label = random_labels(11, (8, 12), 0)
    label[0, :3] = [11, 25, 11]
    write_pair(str(tmp_path), 'train', 'a.png', label)
    dataset = build('CamVidDataset', str(tmp_path))
    path = osp.join(str(tmp_path), 'ann_dir/train/a.png')
    with pytest.raises(ValueError,
                       match=rf'Label file {path} contains class ids '
                       r'\[11, 25\] outside \[0, 11\)'):
        dataset[0]
    # 30 classes: the same file is valid ADE-Bed data.
    ade = build('ADEBedDataset', str(tmp_path))
    assert ade[0]['data_samples'].gt_sem_seg.data.max() == 255


def test_generic_converted_dataset_with_metainfo(tmp_path):
    write_split(str(tmp_path), 'train', ['a.png'], 2)
    dataset = build('ConvertedSegDataset', str(tmp_path),
                    metainfo=dict(classes=('bg', 'fg')))
    assert isinstance(dataset, ConvertedSegDataset)
    assert dataset.num_classes == 2 and len(dataset) == 1
    cv2.imwrite(str(tmp_path / 'ann_dir' / 'train' / 'a.png'),
                np.full((8, 12), 2, np.uint8))
    with pytest.raises(ValueError, match=r'ids \[2\] outside \[0, 2\)'):
        dataset[0]
