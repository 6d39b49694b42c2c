"""Benchmark scripts that need hardware this machine may lack."""
import importlib.util
import json
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_bench_gpu_skips_with_a_message_without_cuda(monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location(
        'bench_gpu', osp.join(REPO, 'benchmarks', 'bench_gpu.py'))
    bench_gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_gpu)
    monkeypatch.setattr(bench_gpu.torch.cuda, 'is_available', lambda: False)
    assert bench_gpu.main([]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == dict(case='skipped', reason='no CUDA device')
    assert 'no CUDA device, nothing measured' in err
