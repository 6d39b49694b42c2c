import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from mmseg_al.datasets import (ToyScenesDataset, render_toy_scene,
                               write_toy_scenes)
from mmseg_al.datasets.metainfo import TOY_SCENES_CLASSES, TOY_SCENES_PALETTE
from mmseg_al.datasets.toy_scenes import MARKER_NAME, toy_scenes_params
from mmseg_al.utils import numpy_rng
from .fake_layout import PIPELINE

SMALL = dict(image_size=48, num_train=6, num_val=3, seed=1)


def read_tree(root: str) -> dict:
    """``{relative path: bytes}`` of every generated PNG."""
    files = {}
    for sub in ('img_dir', 'ann_dir'):
        for split in ('train', 'val'):
            folder = osp.join(root, sub, split)
            for name in sorted(os.listdir(folder)):
                with open(osp.join(folder, name), 'rb') as f:
                    files[f'{sub}/{split}/{name}'] = f.read()
    return files


def test_renderer_sizes():
    image, label = render_toy_scene(numpy_rng(0, 'test'), 96)
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8
    assert label.shape == (96, 96) and label.dtype == np.uint8
    assert label.max() < len(TOY_SCENES_CLASSES)
    with pytest.raises(ValueError, match='size >= 32, got 16'):
        render_toy_scene(numpy_rng(0, 'test'), 16)


def test_same_parameters_give_identical_bytes(tmp_path):
    write_toy_scenes(str(tmp_path / 'a'), **SMALL)
    write_toy_scenes(str(tmp_path / 'b'), **SMALL)
    first, second = read_tree(str(tmp_path / 'a')), read_tree(
        str(tmp_path / 'b'))
    assert len(first) == 2 * (6 + 3)
    assert sorted(first)[:2] == ['ann_dir/train/0000.png',
                                 'ann_dir/train/0001.png']
    assert first == second
    other_seed = dict(SMALL, seed=2)
    write_toy_scenes(str(tmp_path / 'c'), **other_seed)
    assert read_tree(str(tmp_path / 'c')) != first


def test_marker_records_parameters_and_reuse_keeps_files(tmp_path):
    root = str(tmp_path / 'toy')
    write_toy_scenes(root, **SMALL)
    with open(osp.join(root, MARKER_NAME)) as f:
        assert json.load(f) == toy_scenes_params(**SMALL)
    before = read_tree(root)
    write_toy_scenes(root, **SMALL)  # second use: nothing rewritten
    assert read_tree(root) == before
    assert [p.name for p in tmp_path.iterdir()] == ['toy']  # no staging


def test_changed_parameters_are_an_error(tmp_path):
    root = str(tmp_path / 'toy')
    write_toy_scenes(root, **SMALL)
    with pytest.raises(ValueError,
                       match=r"holds toy scenes generated with .*'num_train'"
                       r': 6.*were requested. Remove the directory'):
        write_toy_scenes(root, **dict(SMALL, num_train=7))


def test_foreign_directory_is_never_overwritten(tmp_path):
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'notes.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='not written by'):
        write_toy_scenes(str(tmp_path / 'mine'), **SMALL)
    assert (tmp_path / 'mine' / 'notes.txt').read_text() == 'keep me'


def test_dataset_splits_and_metainfo(tmp_path):
    root = str(tmp_path / 'toy')
    train = ToyScenesDataset(data_root=root, pipeline=PIPELINE, **SMALL)
    val = ToyScenesDataset(
        data_root=root, pipeline=PIPELINE,
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        **SMALL)
    assert (len(train), len(val)) == (6, 3)
    assert train.metainfo['classes'] == TOY_SCENES_CLASSES
    assert [tuple(c) for c in train.metainfo['palette']] == TOY_SCENES_PALETTE
    sample = train[0]
    assert tuple(sample['inputs'].shape) == (3, 48, 48)
    label = cv2.imread(osp.join(root, 'ann_dir/train/0000.png'),
                       cv2.IMREAD_UNCHANGED)
    assert np.array_equal(sample['data_samples'].gt_sem_seg.data[0].numpy(),
                          label)


@pytest.fixture(scope='module')
def default_scenes(tmp_path_factory):
    """The default toy dataset (120 train / 40 val, 64x64): pixels, labels."""
    root = str(tmp_path_factory.mktemp('toy') / 'toy_scenes')
    write_toy_scenes(root)
    images, labels = [], []
    for i in range(120):
        name = f'{i:04d}.png'
        images.append(cv2.imread(osp.join(root, 'img_dir/train', name))[
            ..., ::-1])
        labels.append(
            cv2.imread(osp.join(root, 'ann_dir/train', name),
                       cv2.IMREAD_UNCHANGED))
    return np.stack(images), np.stack(labels)


def test_default_scenes_contain_every_class(default_scenes):
    images, labels = default_scenes
    assert images.shape == (120, 64, 64, 3) and labels.shape == (120, 64, 64)
    counts = np.bincount(labels.ravel(), minlength=256)
    assert counts[len(TOY_SCENES_CLASSES):].sum() == 0
    share = counts[:len(TOY_SCENES_CLASSES)] / labels.size
    assert share.min() > 0.005, share  # persons are the rarest class
    images_with = [(labels == c).any(axis=(1, 2)).sum() for c in range(6)]
    assert min(images_with) >= 60, images_with


def test_colour_alone_does_not_separate_classes(default_scenes):
    """Colour classifiers fitted on the very pixels they are scored on stay
    far below 90 % pixel accuracy (measured: nearest mean about 0.40, best
    lookup table over 16 levels per channel about 0.62; always predicting
    the most frequent class gives about 0.31)."""
    images, labels = default_scenes
    colours = images.reshape(-1, 3).astype(np.int64)
    classes = labels.ravel().astype(np.int64)

    means = np.stack([colours[classes == c].mean(0) for c in range(6)])
    distances = ((colours[:, None, :] - means[None])**2).sum(-1)
    nearest_mean = (distances.argmin(1) == classes).mean()
    assert nearest_mean < 0.5, nearest_mean

    # The best any colour-only rule can do at this quantisation: predict
    # the majority class of each colour bin.
    bins = ((colours // 16) * np.array([256, 16, 1])).sum(1)
    table = np.zeros((16**3, 6), np.int64)
    np.add.at(table, (bins, classes), 1)
    best_lookup = table.max(1).sum() / classes.size
    assert best_lookup < 0.7, best_lookup
