"""Benchmark scripts: the GPU one skips without CUDA; the label-efficiency
figures follow their formulas."""
import importlib.util
import json
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_bench(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO, 'benchmarks', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_gpu_skips_with_a_message_without_cuda(monkeypatch, capsys):
    bench_gpu = load_bench('bench_gpu')
    monkeypatch.setattr(bench_gpu.torch.cuda, 'is_available', lambda: False)
    assert bench_gpu.main([]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == dict(case='skipped', reason='no CUDA device')
    assert 'no CUDA device, nothing measured' in err


def test_label_efficiency_figures_from_their_formulas():
    bench = load_bench('bench_label_efficiency')
    curve = [dict(labelled_pixels=p, mIoU=m,
                  per_class_IoU=dict(a=m, b=0.0, c=None))
             for p, m in ((10, 20.0), (20, 30.0), (30, 25.0), (40, 40.0))]
    # trapezoids: (25 + 27.5 + 32.5) * 10 / 30
    assert bench.auc(curve) == pytest.approx(85 / 3)
    assert bench.worst_drop([20.0, 30.0, 25.0, 40.0]) == 5.0
    assert bench.worst_drop([1.0, 2.0]) == 0.0
    low, high = bench.paired_ci([1.0, 1.0, 1.0, 1.0, 1.0])
    assert low == high == 1.0
    low, high = bench.paired_ci([-1.0, 0.0, 1.0, 2.0, 3.0])
    assert -1.0 <= low < 1.0 < high <= 3.0
    run = dict(curve=curve, wall=10.0)
    other = dict(curve=[dict(e, mIoU=e['mIoU'] - 2) for e in curve],
                 wall=20.0)
    row = bench.summarise('m', [0], [run], min_pixels=30)
    assert row['final_mIoU_mean'] == 40.0 and row['worst_drop'] == 5.0
    assert row['min_classes_hit'] == 1  # class a only, once 30 px
    bench.add_pairing(row, [run], [other], 'to_random')
    assert row['diff_to_random'] == 2.0
    assert row['diff_auc_to_random'] == pytest.approx(2.0)


def test_label_efficiency_reports_expanded_pixels_and_their_accuracy():
    import numpy as np
    from mmseg_al.state import LabelStore
    bench = load_bench('bench_label_efficiency')
    assert 'expansion=dict(type=\'SuperpixelExpansion\')' in \
        bench.METHODS['edald_two-stage_superpixels']
    store = LabelStore(['a', 'b'], [(2, 3), (2, 2)], 3)
    store.add_many([('a', 0, 1), ('b', 3, 2)], 0)
    store.add_expanded(['a', 'a', 'a', 'b', 'b'], [1, 2, 5, 0, 1],
                       [0, 0, 0, 3, 3], 0)
    truth = {'a': np.array([[1, 1, 0], [9, 9, 255]]),
             'b': np.array([[2, 255], [0, 2]])}
    # a: 1 right, 1 wrong, 1 void; b: 1 right, 1 void -> 2 of 3
    assert bench.expanded_accuracy(store, truth.__getitem__) == 66.67
    assert bench.expanded_accuracy(
        LabelStore(['a'], [(2, 3)], 3), truth.__getitem__) is None
    curve = [dict(labelled_pixels=p, expanded_pixels=n, mIoU=m,
                  per_class_IoU=dict(a=m))
             for p, n, m in ((10, 100, 20.0), (20, 150, 30.0))]
    runs = [dict(curve=curve, wall=1.0, expanded_accuracy=80.0),
            dict(curve=[dict(e, expanded_pixels=e['expanded_pixels'] + 10)
                        for e in curve], wall=1.0, expanded_accuracy=90.0)]
    row = bench.summarise('m', [0, 1], runs, min_pixels=10)
    assert row['labelled_pixels'] == [10, 20]
    assert row['expanded_pixels_mean'] == [105.0, 155.0]
    assert row['expanded_accuracy'] == 85.0


def test_label_efficiency_refuses_a_run_made_with_other_threads(tmp_path):
    """A finished run is reused only by an invocation giving its runs the
    same number of CPU threads: another count can change the picks."""
    bench = load_bench('bench_label_efficiency')
    work = tmp_path / 'random_seed0'
    work.mkdir()
    (work / 'metrics.json').write_text(json.dumps(dict(rounds=[dict(
        labelled_pixels=5, mIoU=10.0, per_class_IoU={})])))
    (work / 'bench_wall.json').write_text(json.dumps(dict(wall_s=3.0,
                                                          threads=2)))
    args = bench.parse_args(['--work-dir', str(tmp_path), '--rounds', '1',
                             '--jobs', '2'])
    assert bench.run_once('random', 0, args, threads=2)['wall'] == 3.0
    with pytest.raises(SystemExit, match=r'random_seed0 ran with 2 CPU '
                       r'thread\(s\), this invocation gives each run 1 '
                       r'\(--jobs 2\): use the same --jobs'):
        bench.run_once('random', 0, args, threads=1)


def test_label_efficiency_refuses_a_run_made_on_another_checkpoint(
        tmp_path):
    """A finished run records the sha256 of its backbone checkpoint and is
    reused only while that checkpoint is the one the config reads."""
    import hashlib
    bench = load_bench('bench_label_efficiency')
    checkpoint = tmp_path / 'unet.pt'
    checkpoint.write_bytes(b'weights')
    (tmp_path / 'random_seed0.py').write_text(
        f'model = dict(backbone=dict(checkpoint={str(checkpoint)!r}))\n')
    assert bench.checkpoint_digest(str(tmp_path / 'random_seed0.py')) == \
        hashlib.sha256(b'weights').hexdigest()
    work = tmp_path / 'random_seed0'
    work.mkdir()
    (work / 'metrics.json').write_text(json.dumps(dict(rounds=[dict(
        labelled_pixels=5, mIoU=10.0, per_class_IoU={})])))
    (work / 'bench_wall.json').write_text(json.dumps(dict(
        wall_s=3.0, threads=1,
        checkpoint_sha256=hashlib.sha256(b'weights').hexdigest())))
    args = bench.parse_args(['--work-dir', str(tmp_path), '--rounds', '1'])
    assert bench.run_once('random', 0, args, threads=1)['wall'] == 3.0
    message = (r'random_seed0 ran on another backbone checkpoint than the '
               r'one .*random_seed0.py reads now \(changed or missing '
               r'since\): restore that checkpoint')
    checkpoint.write_bytes(b'pretrained anew')
    with pytest.raises(SystemExit, match=message):
        bench.run_once('random', 0, args, threads=1)
    checkpoint.unlink()
    with pytest.raises(SystemExit, match=message):
        bench.run_once('random', 0, args, threads=1)
    args = bench.parse_args(['--work-dir', str(tmp_path), '--rounds', '1',
                             '--cfg-options',
                             f'model.backbone.checkpoint={tmp_path}/b.pt'])
    (tmp_path / 'b.pt').write_bytes(b'weights')  # the options' checkpoint
    assert bench.run_once('random', 0, args, threads=1)['wall'] == 3.0


def test_every_label_efficiency_method_is_a_config_that_loads(tmp_path):
    """Each method's lines load on the benchmark's config; random on a
    longer-pretrained UNet reads the same checkpoint as eDALD on it."""
    from mmengine.config import Config
    bench = load_bench('bench_label_efficiency')
    cfgs = {}
    for method, lines in bench.METHODS.items():
        path = tmp_path / f'{method.replace("-", "_")}.py'
        path.write_text(f'_base_ = [{bench.TOY_PAPER_REGIME!r}]\n' + lines)
        cfgs[method] = Config.fromfile(str(path))
    for pretraining in ('pretrain-600', 'ddep'):
        random = cfgs[f'random_{pretraining}']
        edald = cfgs[f'edald_two-stage_{pretraining}']
        assert random.train_cfg.selector.stage2.score == 'random'
        assert random.model.backbone.checkpoint == \
            edald.model.backbone.checkpoint == \
            random.custom_hooks[0].checkpoint != \
            cfgs['random'].model.backbone.checkpoint
    assert cfgs['edald_two-stage_m2'].train_cfg.selector.stage2.num_draws \
        == 2 != cfgs['edald_two-stage'].train_cfg.selector.stage2.num_draws
