import json
import math

import pytest

from mmseg_al.state import RunDir


def test_record_load_and_truncate(tmp_path):
    log = RunDir(tmp_path).metrics
    for r in range(3):
        log.record(r, 5 * (r + 1), 10.0 + r + 0.004,
                   {'sky': 20.0, 'road': math.nan}, {'train': 1.23456},
                   {'draws': 12, 'evaluation': 2.0})
    log.save()
    with open(tmp_path / 'metrics.json') as file:
        saved = json.load(file)
    assert saved['rounds'][1] == {
        'round': 1, 'labelled_pixels': 10, 'mIoU': 11.0,
        'per_class_IoU': {'sky': 20.0, 'road': None},
        'seconds': {'train': 1.235},
        'unet_passes': {'draws': 12, 'evaluation': 2}}
    # labels saved only up to round 1: round 2's entry is recomputed
    resumed = RunDir(tmp_path).metrics.load(last_round=1)
    assert [e['round'] for e in resumed.entries] == [0, 1]
    assert resumed.entry(2) is None and resumed.entry(1)['mIoU'] == 11.0
    assert resumed.table().splitlines() == [
        'round  labelled pixels    mIoU', '    0                5   10.00',
        '    1               10   11.00']


def test_unreadable_metrics_file_names_itself(tmp_path):
    for text in ('{"rows": []}', '{"rounds": [{"mIoU": 1}]}', '[1, 2'):
        (tmp_path / 'metrics.json').write_text(text)
        with pytest.raises(ValueError, match='metrics.json is not a metrics'):
            RunDir(tmp_path).metrics.load(last_round=0)


def test_expanded_pixels_are_recorded_beside_the_clicks(tmp_path):
    log = RunDir(tmp_path).metrics
    entry = log.record(0, 5, 10.0, {}, {}, expanded_pixels=321)
    assert (entry['labelled_pixels'], entry['expanded_pixels']) == (5, 321)
    assert 'expanded_pixels' not in log.record(1, 10, 11.0, {}, {})
