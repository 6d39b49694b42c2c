import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np
import pytest
from mmengine.runner import Runner
from mmseg.registry import DATASETS

from mmseg_al.datasets import PixelSparseDataset
from mmseg_al.state import LabelStore
from .fake_layout import PIPELINE, random_labels, write_pair

SHAPES = {'b.png': (6, 10), 'a.png': (8, 12), 'c.png': (5, 7)}


class DictStore:
    """Stand-in for the label store: ``{image_id: (pixels, classes)}``."""

    def __init__(self, labels: Dict[str, Tuple[Sequence[int],
                                               Sequence[int]]]) -> None:
        self.labels = labels

    def pixels(self, image_id: str) -> np.ndarray:
        return np.asarray(self.labels[image_id][0], np.int64)

    def classes(self, image_id: str) -> np.ndarray:
        return np.asarray(self.labels[image_id][1], np.int64)

    def labelled_image_ids(self) -> List[str]:
        return list(self.labels)


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
    assert len(dataset) == 0  # no label store yet: nothing to train on


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


def test_only_revealed_pixels_carry_labels(root):
    dataset = pool(root)
    truth = file_label(root, 'b.png')
    # Pixel 5 was marked void by the annotator; pixel 0's stored class
    # deliberately differs from the file, and the store wins.
    stored = (truth.ravel()[0] + 1) % 11
    dataset.set_label_store(DictStore({'b.png': ([13, 0, 5],
                                                 [7, stored, 255])}))
    assert len(dataset) == 1
    sample = dataset[0]
    assert sample['data_samples'].metainfo['image_id'] == 'b.png'
    expected = np.full(6 * 10, 255, np.int64)
    expected[[13, 0, 5]] = [7, stored, 255]
    gt = sample['data_samples'].gt_sem_seg.data
    assert gt.shape == (1, 6, 10)
    assert np.array_equal(gt[0].numpy(), expected.reshape(6, 10))
    assert set(np.flatnonzero(gt.numpy() != 255)) == {0, 13}
    assert np.array_equal(sample['inputs'],
                          dataset.pool_item(1)['inputs'])


def test_iteration_skips_unrevealed_images_and_follows_the_store(root):
    dataset = pool(root)
    labels = {'c.png': ([1], [2]), 'a.png': ([4, 9], [0, 10]),
              'b.png': ([], [])}
    dataset.set_label_store(DictStore(labels))
    assert len(dataset) == 2
    assert [dataset[i]['data_samples'].metainfo['image_id']
            for i in range(2)] == ['a.png', 'c.png']
    labels['b.png'] = ([3], [1])  # a new round revealed a pixel of b.png
    assert len(dataset) == 3
    assert dataset[1]['data_samples'].metainfo['image_id'] == 'b.png'


def test_pool_item_and_ground_truth_are_unmasked(root):
    dataset = pool(root)
    dataset.set_label_store(DictStore({'a.png': ([0], [1])}))
    item = dataset.pool_item(0)
    assert item['data_samples'].metainfo['image_id'] == 'a.png'
    assert np.array_equal(item['data_samples'].gt_sem_seg.data[0].numpy(),
                          file_label(root, 'a.png'))
    truth = dataset.ground_truth(2)
    assert truth.dtype == np.uint8
    assert np.array_equal(truth, file_label(root, 'c.png'))


@pytest.mark.parametrize('labels, message', [
    ({'a.png': ([96], [1])},
     r"pixel indices outside \[0, 96\) for image 'a.png' \(min 96"),
    ({'a.png': ([0, 1], [1])}, r'\(2,\) pixels but \(1,\) classes'),
    ({'a.png': ([0], [11])},
     r"label store entry of image 'a.png' contains class ids \[11\]"),
])
def test_malformed_store_entries_are_errors(root, labels, message):
    dataset = pool(root)
    dataset.set_label_store(DictStore(labels))
    assert len(dataset) == 1
    with pytest.raises(ValueError, match=message):
        dataset[0]


def test_unknown_store_image_is_an_error(root):
    dataset = pool(root)
    dataset.set_label_store(DictStore({'z.png': ([0], [1])}))
    with pytest.raises(KeyError, match="'z.png' is not in the pool"):
        len(dataset)


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


def test_dataloader_batches_masked_samples(root):
    dataset = pool(root)
    dataset.set_label_store(
        DictStore({'a.png': ([2], [4]), 'c.png': ([0, 34], [6, 1])}))
    loader = Runner.build_dataloader(
        dict(batch_size=2, num_workers=0,
             sampler=dict(type='DefaultSampler', shuffle=False),
             dataset=dataset))
    (batch, ) = list(loader)
    samples = batch['data_samples']
    assert [s.metainfo['image_id'] for s in samples] == ['a.png', 'c.png']
    assert [int((s.gt_sem_seg.data != 255).sum()) for s in samples] == [1, 2]


def test_round_trip_with_the_label_store(root):
    """Reveal pixels from the ground truth into mmseg_al's LabelStore: the
    pool then trains on exactly those labels."""
    dataset = pool(root)
    store = LabelStore(dataset.image_ids, dataset.image_shapes,
                       dataset.num_classes)
    dataset.set_label_store(store)
    for image_id, pixels in (('c.png', [0, 34]), ('a.png', [95, 3, 50])):
        truth = dataset.ground_truth(dataset.index_of(image_id)).ravel()
        store.add(image_id, pixels, truth[pixels], round_idx=0)
    assert len(dataset) == 2
    for i, image_id in enumerate(['a.png', 'c.png']):
        sample = dataset[i]['data_samples']
        assert sample.metainfo['image_id'] == image_id
        assert np.array_equal(sample.gt_sem_seg.data[0].numpy(),
                              store.label_map(image_id))
        revealed = sample.gt_sem_seg.data.numpy().ravel()
        truth = file_label(root, image_id).ravel()
        pixels = store.pixels(image_id)
        assert np.array_equal(revealed[pixels], truth[pixels])
        assert (np.delete(revealed, pixels) == 255).all()


@pytest.mark.parametrize('dataset_type, converter', [
    ('CityscapesDataset', '<dataset>'), ('CamVidDataset', 'camvid')])
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
