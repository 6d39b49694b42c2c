import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest
from mmseg.registry import DATASETS

from mmseg_al.datasets import PixelSparseDataset
from .fake_layout import PIPELINE, random_labels, write_pair

SHAPES = {'b.png': (6, 10), 'a.png': (8, 12), 'c.png': (5, 7)}


@pytest.fixture
def root(tmp_path) -> str:
    for seed, (name, shape) in enumerate(SHAPES.items()):
        write_pair(str(tmp_path), 'train', name, random_labels(11, shape,
                                                               seed))
    return str(tmp_path)


def camvid(root: str, **kwargs) -> dict:
    """Config of a CamVid train split under ``root``; kwargs override."""
    return dict(dict(type='CamVidDataset', data_root=root, pipeline=PIPELINE,
                     data_prefix=dict(img_path='img_dir/train',
                                      seg_map_path='ann_dir/train')),
                **kwargs)


def pool(root: str, **kwargs) -> PixelSparseDataset:
    return DATASETS.build(
        dict(type='PixelSparseDataset', dataset=camvid(root, **kwargs)))


def file_label(root: str, name: str) -> np.ndarray:
    return cv2.imread(osp.join(root, 'ann_dir/train', name),
                      cv2.IMREAD_UNCHANGED)


def test_ids_shapes_and_lookup(root):
    dataset = pool(root)
    assert dataset.image_ids == ['a.png', 'b.png', 'c.png']
    assert dataset.image_shapes == [(8, 12), (6, 10), (5, 7)]
    assert dataset.image_paths == [
        osp.join(root, 'img_dir/train', name) for name in dataset.image_ids
    ]
    assert [dataset.index_of(i) for i in ('c.png', 'a.png')] == [2, 0]
    with pytest.raises(KeyError, match="'d.png' is not in the pool of 3"):
        dataset.index_of('d.png')
    assert dataset.metainfo['classes'][0] == 'sky'
    # the pool, indexed as a dataset: every image, unmasked
    assert len(dataset) == 3
    assert dataset[1]['data_samples'].metainfo['image_id'] == 'b.png'


def test_ids_are_stable_under_reordering(root, tmp_path):
    split_file = tmp_path / 'order.txt'
    split_file.write_text('c\na\nb\n')
    reordered = pool(root, ann_file=str(split_file))
    assert reordered.image_ids == ['c.png', 'a.png', 'b.png']
    for image_id in ('a.png', 'b.png', 'c.png'):
        index = reordered.index_of(image_id)
        assert reordered.dataset.get_data_info(index)['img_path'].endswith(
            'img_dir/train/' + image_id)
        assert reordered.image_shapes[index] == SHAPES[image_id]
        assert np.array_equal(reordered.ground_truth(index),
                              file_label(root, image_id))
    # Ids are relative to the image prefix, so nested splits keep theirs.
    both = DATASETS.build(
        dict(type='PixelSparseDataset',
             dataset=camvid(root, data_prefix=dict(
                 img_path='img_dir', seg_map_path='ann_dir'))))
    assert both.image_ids == ['train/a.png', 'train/b.png', 'train/c.png']


def test_repeated_images_are_an_error(root, tmp_path):
    split_file = tmp_path / 'twice.txt'
    split_file.write_text('a\nb\na\n')
    with pytest.raises(ValueError,
                       match=r"ids must be unique; \['a.png'\] occur"):
        pool(root, ann_file=str(split_file))


def test_pool_item_and_ground_truth_are_unmasked(root):
    dataset = pool(root)
    item = dataset.pool_item(0)
    assert item['data_samples'].metainfo['image_id'] == 'a.png'
    assert np.array_equal(item['data_samples'].gt_sem_seg.data[0].numpy(),
                          file_label(root, 'a.png'))
    truth = dataset.ground_truth(2)
    assert truth.dtype == np.uint8
    assert np.array_equal(truth, file_label(root, 'c.png'))


@pytest.mark.parametrize('transform', [
    dict(type='Resize', scale=(4, 4), keep_ratio=False),
    dict(type='RandomFlip', prob=1.0),
])
def test_pipeline_must_keep_geometry(root, transform):
    pipeline = [PIPELINE[0], PIPELINE[1], transform, PIPELINE[2]]
    dataset = pool(root, pipeline=pipeline)
    with pytest.raises(ValueError, match="'a.png' is \\(8, 12\\) on disk.*"
                       'keeps the geometry'):
        dataset.pool_item(0)


def test_ground_truth_checks_datasets_without_load_checks(tmp_path):
    """mmseg's own datasets are checked when the oracle reads them."""
    root = str(tmp_path)
    label = random_labels(19, (4, 6), 0)
    label[1, 1] = 19
    for sub, array, suffix in (
            ('leftImg8bit', np.zeros((4, 6, 3), np.uint8), '_leftImg8bit'),
            ('gtFine', label, '_gtFine_labelTrainIds')):
        folder = osp.join(root, sub, 'train', 'aachen')
        os.makedirs(folder)
        cv2.imwrite(osp.join(folder, 'aachen_000000' + suffix + '.png'),
                    array)
    dataset = DATASETS.build(
        dict(type='PixelSparseDataset',
             dataset=dict(type='CityscapesDataset', data_root=root,
                          pipeline=PIPELINE,
                          data_prefix=dict(img_path='leftImg8bit/train',
                                           seg_map_path='gtFine/train'))))
    assert dataset.image_ids == ['aachen/aachen_000000_leftImg8bit.png']
    with pytest.raises(ValueError,
                       match=r'aachen_000000_gtFine_labelTrainIds.png '
                       r'contains class ids \[19\] outside \[0, 19\)'):
        dataset.ground_truth(0)


def truncate(path: str, keep: int) -> None:
    with open(path, 'r+b') as file:
        file.truncate(os.path.getsize(path) - keep)


@pytest.mark.parametrize('keep', [12, 5])  # inside IEND; without IEND
def test_a_truncated_image_is_named_at_the_start(root, keep):
    """Not mid round, when mmcv fails to decode it: the pool checks every
    file when it reads the image sizes, also for mmseg's own datasets."""
    image = osp.join(root, 'img_dir/train', 'b.png')
    truncate(image, keep)
    for dataset_type in ('BaseSegDataset', 'CamVidDataset'):
        with pytest.raises(ValueError) as error:
            pool(root, type=dataset_type, img_suffix='.png').image_shapes
        assert str(error.value).startswith(
            f'Image file {image} is truncated or corrupt (')
        assert str(error.value).endswith(
            '); convert it again or remove it from the dataset.')


def test_a_truncated_label_file_is_named_on_load(root):
    label = osp.join(root, 'ann_dir/train', 'c.png')
    truncate(label, 5)
    with pytest.raises(ValueError, match=re.escape(
            f'Image file {label} is truncated or corrupt')):
        pool(root)


@pytest.mark.parametrize('dataset_type, converter', [
    ('CityscapesDataset', 'cityscapes'), ('CamVidDataset', 'camvid')])
def test_empty_pool_names_the_directory(tmp_path, dataset_type, converter):
    """mmseg's own datasets fail obscurely on an empty directory; the pool
    says what to do, for missing and for empty directories alike."""
    cfg = dict(type='PixelSparseDataset',
               dataset=camvid(str(tmp_path), type=dataset_type))
    for _ in range(2):
        with pytest.raises(
                FileNotFoundError,
                match=rf"{dataset_type} found no images ending in '.*' under "
                rf"'{tmp_path}/img_dir/train'.*python "
                rf'tools/dataset_converters/{converter}.py'):
            DATASETS.build(cfg)
        (tmp_path / 'img_dir' / 'train').mkdir(parents=True, exist_ok=True)
