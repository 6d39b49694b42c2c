"""PixelMLPHead: LEDM layout and init, dense linear trick, MC dropout, loss."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmseg_al.models.decode_heads import PixelMLPHead
from mmseg_al.models.decode_heads import pixel_mlp_head as head_module
from mmseg_al.models.decode_heads.pixel_losses import pixel_losses

SIZE = (20, 24)
CHANNELS = (40, 24, 80, 16)
NATIVE_SIZES = ((3, 3), (5, 6), (10, 12), SIZE)


def native_maps(batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [
        torch.randn(batch, c, h, w, generator=gen)
        for c, (h, w) in zip(CHANNELS, NATIVE_SIZES)
    ]


def dense_reference(head, maps, normalize):
    """Upsample all maps, concatenate, normalise, apply the MLP per pixel."""
    features = torch.cat([
        F.interpolate(m, size=SIZE, mode='bilinear', align_corners=False)
        for m in maps
    ], dim=1)
    if normalize:
        features = F.normalize(features, dim=1)
    batch, dim, height, width = features.shape
    flat = features.permute(0, 2, 3, 1).reshape(-1, dim)
    logits = head.forward_pixels(flat)
    return logits.view(batch, height, width, -1).permute(0, 3, 1, 2)


@pytest.fixture
def head():
    torch.manual_seed(0)
    head = MODELS.build(
        dict(type='PixelMLPHead', in_channels=sum(CHANNELS), num_classes=5,
             dropout_ratio=0.3))
    # Non-trivial BN statistics and affine parameters, as after training.
    for norm in (head.bn1, head.bn2):
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
        norm.weight.data.uniform_(0.5, 1.5)
        norm.bias.data.uniform_(-0.2, 0.2)
    return head.eval()


def test_ledm_layout_and_hidden_widths():
    small = PixelMLPHead(in_channels=64, num_classes=29)
    large = PixelMLPHead(in_channels=64, num_classes=30)
    assert small.hidden_channels == (128, 32)
    assert large.hidden_channels == (256, 128)
    assert [tuple(layer.weight.shape) for layer in
            (large.fc1, large.fc2, large.classifier)] == [
                (256, 64), (128, 256), (30, 128)]
    assert not hasattr(large, 'conv_seg')


def test_init_is_normal_002_with_zero_biases_and_fresh_bn(head):
    head.reset_parameters()
    for layer in (head.fc1, head.fc2, head.classifier):
        assert torch.count_nonzero(layer.bias) == 0
    weight = head.fc1.weight.detach()
    assert abs(float(weight.std()) - 0.02) < 0.002
    assert abs(float(weight.mean())) < 0.002
    for norm in (head.bn1, head.bn2):
        assert torch.equal(norm.running_mean, torch.zeros_like(
            norm.running_mean))
        assert torch.equal(norm.running_var, torch.ones_like(
            norm.running_var))
        assert torch.equal(norm.weight, torch.ones_like(norm.weight))


@pytest.mark.parametrize('normalize', [True, False])
def test_dense_linear_trick_equals_the_dense_reference(head, normalize):
    maps = native_maps()
    with torch.no_grad():
        ours = head(maps, SIZE, normalize=normalize)
        expected = dense_reference(head, maps, normalize)
    assert ours.shape == (2, 5, *SIZE)
    assert (ours - expected).abs().max() < 1e-4


def test_dense_forward_never_upsamples_more_than_a_chunk(head, monkeypatch):
    upsampled_channels = []
    interpolate = F.interpolate

    def recording(x, *args, **kwargs):
        upsampled_channels.append(x.shape[1])
        return interpolate(x, *args, **kwargs)

    monkeypatch.setattr(head_module.F, 'interpolate', recording)
    monkeypatch.setattr(head_module, 'CHANNEL_CHUNK', 16)
    monkeypatch.setattr(head_module, 'PIXEL_CHUNK', 100)  # several chunks
    maps = native_maps()
    with torch.no_grad():
        chunked = head(maps, SIZE)
    # Only the h1-channel projections of the three maps below full size are
    # upsampled, 16 channels at a time.
    assert upsampled_channels and max(upsampled_channels) == 16
    assert sum(upsampled_channels) == 3 * head.hidden_channels[0]
    monkeypatch.setattr(head_module, 'PIXEL_CHUNK', 10**6)
    with torch.no_grad():
        torch.testing.assert_close(chunked, head(maps, SIZE))


def test_default_size_is_the_largest_map(head):
    with torch.no_grad():
        assert head(native_maps()).shape[-2:] == SIZE


def test_channel_mismatch_is_reported(head):
    with pytest.raises(ValueError, match=r'\[40, 24\] channels'):
        head(native_maps()[:2], SIZE)


def test_mc_dropout_masks_follow_the_generator(head):
    features = torch.randn(50, sum(CHANNELS))
    plain = head.forward_pixels(features)
    assert torch.equal(plain, head.forward_pixels(features))

    def mc(seed):
        return head.forward_pixels(
            features, mc_dropout=True,
            generator=torch.Generator().manual_seed(seed))

    assert torch.equal(mc(1), mc(1))
    assert not torch.allclose(mc(1), mc(2))
    assert not torch.allclose(mc(1), plain)


def test_mc_dropout_needs_a_dropout_ratio():
    head = PixelMLPHead(in_channels=8, num_classes=3)
    with pytest.raises(ValueError, match='dropout_ratio > 0'):
        head.forward_pixels(torch.randn(4, 8), mc_dropout=True)


def test_single_pixel_training_step_uses_running_statistics(head):
    head.train()
    head.dropout_ratio = 0.0
    feature = torch.randn(1, sum(CHANNELS))
    trained = head.forward_pixels(feature)
    head.eval()
    torch.testing.assert_close(trained, head.forward_pixels(feature))


def test_loss_matches_cross_entropy_and_accuracy(head):
    logits = torch.randn(6, 5, requires_grad=True)
    labels = torch.tensor([0, 1, 2, 3, 4, 1])
    losses = pixel_losses(head, logits, labels)
    torch.testing.assert_close(losses['loss_ce'],
                               F.cross_entropy(logits, labels))
    accuracy = 100.0 * (logits.argmax(1) == labels).float().mean()
    torch.testing.assert_close(losses['acc_seg'].squeeze(), accuracy)


def test_loss_without_labels_is_a_differentiable_zero(head):
    logits = torch.randn(3, 5, requires_grad=True)
    losses = pixel_losses(head, logits, torch.full((3, ), 255))
    assert float(losses['loss_ce']) == 0.0
    losses['loss_ce'].backward()
    assert torch.count_nonzero(logits.grad) == 0
