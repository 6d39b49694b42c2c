"""LabelStore: validation, queries, atomic save/load and recovery."""
import hashlib
import json
import os
import re

import numpy as np
import pytest
import torch

from mmseg_al.state import LabelStore, StateFileError, atomic_io
from mmseg_al.state import label_store as label_store_module

IDS = ['train/a.png', 'train/b.png', 'train/c.png']
SHAPES = [(4, 5), (3, 3), (2, 6)]  # (H, W)
NUM_CLASSES = 4


def new_store(ids=IDS, shapes=SHAPES, num_classes=NUM_CLASSES):
    return LabelStore(ids, shapes, num_classes)


def snapshot(store):
    """Everything the store holds, for equality checks."""
    return {i: [getattr(store, f)(i) for f in
                ('pixels', 'classes', 'rounds', 'scores')]
            for i in store.image_ids}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for image_id in a:
        for x, y in zip(a[image_id], b[image_id]):
            np.testing.assert_array_equal(x, y)  # NaN == NaN here
            assert x.dtype == y.dtype


@pytest.fixture
def store():
    """Two rounds of labels; pixel 7 of b is void (255)."""
    s = new_store()
    s.add_many([('train/b.png', 7, 255), ('train/a.png', 19, 2),
                ('train/a.png', 3, 1)], round_idx=0, scores=[0.5, 0.25, 0.75])
    s.add('train/a.png', np.array([10, 0]), np.array([3, 1]), round_idx=1)
    return s


def test_queries_return_sorted_aligned_arrays(store):
    np.testing.assert_array_equal(store.pixels('train/a.png'), [0, 3, 10, 19])
    np.testing.assert_array_equal(store.classes('train/a.png'), [1, 1, 3, 2])
    np.testing.assert_array_equal(store.rounds('train/a.png'), [1, 0, 1, 0])
    np.testing.assert_array_equal(store.scores('train/a.png'),
                                  [np.nan, 0.75, np.nan, 0.25])
    assert store.pixels('train/a.png').dtype == np.int64
    assert store.pixels('train/c.png').shape == (0, )
    assert store.labelled_image_ids() == ['train/a.png', 'train/b.png']
    assert store.num_labelled == 5
    np.testing.assert_array_equal(store.class_counts(), [0, 2, 1, 1])


def test_returned_arrays_are_copies(store):
    store.pixels('train/a.png')[:] = 99
    np.testing.assert_array_equal(store.pixels('train/a.png'), [0, 3, 10, 19])


def test_up_to_round_keeps_the_labels_of_earlier_rounds_only(store):
    first = store.up_to_round(0)
    np.testing.assert_array_equal(first.pixels('train/a.png'), [3, 19])
    np.testing.assert_array_equal(first.classes('train/a.png'), [1, 2])
    np.testing.assert_array_equal(first.scores('train/a.png'), [0.75, 0.25])
    assert first.num_labelled == 3
    assert first.fingerprint == store.fingerprint
    assert_same(snapshot(store.up_to_round(1)), snapshot(store))
    assert store.num_labelled == 5  # the original is unchanged
    first.add('train/c.png', [0], [0], round_idx=1)
    assert store.labelled_image_ids() == ['train/a.png', 'train/b.png']


def test_label_map_matches_a_reference(store):
    expected = np.full((3, 3), 255)
    expected[2, 1] = 255  # pixel 7 = (x=1, y=2) is void-marked
    np.testing.assert_array_equal(store.label_map('train/b.png'), expected)
    expected = np.full((4, 5), 255)
    for pixel, cls in [(0, 1), (3, 1), (10, 3), (19, 2)]:
        expected[pixel // 5, pixel % 5] = cls
    np.testing.assert_array_equal(store.label_map('train/a.png'), expected)


def test_row_and_column_records_are_equivalent():
    rows, numpy_columns, torch_columns = new_store(), new_store(), new_store()
    rows.add_many([('train/c.png', 11, 0), ('train/a.png', 4, 3)], 2)
    numpy_columns.add_many(
        (['train/c.png', 'train/a.png'], np.array([11, 4]), np.array([0, 3])),
        2)
    torch_columns.add_many(
        (('train/c.png', 'train/a.png'), torch.tensor([11, 4]),
         torch.tensor([0, 3])), 2)
    assert_same(snapshot(rows), snapshot(numpy_columns))
    assert_same(snapshot(rows), snapshot(torch_columns))


BAD_BATCHES = [
    ([('train/z.png', 0, 1)],
     re.escape("unknown image id(s) ['train/z.png']")),
    ([('train/b.png', 9, 1)], re.escape(
        "image 'train/b.png' pixel 9: outside its 3x3 grid (valid 0..8)")),
    ([('train/b.png', -1, 1)], re.escape("image 'train/b.png' pixel -1: "
                                         'outside')),
    ([('train/a.png', 3, 0)], re.escape(
        "image 'train/a.png' pixel 3 (x=3, y=0): already labelled "
        '(class 1, round 0)')),
    ([('train/c.png', 7, 0), ('train/c.png', 7, 1)], re.escape(
        "image 'train/c.png' pixel 7 (x=1, y=1): given 2 times in this "
        'batch')),
    ([('train/c.png', 7, 4)], re.escape(
        "image 'train/c.png' pixel 7 (x=1, y=1): class 4 is neither in [0, 4)"
        ' nor the void value 255')),
    ([('train/c.png', 7, -1)], 'class -1 is neither'),
    # one good record does not get in with a bad one
    ([('train/c.png', 0, 1), ('train/c.png', 12, 1)], 'pixel 12: outside'),
]


@pytest.mark.parametrize('records,message', BAD_BATCHES)
def test_bad_batches_are_rejected_whole_with_a_precise_message(
        store, records, message):
    before = snapshot(store)
    with pytest.raises(ValueError, match=message):
        store.add_many(records, round_idx=2)
    assert_same(snapshot(store), before)


def test_all_bad_records_are_reported_at_once(store):
    with pytest.raises(ValueError) as info:
        store.add_many([('train/a.png', 3, 0), ('train/b.png', 0, 9),
                        ('train/c.png', 50, 0)], 2)
    message = str(info.value)
    assert message.startswith('3 bad record(s), nothing was added')
    assert 'already labelled' in message and 'class 9' in message \
        and 'pixel 50' in message


def test_non_integer_and_misaligned_input_is_rejected(store):
    before = snapshot(store)
    with pytest.raises(TypeError, match='pixels must be integers, got dtype '
                                        'float64'):
        store.add('train/c.png', np.array([1.5]), np.array([0]), 2)
    with pytest.raises(TypeError, match='classes must be integers'):
        store.add_many([('train/c.png', 1, 2.7)], 2)
    with pytest.raises(ValueError, match=re.escape(
            "record 0 is ('train/c.png', 1); expected (image_id, pixel, "
            'class)')):
        store.add_many([('train/c.png', 1)], 2)
    with pytest.raises(ValueError, match='1 pixels, 2 classes'):
        store.add('train/c.png', np.array([1]), np.array([0, 1]), 2)
    with pytest.raises(ValueError, match='2 scores'):
        store.add('train/c.png', np.array([1]), np.array([0]), 2,
                  scores=[0.1, 0.2])
    assert_same(snapshot(store), before)


def test_unknown_image_on_query_raises_naming_it(store):
    with pytest.raises(KeyError, match='train/nope.png'):
        store.pixels('train/nope.png')


@pytest.mark.parametrize('args,message', [
    ((IDS, SHAPES[:2], 4), 'got 3 image ids but 2 image shapes'),
    ((['a', 'b', 'a'], SHAPES, 4), "image id 'a' appears more than once"),
    ((IDS, [(4, 5), (0, 3), (2, 6)], 4),
     "image 'train/b.png' has the shape (0, 3); expected (H, W) with "
     'H, W > 0'),
    ((IDS, [(4, 5), (3, 3, 3), (2, 6)], 4), 'has the shape (3, 3, 3)'),
    ((IDS, SHAPES, 0), 'num_classes must be >= 1'),
    (([], [], 4), 'at least one image'),
])
def test_constructor_rejects_inconsistent_datasets(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        LabelStore(*args)


def test_ignore_index_must_not_be_a_class():
    with pytest.raises(ValueError, match='ignore_index 3 is a valid class'):
        LabelStore(IDS, SHAPES, 4, ignore_index=3)


def test_fingerprint_identifies_ids_sizes_and_classes_not_order():
    base = new_store().fingerprint
    assert LabelStore(IDS[::-1], SHAPES[::-1], 4).fingerprint == base
    assert new_store(num_classes=5).fingerprint != base
    assert new_store(shapes=[(4, 5), (3, 3), (2, 7)]).fingerprint != base
    assert new_store(ids=['train/a.png', 'train/b.png', 'train/d.png']
                     ).fingerprint != base


# ---------------------------------------------------------------- save/load
def test_save_load_round_trip_keeps_every_array(store, tmp_path):
    path = store.save(tmp_path / 'al_state', round_idx=1)
    assert path == str(tmp_path / 'al_state' / 'round_01.npz')
    loaded = LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, NUM_CLASSES)
    assert_same(snapshot(loaded), snapshot(store))
    assert loaded.fingerprint == store.fingerprint


def test_latest_json_describes_the_saved_round(store, tmp_path):
    store.save(tmp_path / 'al_state', round_idx=1)
    latest = json.loads((tmp_path / 'al_state' / 'latest.json').read_text())
    assert latest == {
        'format_version': 2, 'round': 1, 'file': 'round_01.npz',
        'fingerprint': store.fingerprint, 'num_images': 3, 'num_classes': 4,
        'ignore_index': 255, 'num_labelled': 5, 'num_clicks': 5,
        'num_expanded': 0, 'num_void': 1,
        'num_labelled_images': 2, 'class_counts': [0, 2, 1, 1],
        'sha256': hashlib.sha256(
            (tmp_path / 'al_state' / 'round_01.npz').read_bytes()
        ).hexdigest()}


def test_every_round_is_kept_and_loadable(tmp_path):
    store = new_store()
    states = []
    for round_idx in range(3):
        store.add('train/c.png', [round_idx], [round_idx], round_idx)
        store.save(tmp_path / 'al_state', round_idx)
        states.append(snapshot(store))
    assert LabelStore.saved_rounds(tmp_path / 'al_state') == [0, 1, 2]
    assert LabelStore.latest_round(tmp_path / 'al_state') == 2
    assert_same(
        snapshot(LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, 4)),
        states[2])
    for round_idx, state in enumerate(states):
        loaded = LabelStore.load(tmp_path / 'al_state',
                                 IDS,
                                 SHAPES,
                                 4,
                                 round_idx=round_idx)
        assert_same(snapshot(loaded), state)


def test_empty_store_round_trips(tmp_path):
    new_store().save(tmp_path / 'al_state', 0)
    loaded = LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, NUM_CLASSES)
    assert loaded.num_labelled == 0 and loaded.labelled_image_ids() == []


def test_state_loads_into_the_same_dataset_listed_in_another_order(
        store, tmp_path):
    store.save(tmp_path / 'al_state', 1)
    loaded = LabelStore.load(tmp_path / 'al_state', IDS[::-1], SHAPES[::-1],
                             NUM_CLASSES)
    assert_same({k: v for k, v in snapshot(loaded).items()},
                {k: v for k, v in snapshot(store).items()})
    assert loaded.labelled_image_ids() == ['train/b.png', 'train/a.png']


def test_state_files_hold_no_pickles(store, tmp_path):
    path = store.save(tmp_path / 'al_state', 1)
    with np.load(path, allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)


def test_refuses_the_state_of_another_dataset(store, tmp_path):
    store.save(tmp_path / 'al_state', 1)
    other_ids = ['train/a.png', 'train/b.png', 'train/x.png']
    other = LabelStore(other_ids, SHAPES, NUM_CLASSES)
    for round_idx, name in [(None, 'latest.json'), (1, 'round_01.npz')]:
        with pytest.raises(StateFileError) as info:
            LabelStore.load(tmp_path / 'al_state',
                            other_ids,
                            SHAPES,
                            NUM_CLASSES,
                            round_idx=round_idx)
        message = str(info.value)
        assert name in message and 'another dataset' in message
        assert store.fingerprint in message and other.fingerprint in message


def test_no_saved_state_is_a_clear_error(tmp_path):
    assert LabelStore.latest_round(tmp_path / 'al_state') is None
    assert LabelStore.saved_rounds(tmp_path / 'al_state') == []
    with pytest.raises(StateFileError, match='no saved label state: .*'
                                             'latest.json does not exist'):
        LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, NUM_CLASSES)


def file_bytes(directory):
    return {name: (directory / name).read_bytes()
            for name in sorted(os.listdir(directory))}


@pytest.mark.parametrize('failing_target', ['round_02.npz', 'latest.json'])
def test_interrupted_rename_keeps_the_previous_state_intact(
        store, tmp_path, monkeypatch, failing_target):
    store.save(tmp_path / 'al_state', 1)
    state_dir = tmp_path / 'al_state'
    before = file_bytes(state_dir)
    expected = snapshot(store)
    real_replace = os.replace

    def crashing_replace(src, dst):
        if os.path.basename(dst) == failing_target:
            raise OSError('power cut')
        real_replace(src, dst)

    monkeypatch.setattr(atomic_io.os, 'replace', crashing_replace)
    store.add('train/c.png', [5], [2], round_idx=2)
    with pytest.raises(OSError, match='power cut'):
        store.save(tmp_path / 'al_state', 2)
    monkeypatch.undo()

    after = file_bytes(state_dir)
    for name, data in before.items():  # byte-identical
        assert after[name] == data
    assert set(after) - set(before) <= {'round_02.npz'}
    assert not [n for n in after if n.endswith('.tmp')]
    assert LabelStore.latest_round(tmp_path / 'al_state') == 1
    assert_same(
        snapshot(LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, 4)),
        expected)


def test_write_crashing_midway_keeps_the_previous_state_intact(
        store, tmp_path, monkeypatch):
    store.save(tmp_path / 'al_state', 1)
    before = file_bytes(tmp_path / 'al_state')

    def crashing_savez(file, **arrays):
        file.write(b'PK\x03\x04 half a zip')
        raise OSError('disk full')

    monkeypatch.setattr(label_store_module.np, 'savez_compressed',
                        crashing_savez)
    with pytest.raises(OSError, match='disk full'):
        store.save(tmp_path / 'al_state', 2)
    monkeypatch.undo()
    assert file_bytes(tmp_path / 'al_state') == before
    assert_same(
        snapshot(LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, 4)),
        snapshot(store))


def save_two_rounds(tmp_path):
    store = new_store()
    store.add('train/a.png', [1, 2], [0, 1], 0)
    store.save(tmp_path / 'al_state', 0)
    round0 = snapshot(store)
    store.add('train/b.png', [4], [3], 1)
    store.save(tmp_path / 'al_state', 1)
    return round0, tmp_path / 'al_state'


def assert_round0_still_loads(tmp_path, round0):
    """A damaged later round never costs the labels of round 0."""
    assert_same(snapshot(LabelStore.load(tmp_path / 'al_state', IDS, SHAPES,
                                         NUM_CLASSES, round_idx=0)), round0)


@pytest.mark.parametrize('damage', [
    lambda data: data[:len(data) // 2],  # truncated
    lambda data: data[:40] + bytes(200) + data[240:],  # zeroed block
    lambda data: b'',
])
def test_corrupt_round_file_names_the_file_and_earlier_rounds_still_load(
        tmp_path, damage):
    round0, state_dir = save_two_rounds(tmp_path)
    path = state_dir / 'round_01.npz'
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(StateFileError,
                       match=re.escape(str(path)) + '.*corrupt'):
        LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, NUM_CLASSES)
    assert_round0_still_loads(tmp_path, round0)


def test_latest_pointing_at_a_missing_file_names_it(tmp_path):
    round0, state_dir = save_two_rounds(tmp_path)
    os.remove(state_dir / 'round_01.npz')
    with pytest.raises(StateFileError) as info:
        LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, NUM_CLASSES)
    message = str(info.value)
    assert str(state_dir / 'round_01.npz') in message
    assert 'does not exist' in message and 'saved rounds' in message
    assert '[0]' in message
    assert_round0_still_loads(tmp_path, round0)


@pytest.mark.parametrize('content,message', [
    ('{"round": 1, "fil', 'unreadable or corrupt'),
    ('{"round": 1}', "lacks the key(s) ['file', 'fingerprint'"),
    ('[1, 2]', 'lacks the key(s)'),
])
def test_corrupt_latest_json_names_the_file(tmp_path, content, message):
    round0, state_dir = save_two_rounds(tmp_path)
    (state_dir / 'latest.json').write_text(content)
    with pytest.raises(StateFileError, match=re.escape(
            str(state_dir / 'latest.json')) + '.*' + re.escape(message)):
        LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, NUM_CLASSES)
    assert_round0_still_loads(tmp_path, round0)


def test_latest_json_may_only_name_a_file_in_the_state_directory(tmp_path):
    _, state_dir = save_two_rounds(tmp_path)
    latest = json.loads((state_dir / 'latest.json').read_text())
    latest['file'] = '../elsewhere.npz'
    (state_dir / 'latest.json').write_text(json.dumps(latest))
    with pytest.raises(StateFileError, match="got '../elsewhere.npz'"):
        LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, NUM_CLASSES)


def tamper_saved_state(tmp_path, **replacements):
    """Save one labelled pixel as round 0, then overwrite some arrays."""
    store = new_store()
    store.add('train/b.png', [8], [1], 0)
    path = store.save(tmp_path / 'al_state', 0)
    with np.load(path) as data:
        arrays = dict(data)
    arrays.update(replacements)
    np.savez(path, **arrays)
    return path


def test_foreign_npz_is_refused(tmp_path):
    state_dir = tmp_path / 'al_state'
    state_dir.mkdir()
    np.savez(state_dir / 'round_00.npz', pixels=np.array([1, 2]))
    with pytest.raises(StateFileError, match="lacks the array.*'image_ids'"):
        LabelStore.load(tmp_path / 'al_state',
                        IDS,
                        SHAPES,
                        NUM_CLASSES,
                        round_idx=0)


def test_pickled_arrays_are_never_loaded(tmp_path):
    path = tamper_saved_state(tmp_path,
                              pixels=np.array([{'x': 1}], dtype=object))
    with pytest.raises(StateFileError, match=re.escape(path) +
                       ' is truncated or corrupt .*pickle'):
        LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, NUM_CLASSES)


@pytest.mark.parametrize('key,value', [('pixels', np.array([[8]])),
                                       ('classes', np.array([1, 2])),
                                       ('round', np.array([0, 1]))])
def test_misshapen_arrays_in_a_state_file_are_refused(tmp_path, key, value):
    path = tamper_saved_state(tmp_path, **{key: value})
    with pytest.raises(StateFileError, match=re.escape(path) +
                       ' is corrupt: its record arrays are not aligned'):
        LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, NUM_CLASSES)


def test_invalid_records_in_a_state_file_are_refused(tmp_path):
    path = tamper_saved_state(tmp_path, pixels=np.array([9]))  # 3x3 image
    with pytest.raises(StateFileError, match='(?s)' + re.escape(path) +
                       ' holds invalid records.*pixel 9: outside'):
        LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, NUM_CLASSES)


def test_a_round_file_changed_after_saving_is_refused(store, tmp_path):
    """A record removed (arrays still aligned and valid) or any other
    change: the checksum, then the record count, in latest.json say so."""
    path = store.save(tmp_path / 'al_state', round_idx=1)
    with np.load(path) as data:
        arrays = {k: data[k][1:] if data[k].ndim else data[k]
                  for k in data.files}
    np.savez_compressed(path, **arrays)
    with pytest.raises(StateFileError) as error:
        LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, NUM_CLASSES)
    digest = hashlib.sha256(open(path, 'rb').read()).hexdigest()
    recorded = json.loads(
        (tmp_path / 'al_state' / 'latest.json').read_text())['sha256']
    assert str(error.value) == (
        f'{path} was changed after it was saved (its SHA-256 is '
        f'{digest[:16]}..., latest.json recorded {recorded[:16]}...). '
        'Restore it from a backup, or load another saved round ([1]) with '
        'round_idx=k.')
    # a latest.json without checksum still has the record count
    latest_path = tmp_path / 'al_state' / 'latest.json'
    latest = json.loads(latest_path.read_text())
    del latest['sha256']
    latest_path.write_text(json.dumps(latest))
    with pytest.raises(StateFileError, match=re.escape(
            '(it holds 4 records, latest.json recorded 5)')):
        LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, NUM_CLASSES)


def test_round_files_without_latest_json_are_not_a_fresh_run(store,
                                                             tmp_path):
    store.save(tmp_path / 'al_state', round_idx=0)
    store.save(tmp_path / 'al_state', round_idx=1)
    latest = tmp_path / 'al_state' / 'latest.json'
    os.remove(latest)
    with pytest.raises(StateFileError) as error:
        LabelStore.latest_round(tmp_path / 'al_state')
    assert str(error.value).startswith(
        f'{latest} is missing, but the label states of rounds [0, 1] are '
        'saved next to it')
    # the recovery the message gives
    LabelStore.load(tmp_path / 'al_state', IDS, SHAPES, NUM_CLASSES,
                    round_idx=1).save(tmp_path / 'al_state', 1)
    assert LabelStore.latest_round(tmp_path / 'al_state') == 1


# ---------------------------------------------------------- expanded pixels
@pytest.fixture
def expanded_store():
    """Round 0: clicks a:3 (class 1) and a:19 (class 2), b:7 void; pixels
    4 and 8 of a expanded from 3, 18 from 19."""
    s = new_store()
    s.add_many([('train/b.png', 7, 255), ('train/a.png', 19, 2),
                ('train/a.png', 3, 1)], round_idx=0, scores=[0.5, 0.25, 0.75])
    s.add_expanded(['train/a.png'] * 3, [4, 8, 18], [3, 3, 19], round_idx=0)
    return s


def test_expanded_pixels_point_to_their_click_and_are_flagged(
        expanded_store):
    s = expanded_store
    np.testing.assert_array_equal(s.pixels('train/a.png'), [3, 4, 8, 18, 19])
    np.testing.assert_array_equal(s.classes('train/a.png'), [1, 1, 1, 2, 2])
    np.testing.assert_array_equal(s.sources('train/a.png'), [3, 3, 3, 19, 19])
    np.testing.assert_array_equal(s.expanded('train/a.png'),
                                  [False, True, True, True, False])
    np.testing.assert_array_equal(s.scores('train/a.png'),
                                  [0.75, np.nan, np.nan, np.nan, 0.25])
    assert (s.num_labelled, s.num_clicks, s.num_expanded) == (6, 3, 3)
    np.testing.assert_array_equal(s.class_counts(), [0, 3, 2, 0])
    clicks = np.full(20, 255)
    clicks[[3, 19]] = [1, 2]
    np.testing.assert_array_equal(
        s.label_map('train/a.png', clicks_only=True).reshape(-1), clicks)
    clicks[[4, 8, 18]] = [1, 1, 2]
    np.testing.assert_array_equal(s.label_map('train/a.png').reshape(-1),
                                  clicks)


@pytest.mark.parametrize('image_id, pixel, source, round_idx, problem', [
    ('train/a.png', 5, 4, 0, 'source 4: not a click'),  # expanded, no click
    ('train/a.png', 5, 0, 0, 'source 0: not a click'),  # not labelled
    ('train/a.png', 5, 3, 1, 'source 3: not a click'),  # another round
    ('train/b.png', 0, 7, 0, 'source 7: not a click'),  # void click
    ('train/a.png', 19, 3, 0, 'already labelled'),  # the other click
    ('train/a.png', 8, 3, 0, 'already labelled'),  # expanded before
])
def test_bad_expanded_pixels_are_refused_whole(expanded_store, image_id,
                                               pixel, source, round_idx,
                                               problem):
    before = snapshot(expanded_store)
    with pytest.raises(ValueError, match=problem):
        expanded_store.add_expanded(['train/a.png', image_id], [9, pixel],
                                    [3, source], round_idx)
    assert_same(snapshot(expanded_store), before)


def test_expanded_pixels_round_trip_and_state_lists_both_counts(
        expanded_store, tmp_path):
    expanded_store.save(tmp_path, round_idx=0)
    loaded = LabelStore.load(tmp_path, IDS, SHAPES, NUM_CLASSES)
    for name in ('pixels', 'classes', 'rounds', 'scores', 'sources',
                 'expanded'):
        for image_id in IDS:
            a, b = (getattr(s, name)(image_id)
                    for s in (loaded, expanded_store))
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype
    latest = json.loads((tmp_path / 'latest.json').read_text())
    assert (latest['num_labelled'], latest['num_clicks'],
            latest['num_expanded']) == (6, 3, 3)


def test_a_state_file_of_format_1_loads_as_clicks(store, tmp_path):
    store.save(tmp_path, round_idx=1)
    path = tmp_path / 'round_01.npz'
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files
                  if k not in ('sources', 'expanded')}
    arrays['format_version'] = np.int64(1)
    np.savez_compressed(path, **arrays)
    (tmp_path / 'latest.json').unlink()
    loaded = LabelStore.load(tmp_path, IDS, SHAPES, NUM_CLASSES, round_idx=1)
    assert_same(snapshot(loaded), snapshot(store))
    np.testing.assert_array_equal(loaded.sources('train/a.png'),
                                  [0, 3, 10, 19])
    assert not loaded.expanded('train/a.png').any()


def test_a_state_file_whose_expanded_pixel_lost_its_click_is_refused(
        expanded_store, tmp_path):
    expanded_store.save(tmp_path, round_idx=0)
    path = tmp_path / 'round_00.npz'
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays['sources'][arrays['pixels'] == 8] = 5
    np.savez_compressed(path, **arrays)
    (tmp_path / 'latest.json').unlink()
    with pytest.raises(StateFileError, match='pixel 8: expanded from 5'):
        LabelStore.load(tmp_path, IDS, SHAPES, NUM_CLASSES, round_idx=0)


def test_export_writes_the_clicks_only(expanded_store, tmp_path):
    expanded_store.export(tmp_path / 'labels.json')
    rows = json.loads((tmp_path / 'labels.json').read_text())
    rows = rows['annotations'] if isinstance(rows, dict) else rows
    assert sorted((r['image'], r['x'], r['y']) for r in rows) == [
        ('train/a.png', 3, 0), ('train/a.png', 4, 3), ('train/b.png', 1, 2)]


def test_selected_keeps_the_masked_labels(expanded_store):
    clicks = expanded_store.selected(
        {i: ~expanded_store.expanded(i) for i in IDS})
    assert (clicks.num_clicks, clicks.num_expanded) == (3, 0)
    np.testing.assert_array_equal(clicks.pixels('train/a.png'), [3, 19])
