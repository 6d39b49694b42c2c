"""End-to-end runs of the loop on a tiny toy pool (CPU, random tiny UNet)."""
import glob
import json
import math
import os.path as osp
import textwrap

import cv2
import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from mmseg_al.engine import QueryOverlayHook
from mmseg_al.datasets.toy_scenes import TOY_SCENES_CLASSES
from mmseg_al.models.decode_heads import PixelMLPHead
from mmseg_al.registry import TASK_UTILS
from mmseg_al.selection import TwoStageSelector
from mmseg_al.state import RunDir
from helpers.toy_run import al_train_main, outcomes, write_toy_config


def read_json(path):
    with open(path, encoding='utf-8') as file:
        return json.load(file)


def labelled_state(work_dir, round_idx):
    """The arrays of ``al_state/round_XX.npz`` as lists."""
    name = f'round_{round_idx:02d}.npz'
    data = np.load(osp.join(work_dir, 'al_state', name))
    return {key: data[key].tolist() for key in data.files}


def test_run_outputs_and_resume_after_interruption(tmp_path, tiny_unet_cfg,
                                                   monkeypatch):
    cfg = write_toy_config(tmp_path / 'toy.py', tmp_path / 'data',
                           tiny_unet_cfg)
    full = str(tmp_path / 'full')
    assert al_train_main([cfg, '--work-dir', full]) == 0

    metrics = read_json(osp.join(full, 'metrics.json'))
    assert [e['round'] for e in metrics['rounds']] == [0, 1]
    assert [e['labelled_pixels'] for e in metrics['rounds']] == [5, 10]
    for entry in metrics['rounds']:
        assert set(entry) == {'round', 'labelled_pixels', 'mIoU',
                              'per_class_IoU', 'seconds', 'unet_passes'}
        assert 0 <= entry['mIoU'] <= 100
        assert list(entry['per_class_IoU']) == [
            'sky', 'road', 'building', 'vegetation', 'vehicle', 'person']
        present = [v for v in entry['per_class_IoU'].values() if v is not None]
        assert entry['mIoU'] == pytest.approx(np.mean(present), abs=0.01)
        assert {'train', 'evaluate', 'select'} <= set(entry['seconds'])
    # 4 pool images in blocks of 3 and 1, 2 evaluation images: round 0
    # runs every block once (candidates, kept with the calibration sample,
    # so the labels and the calibration need no pass), round 1 only its 3
    # noise draws; the evaluation maps are kept after round 0
    assert [e['unet_passes'] for e in metrics['rounds']] == [
        {'candidates': 4, 'evaluation': 2}, {'draws': 12, 'evaluation': 0}]
    for name in ('al_state/round_00.npz', 'al_state/round_01.npz',
                 'al_state/latest.json', 'queries/round_00.json',
                 'queries/round_01.json', 'curve.png'):
        assert osp.isfile(osp.join(full, name)), name
    assert len(list((tmp_path / 'full' / 'queries' / 'round_01').glob(
        '*.png'))) >= 1
    queries = read_json(osp.join(full, 'queries', 'round_01.json'))
    assert len(queries) == 5 and all(q['round'] == 1 for q in queries)
    assert all(osp.isfile(q['path']) for q in queries)  # for annotators
    state = labelled_state(full, 1)
    assert sorted(state['rounds']) == [0] * 5 + [1] * 5
    # the queried pixels are exactly the pixels labelled in round 1
    shapes = {q['image']: 32 for q in queries}
    asked = sorted((q['image'], q['y'] * shapes[q['image']] + q['x'])
                   for q in queries)
    got = sorted((i, p) for i, p, r in zip(state['image_ids'],
                                           state['pixels'], state['rounds'])
                 if r == 1)
    assert asked == got

    # interrupt the same run in round 1's selection, then resume it
    original = TwoStageSelector.select

    def crash_in_round_1(self, context, budget):
        if context.round_idx == 1:
            raise KeyboardInterrupt('simulated crash')
        return original(self, context, budget)

    resumed = str(tmp_path / 'resumed')
    monkeypatch.setattr(TwoStageSelector, 'select', crash_in_round_1)
    with pytest.raises(KeyboardInterrupt):
        al_train_main([cfg, '--work-dir', resumed])
    assert RunDir(resumed).latest_labelled_round() == 0
    assert len(read_json(osp.join(resumed, 'metrics.json'))['rounds']) == 1
    monkeypatch.setattr(TwoStageSelector, 'select', original)
    with pytest.raises(FileExistsError, match='--resume'):
        al_train_main([cfg, '--work-dir', resumed])
    assert al_train_main([cfg, '--work-dir', resumed, '--resume']) == 0

    assert labelled_state(resumed, 1) == state
    assert labelled_state(resumed, 0) == labelled_state(full, 0)
    assert outcomes(read_json(osp.join(resumed, 'metrics.json'))['rounds']) \
        == outcomes(metrics['rounds'])
    # another seed would choose other pixels: refused, files untouched
    with pytest.raises(ValueError, match='resume with --seed 0'):
        al_train_main([cfg, '--work-dir', resumed, '--resume', '--seed', '5'])
    assert labelled_state(resumed, 1) == state


def answer_from_ground_truth(query_file, ann_dir):
    """Fill in a query file as a perfect annotator would."""
    rows = read_json(query_file)
    for row in rows:
        label = cv2.imread(osp.join(ann_dir, row['image']),
                           cv2.IMREAD_UNCHANGED)
        row['class'] = int(label[row['y'], row['x']])
    with open(query_file, 'w', encoding='utf-8') as file:
        json.dump(rows, file)


def test_file_oracle_round_trip(tmp_path, tiny_unet_cfg, capsys):
    cfg = write_toy_config(tmp_path / 'toy.py', tmp_path / 'data',
                           tiny_unet_cfg,
                           extra="train_cfg.update(oracle=dict("
                           "type='FileOracle'))\n")
    work = str(tmp_path / 'work')
    ann_dir = str(tmp_path / 'data' / 'ann_dir' / 'train')
    assert al_train_main([cfg, '--work-dir', work]) == 3
    query_file = osp.join(work, 'queries', 'round_00.json')
    said = capsys.readouterr().err
    assert 'Round 0: 5 pixels await labels' in said
    assert f'python tools/annotate.py {work}\n' in said
    assert 'bad row' not in said
    assert RunDir(work).latest_labelled_round() is None
    answer_from_ground_truth(query_file, ann_dir)

    assert al_train_main([cfg, '--work-dir', work, '--resume']) == 3
    assert osp.join(work, 'queries', 'round_01.json') in \
        capsys.readouterr().err
    assert RunDir(work).latest_labelled_round() == 0
    assert len(read_json(osp.join(work, 'metrics.json'))['rounds']) == 1
    answer_from_ground_truth(osp.join(work, 'queries', 'round_01.json'),
                             ann_dir)

    assert al_train_main([cfg, '--work-dir', work, '--resume']) == 0
    metrics = read_json(osp.join(work, 'metrics.json'))
    assert [e['labelled_pixels'] for e in metrics['rounds']] == [5, 10]
    # the pending selections were labelled, not selected again
    assert all('select' not in e['seconds'] for e in metrics['rounds'])
    state = labelled_state(work, 1)
    answers = read_json(osp.join(work, 'queries', 'round_01.json'))
    labelled = {(i, p): c for i, p, c in zip(
        state['image_ids'], state['pixels'], state['classes'])}
    assert all(labelled[(a['image'], a['y'] * 32 + a['x'])] == a['class']
               for a in answers)


def test_runner_checkpoints_resume_and_rounds_extend(tmp_path, tiny_unet_cfg):
    """With CheckpointHook on, --resume also restores mmengine's checkpoint
    (torch.load with weights_only=True) and the run grows by a round."""
    cfg = write_toy_config(
        tmp_path / 'toy.py', tmp_path / 'data', tiny_unet_cfg,
        extra='default_hooks = dict(checkpoint=dict(interval=1))\n')
    work = str(tmp_path / 'work')
    assert al_train_main([cfg, '--work-dir', work, '--cfg-options',
                          'train_cfg.rounds=1']) == 0
    checkpoint = torch.load(osp.join(work, 'epoch_1.pth'),
                            weights_only=False)
    assert checkpoint['meta']['dataset_meta']['classes'] == \
        TOY_SCENES_CLASSES  # so mmseg's init_model names the classes
    assert al_train_main([cfg, '--work-dir', work, '--resume']) == 0
    logs = sorted(glob.glob(osp.join(work, '*', '*.log')))
    with open(logs[-1], encoding='utf-8') as file:
        assert 'resumed epoch: 1' in file.read()
    metrics = read_json(osp.join(work, 'metrics.json'))
    assert [e['labelled_pixels'] for e in metrics['rounds']] == [5, 10]


@HOOKS.register_module(force=True)
class IterationRecorderHook(Hook):
    """A user hook: what it sees of the head's training iterations."""

    seen = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        type(self).seen.append(
            (runner.epoch, batch_idx, tuple(data_batch['inputs'].shape),
             float(outputs['loss']), runner.optim_wrapper.get_lr()['lr'][0]))


def test_hooks_and_logger_see_every_head_iteration(tmp_path, tiny_unet_cfg):
    cfg = write_toy_config(
        tmp_path / 'toy.py', tmp_path / 'data', tiny_unet_cfg,
        extra='custom_hooks = [dict(type="IterationRecorderHook")]\n'
        'default_hooks = dict(logger=dict(interval=1))\n'
        'log_processor = dict(window_size=1)\n'  # each iteration's own
        'train_cfg.update(head_training=dict(max_epochs=2, batch_size=4))\n')
    IterationRecorderHook.seen.clear()
    work = str(tmp_path / 'work')
    assert al_train_main([cfg, '--work-dir', work]) == 0
    seen = IterationRecorderHook.seen
    # round 0: 5 pixels -> one batch of 5 (no singleton batch) per epoch;
    # round 1: 10 pixels -> batches of 4, 4 and 2; two epochs each
    dim = 256  # one timestep of the tiny UNet's four blocks
    assert [(r, b, shape) for r, b, shape, _, _ in seen] == [
        (0, 0, (5, dim))] * 2 + [
        (1, 0, (4, dim)), (1, 1, (4, dim)), (1, 2, (2, dim))] * 2
    assert all(math.isfinite(loss) and loss > 0 for *_, loss, _ in seen)
    # the schedule is the config's: cosine, T_max 5, stepped per head epoch
    second = 1e-6 + (1e-3 - 1e-6) * (1 + math.cos(math.pi / 5)) / 2
    assert [lr for *_, lr in seen] == pytest.approx(
        [1e-3, second] + [1e-3] * 3 + [second] * 3)

    log_file, = glob.glob(osp.join(work, '*', '*.log'))
    with open(log_file, encoding='utf-8') as file:
        log = file.read()
    iteration_lines = [line for line in log.splitlines()
                       if 'Epoch(train)' in line and 'loss:' in line]
    assert len(iteration_lines) == len(seen)
    assert 'lr:' in iteration_lines[0]
    scalars_file, = glob.glob(osp.join(work, '*', 'vis_data',
                                       'scalars.json'))
    with open(scalars_file, encoding='utf-8') as file:
        scalars = [json.loads(line) for line in file]
    losses = [s['loss'] for s in scalars if 'loss' in s]
    assert losses == pytest.approx([loss for *_, loss, _ in seen], abs=1e-4)
    # the round's metrics reach the scalar backend too, with per-class IoU
    rounds = [s for s in scalars if 'mIoU' in s]
    assert [s['labelled_pixels'] for s in rounds] == [5, 10]
    assert all('IoU.sky' in s for s in rounds)


def test_amp_flag_autocasts_the_head_on_cpu(tmp_path, tiny_unet_cfg):
    cfg = write_toy_config(
        tmp_path / 'toy.py', tmp_path / 'data', tiny_unet_cfg,
        extra='custom_hooks = [dict(type="IterationRecorderHook")]\n')
    dtypes = []
    original = PixelMLPHead.forward_pixels

    def recording(self, features, *args, **kwargs):
        logits = original(self, features, *args, **kwargs)
        if self.training:
            dtypes.append(logits.dtype)
        return logits

    PixelMLPHead.forward_pixels = recording
    try:
        assert al_train_main([cfg, '--work-dir', str(tmp_path / 'work'),
                              '--amp']) == 0
    finally:
        PixelMLPHead.forward_pixels = original
    assert dtypes and set(dtypes) == {torch.bfloat16}


def test_all_void_round_is_said_clearly(tmp_path, tiny_unet_cfg, caplog):
    cfg = write_toy_config(
        tmp_path / 'toy.py', tmp_path / 'data', tiny_unet_cfg,
        extra='train_cfg.update(rounds=1, oracle=dict('
        'type="AllVoidOracle"))\n')
    work = str(tmp_path / 'work')
    assert al_train_main([cfg, '--work-dir', work]) == 0
    log_file, = glob.glob(osp.join(work, '*', '*.log'))
    with open(log_file, encoding='utf-8') as file:
        assert ('Round 0: all 5 labelled pixels are void, so the head was '
                'not trained; this round evaluates an untrained head.'
                ) in file.read()


@TASK_UTILS.register_module(force=True)
class AllVoidOracle:
    """An annotator who answers 'void' to everything."""

    def annotate(self, queries):
        return np.full(len(queries.pixels), queries.ignore_index)


def test_ensemble_head_run_ranks_by_ensemble_mi_with_cbda(tmp_path,
                                                          tiny_unet_cfg):
    cfg = write_toy_config(
        tmp_path / 'toy.py', tmp_path / 'data', tiny_unet_cfg,
        extra=textwrap.dedent('''\
            model.update(decode_head=dict(
                type='PixelMLPEnsembleHead', num_classes=6, num_models=3))
            train_cfg['selector'].update(stage2=dict(
                type='ScoreRanking', score='ensemble_mi',
                class_balance=dict(mode='cbda', epsilon=0.1)))
            '''))
    work = str(tmp_path / 'work')
    assert al_train_main([cfg, '--work-dir', work]) == 0
    metrics = read_json(osp.join(work, 'metrics.json'))
    assert [e['labelled_pixels'] for e in metrics['rounds']] == [5, 10]
    # round 1 was ranked by (class-balanced) ensemble MI: finite, >= 0
    scores = labelled_state(work, 1)['scores'][5:]
    assert len(scores) == 5
    assert all(np.isfinite(scores)) and min(scores) >= 0


def test_overlays_of_an_interrupted_round_are_drawn_on_resume(
        tmp_path, tiny_unet_cfg, monkeypatch):
    """Killed after round 1's selection was saved, before its overlays:
    the resumed run draws them."""
    cfg = write_toy_config(tmp_path / 'toy.py', tmp_path / 'data',
                           tiny_unet_cfg)
    work = str(tmp_path / 'work')
    original = QueryOverlayHook.after_queries

    def killed_in_round_1(self, runner, queries):
        if queries.round_idx == 1:
            raise KeyboardInterrupt('simulated kill')
        original(self, runner, queries)

    monkeypatch.setattr(QueryOverlayHook, 'after_queries', killed_in_round_1)
    with pytest.raises(KeyboardInterrupt):
        al_train_main([cfg, '--work-dir', work])
    overlay_dir = osp.join(work, 'queries', 'round_01')
    assert osp.isfile(overlay_dir + '.npz')  # the selection is saved
    assert not glob.glob(osp.join(overlay_dir, '*.png'))
    monkeypatch.setattr(QueryOverlayHook, 'after_queries', original)
    assert al_train_main([cfg, '--work-dir', work, '--resume']) == 0
    pngs = glob.glob(osp.join(overlay_dir, '*.png'))
    assert 1 <= len(pngs) <= 2  # max_images=2 in the toy config
    for png in pngs:
        # 32 px upscaled to 256, in a frame of the marker radius 3 + 1
        assert cv2.imread(png).shape[:2] == (264, 264)


SUPERPIXELS = """
train_cfg.update(expansion=dict(
    type='SuperpixelExpansion', params=dict(n_segments=16),
    max_pixels_per_click=20, weight=0.5))
"""


def test_superpixel_expansion_labels_regions_at_the_same_clicks(
        tmp_path, tiny_unet_cfg, capsys, monkeypatch):
    from mmseg_al.annotation import SuperpixelExpansion
    cfg = write_toy_config(tmp_path / 'toy.py', tmp_path / 'data',
                           tiny_unet_cfg, extra=SUPERPIXELS)
    work = str(tmp_path / 'work')
    weights = []
    original = PixelMLPHead.loss_pixels

    def recording(self, features, labels, batch_weights=None):
        weights.append(batch_weights)
        return original(self, features, labels, batch_weights)

    monkeypatch.setattr(PixelMLPHead, 'loss_pixels', recording)
    assert al_train_main([cfg, '--work-dir', work]) == 0
    # clicks weigh 1, expanded pixels train.expansion.weight
    assert set(torch.cat(weights).tolist()) == {0.5, 1.0}
    metrics = read_json(osp.join(work, 'metrics.json'))['rounds']
    state = labelled_state(work, 1)
    expanded = np.array(state['expanded'])
    # the budget counts clicks; metrics.json reports both counts
    assert [e['labelled_pixels'] for e in metrics] == [5, 10]
    assert int((~expanded).sum()) == 10
    assert metrics[1]['expanded_pixels'] == int(expanded.sum()) > 0
    assert metrics[0]['expanded_pixels'] == int(
        expanded[np.array(state['rounds']) == 0].sum())
    # every expanded pixel lies in its click's proposed region (the
    # click's superpixel) and has its click's class
    labels = {(i, p): (c, r) for i, p, c, r in zip(
        state['image_ids'], state['pixels'], state['classes'],
        state['rounds'])}
    expansion = SuperpixelExpansion(params=dict(n_segments=16))
    ann_dir = tmp_path / 'data' / 'img_dir' / 'train'
    for round_idx in (0, 1):
        stem = osp.join(work, 'queries', f'round_{round_idx:02d}')
        with np.load(stem + '_regions.npz') as data:
            regions = np.split(data['pixels'], np.cumsum(data['sizes'])[:-1])
        rows = read_json(stem + '.json')
        for row, region in zip(rows, regions):
            click = row['y'] * 32 + row['x']
            rgb = cv2.imread(str(ann_dir / row['image']))[..., ::-1]
            segments = expansion.segments(rgb).reshape(-1)
            np.testing.assert_array_equal(
                region, np.flatnonzero(segments == segments[click]))
            mine = [p for i, p, s, e in zip(
                state['image_ids'], state['pixels'], state['sources'],
                expanded) if e and i == row['image'] and s == click]
            assert set(mine) <= set(region.tolist())
            assert all(labels[(row['image'], p)] ==
                       (labels[(row['image'], click)][0], round_idx)
                       for p in mine)
    # the head trains on at most 20 expanded pixels per click, logged
    _, per_click = np.unique(
        [f'{i}:{s}' for i, s, e in zip(state['image_ids'], state['sources'],
                                       expanded) if e], return_counts=True)
    assert per_click.max() > 20
    assert (f'Round 1: the head trains on 10 clicks and '
            f'{np.minimum(per_click, 20).sum()} expanded pixels '
            f'({np.maximum(per_click - 20, 0).sum()} more left out: at most '
            '20 per click)') in capsys.readouterr().out
