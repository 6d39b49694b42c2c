"""A round's pending selection and its proposed regions on disk."""
import numpy as np
import pytest

from mmseg_al.state import RunDir


def test_regions_round_trip_in_query_order(tmp_path):
    pending = RunDir(tmp_path).queries(2)
    assert pending.regions_file == str(tmp_path / 'queries' /
                                       'round_02_regions.npz')
    assert pending.load_regions(3) is None
    regions = [np.array([4, 5, 9]), np.array([7]), np.array([0, 1])]
    (tmp_path / 'queries').mkdir()
    pending.save_regions(regions)
    loaded = pending.load_regions(3)
    assert [r.tolist() for r in loaded] == [[4, 5, 9], [7], [0, 1]]
    assert all(r.dtype == np.int64 for r in loaded)


def test_regions_of_another_round_size_are_refused(tmp_path):
    pending = RunDir(tmp_path).queries(0)
    (tmp_path / 'queries').mkdir()
    pending.save_regions([np.array([1]), np.array([2, 3])])
    with pytest.raises(ValueError, match='2 regions of 3 pixels for 5 '
                       'clicks. Delete it to propose the regions again'):
        pending.load_regions(5)
