import re

import cv2
import numpy as np
import pytest

from mmseg_al.datasets.metainfo import CAMVID_CLASSES
from tools.dataset_converters import camvid
from tools.dataset_converters.common import ConversionError


@pytest.fixture
def camvid_geometry(reference_resize):
    return lambda array, nearest: reference_resize(array, 256, 256, nearest)


@pytest.mark.parametrize('nproc', [1, 2])
def test_convert_writes_reference_pixels(camvid_raw, tmp_path, nproc,
                                         camvid_geometry, check_conversion):
    raw_root, expected = camvid_raw
    out_dir = tmp_path / 'camvid'
    summary = camvid.convert(raw_root, out_dir, nproc=nproc)
    check_conversion(out_dir, expected, camvid_geometry, summary,
                     CAMVID_CLASSES)
    assert summary['images'] == {'train': 2, 'test': 1}
    assert summary['void_pixels'] > 0  # id 11 occurs and became 255
    assert not (tmp_path / 'camvid.tmp').exists()


def test_main_prints_summary(camvid_raw, tmp_path, capsys):
    raw_root, _ = camvid_raw
    summary = camvid.main([str(raw_root), '-o', str(tmp_path / 'out')])
    printed = capsys.readouterr().out
    assert 'images: train 2 (paper 367), test 1 (paper 233)' in printed
    sky_line = next(line for line in printed.splitlines()
                    if line.split()[:1] == ['sky'])
    assert int(sky_line.split()[1]) == summary['class_pixels']['sky']


def test_main_reports_errors_with_exit_status_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        camvid.main([str(tmp_path / 'nowhere'), '-o', str(tmp_path / 'o')])
    assert exit_info.value.code == 2
    assert 'nowhere is not a directory' in capsys.readouterr().err


def test_missing_directory_is_named(camvid_raw, tmp_path):
    raw_root, _ = camvid_raw
    (raw_root / 'testannot').rename(raw_root / 'test_labels')
    with pytest.raises(ConversionError, match=r'lacks testannot/ \(test '):
        camvid.convert(raw_root, tmp_path / 'out')
    assert not (tmp_path / 'out').exists()


def test_empty_split_is_an_error(camvid_raw, tmp_path):
    raw_root, _ = camvid_raw
    for path in [*(raw_root / 'test').iterdir(),
                 *(raw_root / 'testannot').iterdir()]:
        path.unlink()
    with pytest.raises(ConversionError, match=r'no \*\.png images in .*test'):
        camvid.convert(raw_root, tmp_path / 'out')


def test_image_without_label_names_the_label(camvid_raw, tmp_path):
    raw_root, _ = camvid_raw
    (raw_root / 'trainannot' / 'Seq05VD_f00000.png').unlink()
    with pytest.raises(ConversionError,
                       match=r'1 images have no label: .*train/Seq05VD_f00000'
                       r'\.png \(expected .*trainannot/Seq05VD_f00000\.png'):
        camvid.convert(raw_root, tmp_path / 'out')


def test_label_without_image_is_named(camvid_raw, tmp_path):
    raw_root, _ = camvid_raw
    (raw_root / 'test' / '0001TP_008550.png').unlink()
    (raw_root / 'test' / 'other.png').write_bytes(
        (raw_root / 'train' / '0001TP_006690.png').read_bytes())
    (raw_root / 'testannot' / 'other.png').write_bytes(
        (raw_root / 'trainannot' / '0001TP_006690.png').read_bytes())
    with pytest.raises(ConversionError,
                       match=r'1 labels have no image in .*test: '
                       r'.*testannot/0001TP_008550\.png'):
        camvid.convert(raw_root, tmp_path / 'out')


def _rewrite_label(raw_root, name, label):
    assert cv2.imwrite(str(raw_root / 'testannot' / name), label)


def test_unexpected_label_value_is_named(camvid_raw, tmp_path):
    raw_root, _ = camvid_raw
    label = np.full((36, 48), 3, dtype=np.uint8)
    label[0, :3] = [12, 200, 11]
    _rewrite_label(raw_root, '0001TP_008550.png', label)
    with pytest.raises(ConversionError,
                       match=r'0001TP_008550\.png has unexpected values '
                       r'\[12, 200\]; expected raw ids 0\.\.11'):
        camvid.convert(raw_root, tmp_path / 'out')
    assert not (tmp_path / 'out').exists()
    assert not (tmp_path / 'out.tmp').exists()


def test_size_mismatch_names_both_files(camvid_raw, tmp_path):
    raw_root, _ = camvid_raw
    _rewrite_label(raw_root, '0001TP_008550.png',
                   np.zeros((30, 48), dtype=np.uint8))
    with pytest.raises(ConversionError, match=re.compile(
            r'image .*test/0001TP_008550\.png is 48x36 but its label '
            r'.*testannot/0001TP_008550\.png is 48x30')):
        camvid.convert(raw_root, tmp_path / 'out')


def test_colour_label_is_rejected(camvid_raw, tmp_path):
    raw_root, _ = camvid_raw
    _rewrite_label(raw_root, '0001TP_008550.png',
                   np.zeros((36, 48, 3), dtype=np.uint8))
    with pytest.raises(ConversionError, match='has 3 channels'):
        camvid.convert(raw_root, tmp_path / 'out')


def test_unreadable_image_is_named(camvid_raw, tmp_path):
    raw_root, _ = camvid_raw
    (raw_root / 'test' / '0001TP_008550.png').write_bytes(b'not a png')
    with pytest.raises(ConversionError,
                       match=r'cannot read image .*test/0001TP_008550\.png'):
        camvid.convert(raw_root, tmp_path / 'out', nproc=2)
