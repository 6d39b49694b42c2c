import numpy as np
import pytest
import scipy.io

from mmseg_al.datasets.metainfo import PASCAL_CONTEXT_33_CLASSES
from tools.dataset_converters import pascal_context
from tools.dataset_converters.common import ConversionError


@pytest.fixture
def pascal_geometry(reference_resize):
    return lambda array, nearest: reference_resize(array, 256, 256, nearest)


def test_convert_maps_the_33_classes_in_order(pascal_raw, tmp_path,
                                              pascal_geometry,
                                              check_conversion):
    raw_root, expected = pascal_raw
    out_dir = tmp_path / 'pascal_context_33'
    summary = pascal_context.convert(raw_root, out_dir)
    check_conversion(out_dir, expected, pascal_geometry, summary,
                     PASCAL_CONTEXT_33_CLASSES)
    assert summary['images'] == {'train': 2, 'val': 1}
    assert all(count > 0 for count in summary['class_pixels'].values())


def test_label_and_split_folders_can_be_given(pascal_raw, tmp_path):
    raw_root, _ = pascal_raw
    (raw_root / 'trainval').rename(tmp_path / 'context_labels')
    (tmp_path / 'lists').mkdir()
    for name in ('train.txt', 'val.txt'):
        (raw_root / name).rename(tmp_path / 'lists' / name)
    with pytest.raises(ConversionError,
                       match=r'label map folder .*trainval .*--labels-dir'):
        pascal_context.convert(raw_root, tmp_path / 'out')
    summary = pascal_context.main([
        str(raw_root), '-o', str(tmp_path / 'out'), '--labels-dir',
        str(tmp_path / 'context_labels'), '--splits-dir',
        str(tmp_path / 'lists')])
    assert summary['images'] == {'train': 2, 'val': 1}


def test_missing_listed_files_are_named(pascal_raw, tmp_path):
    raw_root, _ = pascal_raw
    (raw_root / 'val.txt').write_text('2008_000007\n2009_999999\n')
    with pytest.raises(ConversionError,
                       match=r'1 listed images missing: .*JPEGImages/'
                       r'2009_999999\.jpg'):
        pascal_context.convert(raw_root, tmp_path / 'out')
    (raw_root / 'train.txt').unlink()
    with pytest.raises(ConversionError,
                       match=r'1 split lists .* missing: .*train\.txt'):
        pascal_context.convert(raw_root, tmp_path / 'out')
    (raw_root / 'train.txt').write_text('\n\n')
    with pytest.raises(ConversionError, match=r'train\.txt names no image'):
        pascal_context.convert(raw_root, tmp_path / 'out')


def _save_mat(raw_root, **variables):
    scipy.io.savemat(str(raw_root / 'trainval' / '2008_000007.mat'),
                     variables)


@pytest.mark.parametrize('variables,message', [
    (dict(labels=np.zeros((20, 20), np.uint16)),
     r"2008_000007\.mat has no 'LabelMap' variable; found \['labels'\]"),
    (dict(LabelMap=np.zeros((20, 20), np.float64)),
     r'LabelMap of .*2008_000007\.mat is a 2-d float64 array'),
    (dict(LabelMap=np.full((20, 20), 460, np.uint16)),
     r'2008_000007\.mat has unexpected values \[460\]; expected raw ids '
     r'0\.\.459'),
    (dict(LabelMap=np.zeros((20, 21), np.uint16)),
     r'is 20x20 but its label .*2008_000007\.mat is 21x20'),
])
def test_bad_label_maps_are_named(pascal_raw, tmp_path, variables, message):
    raw_root, _ = pascal_raw
    _save_mat(raw_root, **variables)
    with pytest.raises(ConversionError, match=message):
        pascal_context.convert(raw_root, tmp_path / 'out')


#: Header of a MATLAB v7.3 (HDF5) file, which scipy cannot read.
V73_HEADER = (b'MATLAB 7.3 MAT-file'.ljust(116) + b'\x00' * 8 +
              b'\x00\x02IM').ljust(512, b'\x00')


@pytest.mark.parametrize('content,reason', [
    (b'\x00' * 200, 'corrupt'), (V73_HEADER, 'HDF reader')],
    ids=['zeros', 'v7.3'])
def test_unreadable_mat_is_named(pascal_raw, tmp_path, content, reason):
    raw_root, _ = pascal_raw
    (raw_root / 'trainval' / '2008_000007.mat').write_bytes(content)
    with pytest.raises(ConversionError,
                       match=r'cannot read label map .*2008_000007\.mat: .*'
                       + reason):
        pascal_context.convert(raw_root, tmp_path / 'out')
