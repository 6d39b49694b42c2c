"""Point sampling equals upsample-then-index."""
import pytest
import torch
import torch.nn.functional as F

from mmseg_al.models.backbones import sample_pixels


@pytest.mark.parametrize('size', [(32, 32), (24, 40)])
def test_equals_bilinear_upsampling_then_indexing(size):
    gen = torch.Generator().manual_seed(0)
    # Native sizes with integer and non-integer scale factors, and the
    # full size itself.
    maps = [
        torch.randn(2, c, h, w, generator=gen)
        for c, (h, w) in zip((5, 3, 4, 2), ((4, 4), (7, 9), (16, 20), size))
    ]
    height, width = size
    dense = torch.cat([
        F.interpolate(m, size=size, mode='bilinear', align_corners=False)
        for m in maps
    ], dim=1)
    # Every pixel, including all four borders and corners.
    pixels = torch.randperm(height * width, generator=gen)
    for image in range(2):
        sampled = sample_pixels(maps, image, pixels // width, pixels % width,
                                size)
        expected = dense[image].flatten(1)[:, pixels].t()
        assert sampled.shape == (height * width, 14)
        assert (sampled - expected).abs().max() < 1e-5


def test_no_pixels_gives_an_empty_feature_matrix():
    maps = [torch.randn(1, 3, 4, 4)]
    empty = torch.zeros(0, dtype=torch.long)
    assert sample_pixels(maps, 0, empty, empty, (8, 8)).shape == (0, 3)
