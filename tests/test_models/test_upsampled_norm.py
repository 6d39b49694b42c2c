"""Norm of an upsampled map from native-resolution inner products."""
import pytest
import torch
import torch.nn.functional as F

from mmseg_al.models.decode_heads.upsampled_norm import (bilinear_taps,
                                                         upsampled_square_norm)


@pytest.mark.parametrize('native, size', [
    ((4, 4), (32, 32)),  # integer scale, as the UNet read-outs
    ((7, 9), (20, 24)),  # non-integer scale
    ((3, 5), (3, 11)),  # one axis unchanged
    ((1, 1), (4, 4)),  # a single native pixel
    ((6, 6), (6, 6)),  # no upsampling at all
])
def test_equals_the_norm_of_the_interpolated_map(native, size):
    gen = torch.Generator().manual_seed(0)
    feature_map = torch.randn(2, 13, *native, generator=gen)
    upsampled = F.interpolate(feature_map, size=size, mode='bilinear',
                              align_corners=False)
    expected = upsampled.square().sum(dim=1, keepdim=True)
    ours = upsampled_square_norm(feature_map, size)
    assert ours.shape == (2, 1, *size)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)


def test_taps_reproduce_1d_interpolation():
    signal = torch.randn(5)
    first, w0, w1 = bilinear_taps(5, 12, signal.device)
    padded = torch.cat([signal, signal[-1:]])
    ours = w0 * padded[first] + w1 * padded[first + 1]
    expected = F.interpolate(signal[None, None], size=12, mode='linear',
                             align_corners=False)[0, 0]
    torch.testing.assert_close(ours, expected)
