"""BatchNorm statistics recomputed on a seeded sample of pool pixels."""
from types import SimpleNamespace

import torch
import torch.nn.functional as F

from mmseg_al.engine.training.batch_norm_calibration import (
    calibrate_batch_norm, calibration_pixels)
from mmseg_al.models.decode_heads import PixelMLPHead
from mmseg_al.models.segmentors.sparse_pixel_segmentor import \
    SparsePixelSegmentor


def test_bn_calibration_sets_pool_statistics_layer_by_layer():
    head = PixelMLPHead(in_channels=6, num_classes=3, hidden_channels=(5, 4))
    gen = torch.Generator().manual_seed(0)
    pool = torch.randn(200, 6, generator=gen) * 3 + 1
    for param in head.parameters():  # a "trained" head
        param.data = torch.randn(param.shape, generator=gen)
    head.train()
    model = SimpleNamespace(decode_head=head, eval=head.eval,
                            train=head.train, training=True,
                            pixel_logits=SparsePixelSegmentor.pixel_logits
                            .__get__(SimpleNamespace(decode_head=head)))
    calibrate_batch_norm(model, pool)
    assert head.training  # mode restored
    first = F.relu(head.fc1(pool))
    torch.testing.assert_close(head.bn1.running_mean, first.mean(0))
    torch.testing.assert_close(head.bn1.running_var, first.var(0))
    head.eval()
    second = F.relu(head.fc2(head.bn1(first)))
    torch.testing.assert_close(head.bn2.running_mean, second.mean(0))
    torch.testing.assert_close(head.bn2.running_var, second.var(0))


def test_calibration_pixels_are_a_seeded_spread_sample():
    ids, shapes = ['a.png', 'b.png', 'c.png'], [(4, 5), (6, 2), (3, 3)]
    sample = calibration_pixels(ids, shapes, 10, seed=7)
    assert sorted(sample) == [0, 1, 2]
    for index, (height, width) in enumerate(shapes):
        pixels = sample[index]
        assert pixels.numel() == 4  # ceil(10 / 3)
        assert pixels.tolist() == sorted(set(pixels.tolist()))
        assert 0 <= pixels.min() and pixels.max() < height * width
    again = calibration_pixels(ids, shapes, 10, seed=7)
    assert all(torch.equal(sample[i], again[i]) for i in sample)
    other = calibration_pixels(ids, shapes, 10, seed=8)
    assert any(not torch.equal(sample[i], other[i]) for i in sample)
    # an image's sample depends on its id, not on its neighbours
    alone = calibration_pixels(['b.png'], [(6, 2)], 4, seed=7)
    assert torch.equal(alone[0], sample[1])
