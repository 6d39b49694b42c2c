"""tools/export_labels.py on a finished toy run: the point file and the
sparse label maps hold exactly the saved labels, and an mmseg dataset
reads the maps back."""
import ast
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest
from mmseg.datasets import BaseSegDataset

from mmseg_al.datasets.toy_scenes import TOY_SCENES_CLASSES
from mmseg_al.state import read_annotations
from helpers.toy_run import al_train_main, tool_main, write_toy_config


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory, tiny_unet_cfg):
    root = tmp_path_factory.mktemp('run')
    data_root = str(root / 'data')
    cfg = write_toy_config(root / 'toy.py', data_root, tiny_unet_cfg)
    work = str(root / 'work')
    assert al_train_main([cfg, '--work-dir', work]) == 0
    return work, data_root


def saved_labels(work, round_idx):
    """``{(image id, pixel): class}`` of a round's state file."""
    state = np.load(osp.join(work, 'al_state', f'round_{round_idx:02d}.npz'))
    return {(str(i), int(p)): int(c) for i, p, c in zip(
        state['image_ids'], state['pixels'], state['classes'])}


@pytest.mark.parametrize('ext', ['.csv', '.json'])
def test_points_and_label_maps_hold_the_saved_labels(finished_run, tmp_path,
                                                     capsys, ext):
    work, data_root = finished_run
    out, maps = tmp_path / f'labels{ext}', tmp_path / 'maps'
    assert tool_main('export_labels', [work, str(out), '--label-maps',
                                       str(maps)]) == 0
    expected = saved_labels(work, 1)
    assert len(expected) == 10  # 5 pixels in each of 2 rounds

    shapes = {f'{i:04d}.png': (32, 32) for i in range(4)}
    rows = read_annotations(out, shapes, 6, round_idx=None)
    assert dict(zip(zip(rows.image_ids, rows.pixels.tolist()),
                    rows.classes.tolist())) == expected
    assert sorted(set(rows.rounds.tolist())) == [0, 1]

    images = sorted({image for image, _ in expected})
    names = (maps / 'split.txt').read_text().split()
    assert names == [osp.splitext(i)[0] for i in images]
    # the dataset config the tool prints reads the maps, as it is
    out = capsys.readouterr().out
    assert f'10 labelled pixels of {len(images)} images' in out
    recipe = ast.literal_eval(out.split('dataset = ', 1)[1].strip())
    assert recipe.pop('type') == 'BaseSegDataset'
    assert recipe['metainfo']['classes'] == TOY_SCENES_CLASSES
    dataset = BaseSegDataset(**recipe, lazy_init=False,
                             pipeline=[dict(type='LoadImageFromFile'),
                                       dict(type='LoadAnnotations')])
    for index, image in enumerate(images):
        sample = dataset[index]
        assert osp.basename(sample['img_path']) == image
        assert sample['img'].shape[:2] == (32, 32)
        label = sample['gt_seg_map'].reshape(-1)
        labelled = {p: c for (i, p), c in expected.items() if i == image}
        unlabelled = np.setdiff1d(np.arange(label.size), list(labelled))
        assert {p: int(label[p]) for p in labelled} == labelled
        assert (label[unlabelled] == 255).all()


def test_an_earlier_round_is_exported(finished_run, tmp_path):
    work, _ = finished_run
    out = tmp_path / 'labels.csv'
    assert tool_main('export_labels', [work, str(out), '--round', '0']) == 0
    shapes = {f'{i:04d}.png': (32, 32) for i in range(4)}
    rows = read_annotations(out, shapes, 6, round_idx=None)
    assert dict(zip(zip(rows.image_ids, rows.pixels.tolist()),
                    rows.classes.tolist())) == saved_labels(work, 0)


@pytest.mark.parametrize('argv,message', [
    (['labels.txt'], "unsupported annotation file type '.txt'"),
    (['labels.csv', '--round', '7'],
     r'round_07.npz does not exist; saved rounds in .*: \[0, 1\]'),
])
def test_bad_requests_are_named(finished_run, tmp_path, capsys, argv,
                                message):
    work, _ = finished_run
    argv = [work, str(tmp_path / argv[0])] + argv[1:]
    assert tool_main('export_labels', argv) == 1
    assert re.search(message, capsys.readouterr().err)
    assert not osp.exists(argv[1])  # the file asked for


def test_a_folder_named_like_the_points_file_is_refused(finished_run,
                                                        tmp_path, capsys):
    work, _ = finished_run
    folder = tmp_path / 'labels.json'
    folder.mkdir()
    assert tool_main('export_labels', [work, str(folder)]) == 1
    assert f'{folder} is a folder; name the .csv or .json file to write' in \
        capsys.readouterr().err
    assert os.listdir(folder) == []


def run_files(work):
    """``{path: bytes}`` of every file of the work dir."""
    return {osp.join(root, name): open(osp.join(root, name), 'rb').read()
            for root, _, names in os.walk(work) for name in names}


@pytest.mark.parametrize('target,kept', [
    ('al_state/latest.json', 'inside {work}/al_state'),
    ('al_state/new.csv', 'inside {work}/al_state'),
    ('queries/round_01.json', 'inside {work}/queries'),
    ('queries/round_01/labels.json', 'inside {work}/queries'),
    ('metrics.json', '{work}/metrics.json'),
    ('al_run.json', '{work}/al_run.json'),
])
def test_the_run_s_own_files_are_never_written(finished_run, tmp_path,
                                               capsys, target, kept):
    work, _ = finished_run
    before = run_files(work)
    kept = kept.format(work=osp.realpath(work))
    # directly, through a symlinked file and through a symlinked folder
    os.symlink(osp.join(work, target), tmp_path / 'link.json')
    folder, name = osp.split(target)
    os.symlink(osp.join(work, folder), tmp_path / 'folder')
    for out in (osp.join(work, target), str(tmp_path / 'link.json'),
                str(tmp_path / 'folder' / name)):
        assert tool_main('export_labels', [work, out]) == 1
        assert f'{out} is {kept}, which the run keeps for itself' in \
            capsys.readouterr().err
    assert tool_main('export_labels', [
        work, str(tmp_path / 'labels.csv'), '--label-maps',
        osp.join(work, 'al_state', 'maps')]) == 1
    assert 'which the run keeps for itself' in capsys.readouterr().err
    assert run_files(work) == before
    assert not osp.exists(tmp_path / 'labels.csv')


def test_label_maps_never_overwrite_other_files(finished_run, tmp_path,
                                                capsys):
    work, _ = finished_run
    maps = tmp_path / 'ann_dir'
    maps.mkdir()
    # a dataset's own split file does not make it an export
    (maps / '0000.png').write_bytes(b'ground truth')
    (maps / 'split.txt').write_text('0000\n')
    assert tool_main('export_labels', [work, str(tmp_path / 'labels.csv'),
                                       '--label-maps', str(maps)]) == 1
    assert f'{maps} holds files that no label-map export wrote (no ' \
        '.mmseg_al_label_maps); give a new or empty folder' in \
        capsys.readouterr().err
    assert (maps / '0000.png').read_bytes() == b'ground truth'
    assert (maps / 'split.txt').read_text() == '0000\n'
    # a file is refused before the points are written
    assert tool_main('export_labels', [work, str(tmp_path / 'labels.csv'),
                                       '--label-maps',
                                       str(maps / 'split.txt')]) == 1
    assert f'{maps / "split.txt"} is a file, not a folder' in \
        capsys.readouterr().err
    assert not osp.exists(tmp_path / 'labels.csv')
    assert tool_main('export_labels', [work, str(tmp_path / 'labels.csv'),
                                       '--label-maps',
                                       str(tmp_path / 'new')]) == 0
    assert tool_main('export_labels', [work, str(tmp_path / 'labels.csv'),
                                       '--label-maps',
                                       str(tmp_path / 'new')]) == 0


def test_expanded_pixels_are_in_the_label_maps_not_the_points(
        tmp_path, tiny_unet_cfg, capsys):
    cfg = write_toy_config(
        tmp_path / 'toy.py', tmp_path / 'data', tiny_unet_cfg,
        extra="train_cfg.update(expansion=dict(type='SuperpixelExpansion',"
        " params=dict(n_segments=16)))\n")
    work = str(tmp_path / 'work')
    assert al_train_main([cfg, '--work-dir', work]) == 0
    state = np.load(osp.join(work, 'al_state', 'round_01.npz'))
    everything = saved_labels(work, 1)
    clicks = {(str(i), int(p)): int(c) for i, p, c, e in zip(
        state['image_ids'], state['pixels'], state['classes'],
        state['expanded']) if not e}
    assert len(clicks) == 10 and len(everything) > 10
    capsys.readouterr()
    out, maps = tmp_path / 'labels.json', tmp_path / 'maps'
    assert tool_main('export_labels', [work, str(out), '--label-maps',
                                       str(maps)]) == 0
    shapes = {f'{i:04d}.png': (32, 32) for i in range(4)}
    rows = read_annotations(out, shapes, 6, round_idx=None)
    assert dict(zip(zip(rows.image_ids, rows.pixels.tolist()),
                    rows.classes.tolist())) == clicks
    assert f'also hold {len(everything) - 10} expanded pixels' in \
        capsys.readouterr().out
    click_maps = tmp_path / 'click_maps'
    assert tool_main('export_labels', [work, str(tmp_path / 'c.json'),
                                       '--label-maps', str(click_maps),
                                       '--clicks-only']) == 0
    for folder, expected in ((maps, everything), (click_maps, clicks)):
        found = {}
        for image in sorted({i for i, _ in everything}):
            label = cv2.imread(str(folder / image), cv2.IMREAD_UNCHANGED)
            found.update({(image, int(p)): int(label.flat[p])
                          for p in np.flatnonzero(label.reshape(-1) != 255)})
        assert found == expected
