"""A run killed at any point and resumed equals an uninterrupted run, bit
for bit: labelled state, queries and metrics (costs aside).

The killed runs are subprocesses that really die (SIGKILL, see kill_at.py);
they run single-threaded like the in-process runs (tests/test_engine's
conftest), so that all runs compute alike.
"""
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from mmseg_al.state import RunDir

from helpers.toy_run import REPO, al_train_main, outcomes, write_toy_config

KILL_AT = osp.join(osp.dirname(osp.abspath(__file__)), 'kill_at.py')
ROUNDS = 3


def run_killed(argv, point, round_idx):
    """Run al_train.py in a subprocess killed at ``point`` of a round."""
    return subprocess.run(
        [sys.executable, KILL_AT, point, str(round_idx), '--', *argv],
        cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))


def outputs(work_dir):
    """What a run must reproduce: every state and selection array, the
    query files and the metrics without their costs (timings, passes)."""
    found = {}
    for folder in ('al_state', 'queries'):
        for name in sorted(os.listdir(osp.join(work_dir, folder))):
            path = osp.join(work_dir, folder, name)
            if name.endswith('.npz'):
                with np.load(path) as data:
                    found[f'{folder}/{name}'] = {
                        k: data[k].tobytes() for k in data.files}
            elif name.endswith('.json') and name != 'latest.json':
                with open(path, encoding='utf-8') as file:
                    found[f'{folder}/{name}'] = file.read()
    with open(osp.join(work_dir, 'metrics.json'), encoding='utf-8') as file:
        found['metrics'] = outcomes(json.load(file)['rounds'])
    return found


#: 8 pool images in blocks of 3 and 5 pixels a round: each round labels
#: pixels in images not labelled before, so a resumed run extracts the
#: labelled pixels' blocks that an uninterrupted one had kept.
EIGHT_IMAGES = f"""
toy = dict(toy, num_train=8)
train_dataloader = dict(dataset=dict(dataset=toy))
val_dataloader = dict(dataset=toy)
test_dataloader = val_dataloader
train_cfg.update(rounds={ROUNDS})
"""
#: (point, round) kill_at.py kills at: before round 1 is trained (its
#: labels saved); after round 1 is evaluated, before round 2 is selected
#: (its head is retrained after the resume); after round 2's selection,
#: before it is labelled.
KILL_POINTS = (('state_saved', 1), ('evaluated', 1), ('selection_saved', 2))


@pytest.fixture(scope='module')
def reference(tmp_path_factory, tiny_unet_cfg):
    """The config and work dir of an uninterrupted run, and its outputs."""
    root = tmp_path_factory.mktemp('reference')
    cfg = write_toy_config(root / 'toy.py', root / 'data', tiny_unet_cfg,
                           extra=EIGHT_IMAGES)
    full = str(root / 'full')
    assert al_train_main([cfg, '--work-dir', full]) == 0
    expected = outputs(full)
    assert [e['labelled_pixels'] for e in expected['metrics']] == [5, 10, 15]
    return cfg, full, expected


def assert_killed_runs_resume_identically(cfg, expected, tmp_path):
    for point, round_idx in KILL_POINTS:
        work = str(tmp_path / f'{point}_{round_idx}')
        killed = run_killed([cfg, '--work-dir', work], point, round_idx)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
        assert RunDir(work).latest_labelled_round() == round_idx - (
            point == 'selection_saved')
        asked = osp.join(work, 'queries', f'round_{round_idx:02d}.json')
        assert osp.exists(asked) == (point != 'selection_saved')
        assert al_train_main([cfg, '--work-dir', work, '--resume']) == 0
        got = outputs(work)
        assert sorted(got) == sorted(expected), point
        for key in expected:
            assert got[key] == expected[key], (point, key)


def test_killed_and_resumed_runs_are_identical(tmp_path, reference):
    cfg, _, expected = reference
    assert_killed_runs_resume_identically(cfg, expected, tmp_path)


def test_killed_and_resumed_runs_with_region_expansion_are_identical(
        tmp_path_factory, tiny_unet_cfg):
    """Proposed regions, expanded pixels (flags, sources) and metrics with
    both counts, bit for bit."""
    root = tmp_path_factory.mktemp('expansion')
    cfg = write_toy_config(
        root / 'toy.py', root / 'data', tiny_unet_cfg,
        extra=EIGHT_IMAGES + "train_cfg.update(expansion=dict(type='"
        "SuperpixelExpansion', params=dict(n_segments=16), "
        'max_pixels_per_click=20, weight=0.5))\n')
    full = str(root / 'full')
    assert al_train_main([cfg, '--work-dir', full]) == 0
    expected = outputs(full)
    assert [e['expanded_pixels'] > 0 for e in expected['metrics']] == [
        True] * ROUNDS
    assert 'queries/round_02_regions.npz' in expected
    assert_killed_runs_resume_identically(cfg, expected, root)


def test_lost_metrics_are_recomputed_on_the_labels_of_their_round(
        tmp_path, reference):
    """metrics.json moved away (as its own error message advises): resuming
    recomputes round k on the labels of rounds 0..k, as the run did."""
    cfg, full, expected = reference
    work = str(tmp_path / 'work')
    shutil.copytree(full, work)
    os.rename(osp.join(work, 'metrics.json'), osp.join(tmp_path, 'old.json'))
    assert al_train_main([cfg, '--work-dir', work, '--resume']) == 0
    assert outputs(work) == expected


def passes(work_dir):
    """The UNet passes of every round of a run."""
    with open(osp.join(work_dir, 'metrics.json'), encoding='utf-8') as file:
        return [e['unet_passes'] for e in json.load(file)['rounds']]


def test_kept_features_change_nothing_but_the_passes(tmp_path, reference):
    """Features kept for the run (the default, within feature_memory) or
    extracted again every round (a budget nothing fits in): the same
    labels, queries and metrics, bit for bit; only the passes differ. With
    per-run noise draws, the draws' features are kept too."""
    cfg, full, expected = reference
    work = str(tmp_path / 'recomputed')
    assert al_train_main([cfg, '--work-dir', work, '--cfg-options',
                          'train_cfg.feature_memory=1KB']) == 0
    assert outputs(work) == expected
    kept, recomputed = passes(full), passes(work)
    # 8 images in blocks of 3: every round runs all 3 blocks for Stage 1,
    # then the blocks of its new labels, unless the features are kept
    assert [p.get('candidates', 0) for p in kept] == [8, 0, 0]
    assert [p.get('candidates', 0) for p in recomputed] == [8, 8, 8]
    assert sum(p.get('labelled', 0) for p in kept) == 0
    assert all(p.get('labelled', 0) > 0 for p in recomputed)
    assert [p['evaluation'] for p in kept] == [2, 0, 0]
    assert [p['evaluation'] for p in recomputed] == [2, 2, 2]
    per_run = str(tmp_path / 'per_run')
    assert al_train_main([cfg, '--work-dir', per_run, '--cfg-options',
                          'train_cfg.noise_draws=per_run']) == 0
    draws = [p.get('draws', 0) for p in passes(per_run)]
    assert draws[0] == 0 and draws[1] > 0 and draws[2] == 0
