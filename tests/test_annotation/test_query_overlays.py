"""Overlay pictures of a round's queries."""
import os
import warnings

import pytest
from mmengine.visualization import Visualizer

from mmseg_al.annotation import PoolImages
from mmseg_al.annotation.query_overlays import (FRAME_COLOUR, MARKER_COLOUR,
                                                write_query_overlays)
from helpers.pixel_model import FakePool


def test_markers_of_edge_pixels_fit_the_overlay(tmp_path):
    """Circles and numbers at the image's corners are drawn whole: the
    visualizer has nothing out of bounds to warn about."""
    pool = FakePool(num_images=1, height=256, width=320)  # not upscaled
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        overlay, = write_query_overlays(
            PoolImages(pool),
            pool.image_ids * 4, [0, 319, 255 * 320, 256 * 320 - 1],
            str(tmp_path),
            visualizer=Visualizer(name='overlay_edges')).values()
    # in a frame of the marker radius 3 + 1
    assert overlay.shape == (264, 328, 3)
    assert (overlay[0, 0] == FRAME_COLOUR).all()
    yellow = (overlay == MARKER_COLOUR).all(axis=-1)
    for rows in (slice(0, 40), slice(-40, None)):
        for cols in (slice(0, 40), slice(-40, None)):
            assert yellow[rows, cols].any()


def test_overlays_are_replaced_atomically(tmp_path, monkeypatch):
    """A write that fails (a full disk) leaves the previous picture, never a
    truncated one."""
    pool = FakePool(num_images=1, height=8, width=8)
    out = tmp_path / 'round_00'
    write_query_overlays(PoolImages(pool), [pool.image_ids[0]], [3],
                         str(out),
                         visualizer=Visualizer(name='overlay_test_1'))
    png, = out.glob('*.png')
    before = png.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'replace', disk_full)
    with pytest.raises(OSError, match='No space left'):
        write_query_overlays(PoolImages(pool), [pool.image_ids[0]], [5, 9],
                             str(out),
                             visualizer=Visualizer(name='overlay_test_2'))
    assert png.read_bytes() == before
    assert [p.name for p in out.iterdir()] == [png.name]
