import cv2
import numpy as np
import pytest
from mmseg.datasets import CityscapesDataset

from tools.dataset_converters import cityscapes
from tools.dataset_converters.common import ConversionError


@pytest.fixture
def cityscapes_geometry(reference_resize, crop_center_256):
    """Resize to 512x256, then centre crop 256x256."""
    return lambda array, nearest: crop_center_256(
        reference_resize(array, 512, 256, nearest))


def test_convert_writes_train_ids_with_mmseg_suffixes(
        cityscapes_raw, tmp_path, cityscapes_geometry, check_conversion):
    raw_root, expected = cityscapes_raw
    out_dir = tmp_path / 'cityscapes_256'
    summary = cityscapes.convert(raw_root, out_dir)
    check_conversion(out_dir, expected, cityscapes_geometry, summary,
                     CityscapesDataset.METAINFO['classes'])
    assert summary['images'] == {'train': 2, 'val': 1}
    assert list(summary['class_pixels'])[:3] == ['road', 'sidewalk',
                                                 'building']


def test_image_without_label_names_the_label(cityscapes_raw, tmp_path):
    raw_root, _ = cityscapes_raw
    (raw_root / 'gtFine' / 'val' / 'frankfurt' /
     'frankfurt_000000_000294_gtFine_labelIds.png').unlink()
    with pytest.raises(ConversionError,
                       match=r'1 images have no label: .*frankfurt_000000_'
                       r'000294_leftImg8bit\.png \(expected .*gtFine/val/'
                       r'frankfurt/frankfurt_000000_000294_gtFine_labelIds'):
        cityscapes.convert(raw_root, tmp_path / 'out')


def test_label_without_image_is_named(cityscapes_raw, tmp_path):
    raw_root, _ = cityscapes_raw
    (raw_root / 'leftImg8bit' / 'train' / 'bochum' /
     'bochum_000000_000313_leftImg8bit.png').unlink()
    with pytest.raises(ConversionError,
                       match=r'1 labels have no image in .*leftImg8bit/train:'
                       r' .*bochum/bochum_000000_000313_gtFine_labelIds\.png'):
        cityscapes.convert(raw_root, tmp_path / 'out')


def test_missing_split_directory_is_named(cityscapes_raw, tmp_path):
    raw_root, _ = cityscapes_raw
    (raw_root / 'gtFine' / 'val').rename(raw_root / 'gtFine' / 'test')
    with pytest.raises(ConversionError, match=r'lacks gtFine/val/ \(val '):
        cityscapes.convert(raw_root, tmp_path / 'out')


def test_label_id_beyond_33_is_named(cityscapes_raw, tmp_path):
    raw_root, _ = cityscapes_raw
    label_path = (raw_root / 'gtFine' / 'train' / 'aachen' /
                  'aachen_000000_000019_gtFine_labelIds.png')
    label = np.full((32, 64), 7, dtype=np.uint8)
    label[5, 5] = 34
    cv2.imwrite(str(label_path), label)
    with pytest.raises(ConversionError,
                       match=r'aachen_000000_000019_gtFine_labelIds\.png has '
                       r'unexpected values \[34\]; expected raw ids 0\.\.33'):
        cityscapes.convert(raw_root, tmp_path / 'out')
