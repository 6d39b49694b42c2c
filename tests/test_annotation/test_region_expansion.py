"""Region expansion: the overlap rule, superpixel regions, the config."""
from types import SimpleNamespace

import numpy as np
import pytest

from mmseg_al.annotation import SuperpixelExpansion, expand_clicks
from mmseg_al.annotation.region_expansion import RegionExpansion
from mmseg_al.registry import TASK_UTILS


def labelled_of(mapping):
    return lambda image_id: np.asarray(mapping.get(image_id, []))


def test_clicks_win_and_same_class_overlaps_go_to_the_first_click():
    # image a: click 0 (class 1) region {0,1,2,5}; click 5 (class 1)
    # region {2,3,5,6}: pixel 5 is a click, 2 is shared (same class)
    exp = expand_clicks(['a', 'a'], np.array([0, 5]), np.array([1, 1]),
                        [np.array([0, 1, 2, 5]), np.array([2, 3, 5, 6])],
                        np.array([True, True]),
                        labelled_of({'a': [0, 5]}))
    assert exp.image_ids == ['a'] * 4
    np.testing.assert_array_equal(exp.pixels, [1, 2, 3, 6])
    np.testing.assert_array_equal(exp.sources, [0, 0, 5, 5])
    assert exp.conflicting == 0


def test_pixels_claimed_by_different_classes_are_dropped_from_both():
    # click 0 (class 1) and click 9 (class 2) both claim 4 and 5
    exp = expand_clicks(['a', 'a'], np.array([0, 9]), np.array([1, 2]),
                        [np.array([0, 3, 4, 5]), np.array([4, 5, 8, 9])],
                        np.array([True, True]), labelled_of({'a': [0, 9]}))
    np.testing.assert_array_equal(exp.pixels, [3, 8])
    np.testing.assert_array_equal(exp.sources, [0, 9])
    assert exp.conflicting == 2


def test_earlier_labels_rejected_regions_and_void_answers_expand_nothing():
    # b: pixel 7 was labelled before (expanded, say); click 2 rejected;
    # click 4 answered void; click 3 of image c accepted
    exp = expand_clicks(
        ['b', 'b', 'b', 'c'], np.array([6, 2, 4, 3]),
        np.array([0, 1, 255, 2]),
        [np.array([6, 7, 8]), np.array([1, 2]), np.array([4, 5]),
         np.array([3])],
        np.array([True, False, True, True]),
        labelled_of({'b': [2, 4, 6, 7], 'c': [3]}))
    assert exp.image_ids == ['b']
    np.testing.assert_array_equal(exp.pixels, [8])
    np.testing.assert_array_equal(exp.sources, [6])


def test_a_rejected_region_does_not_conflict_with_an_accepted_one():
    exp = expand_clicks(['a', 'a'], np.array([0, 9]), np.array([1, 2]),
                        [np.array([0, 4]), np.array([4, 9])],
                        np.array([True, False]), labelled_of({'a': [0, 9]}))
    np.testing.assert_array_equal(exp.pixels, [4])
    assert exp.conflicting == 0


def halves(height=6, width=8):
    """An image whose left half is dark and right half bright."""
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[:, width // 2:] = 200
    return rgb


class Images:
    def __init__(self, images):
        self.images = images
        self.calls = []

    def rgb(self, image_id):
        self.calls.append(image_id)
        return self.images[image_id]


def queries_of(images, pairs):
    return SimpleNamespace(
        image_ids=[i for i, _ in pairs],
        pixels=np.array([p for _, p in pairs]), images=images,
        image_shapes={i: im.shape[:2] for i, im in images.images.items()})


@pytest.mark.parametrize('method, params', [
    ('felzenszwalb', dict(scale=10.0, sigma=0.0, min_size=2)),
    ('slic', dict(n_segments=2, compactness=0.1, sigma=0.0)),
])
def test_a_click_spreads_over_its_half(method, params):
    images = Images({'x': halves(), 'y': halves()[:, ::-1].copy()})
    expansion = TASK_UTILS.build(dict(type='SuperpixelExpansion',
                                      method=method, params=params))
    regions = expansion.propose(queries_of(
        images, [('x', 0), ('y', 0), ('x', 47)]))
    grid = np.arange(48).reshape(6, 8)
    left, right = np.sort(grid[:, :4].ravel()), np.sort(grid[:, 4:].ravel())
    for region, expected in zip(regions, (left, left, right)):
        np.testing.assert_array_equal(region, expected)
    assert images.calls == ['x', 'y']  # each image prepared once


def test_the_click_is_always_in_its_region():
    class Nothing(RegionExpansion):
        def regions_of(self, rgb, pixels):
            return [np.zeros(0, dtype=np.int64) for _ in pixels]

    regions = Nothing().propose(queries_of(Images({'x': halves()}),
                                           [('x', 5), ('x', 9)]))
    assert [r.tolist() for r in regions] == [[5], [9]]


def test_an_image_shown_at_another_size_is_refused():
    queries = queries_of(Images({'x': halves()}), [('x', 5)])
    queries.image_shapes = {'x': (3, 4)}
    with pytest.raises(ValueError, match=r"image 'x' is \(6, 8\) as shown "
                       r'but \(3, 4\) in the pool'):
        SuperpixelExpansion().propose(queries)


@pytest.mark.parametrize('cfg, message', [
    (dict(method='watershed'), r"method must be one of \['felzenszwalb', "
     r"'slic'\], got 'watershed'"),
    (dict(method='felzenszwalb', params=dict(n_segments=4)),
     r"\['n_segments'\] are not parameters of felzenszwalb"),
    (dict(weight=0), 'weight must be a number > 0, got 0'),
    (dict(max_pixels_per_click=0), 'max_pixels_per_click must be an '
     'integer >= 1 or None'),
])
def test_bad_settings_are_named(cfg, message):
    with pytest.raises(ValueError, match=message):
        SuperpixelExpansion(**cfg)
