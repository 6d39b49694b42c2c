import torch

from mmseg_al.engine import FeatureCache


def test_lookup_returns_hits_in_request_order():
    cache = FeatureCache()
    cache.put('a', torch.tensor([9, 2, 5]), torch.tensor([[9.], [2.], [5.]]))
    hit, rows = cache.lookup('a', torch.tensor([5, 3, 9, 2, 10]))
    assert hit.tolist() == [True, False, True, True, False]
    assert rows.flatten().tolist() == [5., 9., 2.]
    hit, rows = cache.lookup('b', torch.tensor([5]))
    assert hit.tolist() == [False] and rows is None


def test_put_merges_and_keeps_existing_rows():
    cache = FeatureCache()
    cache.put('a', torch.tensor([4]), torch.tensor([[4.]]))
    cache.put('a', torch.tensor([1, 4]), torch.tensor([[1.], [-1.]]))
    assert len(cache) == 2
    hit, rows = cache.lookup('a', torch.tensor([4, 1]))
    assert hit.all() and rows.flatten().tolist() == [4., 1.]
