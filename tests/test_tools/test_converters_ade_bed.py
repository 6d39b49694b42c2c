import cv2
import numpy as np
import pytest

from mmseg_al.datasets.metainfo import ADE_BED_CLASSES
from tools.dataset_converters import ade_bed
from tools.dataset_converters.common import ConversionError


@pytest.fixture
def ade_geometry(reference_resize, crop_center_256):
    """Shorter side to 256 (exact for the fake sizes), centre crop."""
    def apply(array, nearest):
        height, width = array.shape[:2]
        scale = 256 / min(height, width)
        return crop_center_256(reference_resize(
            array, round(width * scale), round(height * scale), nearest))
    return apply


def test_convert_keeps_bedrooms_and_maps_by_name(ade_raw, tmp_path,
                                                 ade_geometry,
                                                 check_conversion):
    raw_root, expected = ade_raw
    out_dir = tmp_path / 'ade_bed'
    summary = ade_bed.convert(raw_root, out_dir)
    check_conversion(out_dir, expected, ade_geometry, summary,
                     ADE_BED_CLASSES)
    assert summary['images'] == {'train': 2, 'test': 1}


def _edit_csv(raw_root, old, new):
    csv_path = raw_root / 'objectInfo150.csv'
    text = csv_path.read_text()
    assert old in text
    csv_path.write_text(text.replace(old, new))


def _bedroom_table(raw_root):
    return ade_bed.bedroom_table(
        ade_bed.read_class_names(raw_root / 'objectInfo150.csv'))


def test_table_prefers_first_names_over_synonyms(ade_raw):
    raw_root, _ = ade_raw
    table = _bedroom_table(raw_root)
    # 'coffee;table;...', 'swivel;chair', 'streetlight;street;lamp' and
    # 'screen;door;screen' list bedroom names only as synonyms.
    assert table[[0, 2, 65, 57, 76, 88, 59]].tolist() == [255] * 7
    assert table[[16, 20, 37, 15, 45, 90]].tolist() == [3, 12, 4, 11, 14, 29]
    assert (table != 255).sum() == 30


def test_synonym_is_used_when_no_first_name_matches(ade_raw):
    raw_root, _ = ade_raw
    _edit_csv(raw_root, ',television;television;receiver',
              ',tv;television;receiver')
    table = _bedroom_table(raw_root)
    assert table[90] == ADE_BED_CLASSES.index('television')


def test_ambiguous_or_missing_class_is_an_error(ade_raw):
    raw_root, _ = ade_raw
    _edit_csv(raw_root, ',sconce\n', ',lantern;sconce\n')
    _edit_csv(raw_root, ',vase\n', ',pot;sconce\n')
    with pytest.raises(ConversionError,
                       match=r"'sconce' matches ADE classes \[135, 136\]"):
        _bedroom_table(raw_root)
    _edit_csv(raw_root, ',pot;sconce\n', ',vase\n')
    _edit_csv(raw_root, ',lantern;sconce\n', ',lantern\n')
    with pytest.raises(ConversionError,
                       match=r"'sconce' matches ADE classes \[\]"):
        _bedroom_table(raw_root)


@pytest.mark.parametrize('edit,message', [
    (('Idx,', 'Index,'), 'header naming the Idx and Name columns'),
    (('\n7,0.01', '\nseven,0.01'), r"csv:8: Idx 'seven' is not an integer"),
    (('\n7,0.01', '\n6,0.01'), r'csv:8: Idx 6 is out of 1..150 or repeated'),
    (('\n150,0.01,10,1,thing150\n', '\n'), 'lists 149 classes'),
])
def test_malformed_csv_is_named(ade_raw, tmp_path, edit, message):
    raw_root, _ = ade_raw
    _edit_csv(raw_root, *edit)
    with pytest.raises(ConversionError, match=message):
        ade_bed.convert(raw_root, tmp_path / 'out')


def test_malformed_scene_line_is_named(ade_raw, tmp_path):
    raw_root, _ = ade_raw
    with open(raw_root / 'sceneCategories.txt', 'a') as f:
        f.write('\nADE_val_00000003 living room\n')
    with pytest.raises(ConversionError,
                       match=r'sceneCategories.txt:7: expected "IMAGE_NAME '
                       r'SCENE", got \'ADE_val_00000003 living room\''):
        ade_bed.convert(raw_root, tmp_path / 'out')


def test_split_without_bedrooms_is_an_error(ade_raw, tmp_path):
    raw_root, _ = ade_raw
    scenes = raw_root / 'sceneCategories.txt'
    scenes.write_text(scenes.read_text().replace(
        'ADE_val_00000001 bedroom', 'ADE_val_00000001 kitchen'))
    with pytest.raises(ConversionError,
                       match="lists no 'bedroom' image of validation/"):
        ade_bed.convert(raw_root, tmp_path / 'out')


def test_missing_files_are_named(ade_raw, tmp_path):
    raw_root, _ = ade_raw
    (raw_root / 'annotations' / 'training' / 'ADE_train_00000003.png').unlink()
    with pytest.raises(ConversionError,
                       match=r'1 bedroom annotations missing: .*training/'
                       r'ADE_train_00000003\.png'):
        ade_bed.convert(raw_root, tmp_path / 'out')
    (raw_root / 'sceneCategories.txt').unlink()
    with pytest.raises(ConversionError,
                       match=r'1 ADE20K index files missing: '
                       r'.*sceneCategories\.txt'):
        ade_bed.convert(raw_root, tmp_path / 'out')
    (raw_root / 'images' / 'validation').rename(raw_root / 'images' / 'val')
    with pytest.raises(ConversionError,
                       match=r'lacks images/validation/ \(validation '):
        ade_bed.convert(raw_root, tmp_path / 'out')


def test_label_beyond_150_is_named(ade_raw, tmp_path):
    raw_root, _ = ade_raw
    path = raw_root / 'annotations' / 'validation' / 'ADE_val_00000001.png'
    cv2.imwrite(str(path), np.full((32, 32), 151, dtype=np.uint8))
    with pytest.raises(ConversionError,
                       match=r'ADE_val_00000001\.png has unexpected values '
                       r'\[151\]; expected raw ids 0\.\.150'):
        ade_bed.convert(raw_root, tmp_path / 'out')
