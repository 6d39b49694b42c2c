"""PixelMLPEnsembleHead: members, majority vote, dense forward, losses."""
import pytest
import torch
from mmseg.registry import MODELS

from mmseg_al.models.decode_heads import PixelMLPEnsembleHead, PixelMLPHead
from mmseg_al.models.decode_heads.pixel_losses import pixel_losses
from .test_pixel_mlp_head import CHANNELS, SIZE, dense_reference, native_maps

DIM = sum(CHANNELS)


def ensemble(num_models=3, num_classes=5, seed=0, **kwargs):
    torch.manual_seed(seed)
    return MODELS.build(
        dict(type='PixelMLPEnsembleHead', in_channels=DIM,
             num_classes=num_classes, num_models=num_models,
             **kwargs)).eval()


def constant_member(member: PixelMLPHead, winner: int) -> None:
    """Make a member predict ``winner`` whatever the input."""
    with torch.no_grad():
        member.classifier.weight.zero_()
        member.classifier.bias.zero_()
        member.classifier.bias[winner] = 5.0


def test_members_are_ledm_mlps_initialised_apart_and_by_the_seed():
    head = ensemble(num_models=4)
    assert head.num_members == 4
    assert all(isinstance(m, PixelMLPHead) for m in head.members)
    assert head.members[0].hidden_channels == (128, 32)  # LEDM, C < 30
    weights = [m.fc1.weight for m in head.members]
    assert not torch.equal(weights[0], weights[1])
    again = ensemble(num_models=4)
    for ours, theirs in zip(head.parameters(), again.parameters()):
        assert torch.equal(ours, theirs)
    torch.manual_seed(7)
    again.reset_parameters()
    reset = [m.fc1.weight.clone() for m in again.members]
    torch.manual_seed(7)
    again.reset_parameters()  # the same draws from the same RNG state
    assert all(torch.equal(m.fc1.weight, w)
               for m, w in zip(again.members, reset))
    assert not torch.equal(reset[0], reset[1])
    assert not torch.equal(reset[3], weights[3])


def test_vote_is_the_majority_with_ties_to_the_lowest_class():
    head = ensemble(num_models=4)
    features = torch.randn(6, DIM)
    for member, winner in zip(head.members, [3, 1, 3, 1]):
        constant_member(member, winner)  # a 2 - 2 tie between 1 and 3
    assert head.forward_pixels(features).argmax(-1).tolist() == [1] * 6
    constant_member(head.members[1], 4)  # now 3 wins 2 - 1 - 1
    scores = head.forward_pixels(features)
    assert scores.argmax(-1).tolist() == [3] * 6
    # scores are log vote shares, smoothed by 0.01 of a vote per class
    shares = (torch.tensor([0, 1, 0, 2, 1.0]) + 0.01) / (4 + 5 * 0.01)
    torch.testing.assert_close(scores[0], shares.log())
    assert scores.exp().sum(-1).allclose(torch.ones(6))


def test_vote_matches_a_count_of_the_member_argmax():
    head = ensemble(num_models=5, num_classes=4)
    features = torch.randn(200, DIM) * 3
    member_logits = head.member_logits(features)
    assert member_logits.shape == (5, 200, 4)
    votes = member_logits.argmax(-1)
    expected = []
    for pixel in votes.t().tolist():
        counts = [pixel.count(c) for c in range(4)]
        expected.append(counts.index(max(counts)))  # first = lowest class
    assert head.forward_pixels(features).argmax(-1).tolist() == expected


def test_mean_softmax_prediction():
    head = ensemble(predict='mean_softmax')
    features = torch.randn(30, DIM)
    member_logits = head.member_logits(features)
    expected = member_logits.softmax(-1).mean(0).log()
    torch.testing.assert_close(head.forward_pixels(features), expected)


@pytest.mark.parametrize('predict', ['vote', 'mean_softmax'])
@pytest.mark.parametrize('normalize', [True, False])
def test_dense_forward_equals_the_dense_reference(predict, normalize):
    head = ensemble(predict=predict)
    maps = native_maps()
    with torch.no_grad():
        ours = head(maps, SIZE, normalize=normalize)
        expected = dense_reference(head, maps, normalize)
    assert ours.shape == (2, 5, *SIZE)
    if predict == 'vote':
        # every count is a whole number of votes; argmax is the same
        assert torch.equal(ours.argmax(1), expected.argmax(1))
        assert (ours - expected).abs().max() < 1e-4
    else:
        assert (ours - expected).abs().max() < 1e-4


def test_loss_pixels_sums_the_members_losses_on_their_own_batches():
    head = ensemble(num_models=3).train()
    features = torch.randn(3, 8, DIM)
    labels = torch.randint(0, 5, (3, 8))
    labels[1, :2] = 255  # ignored
    losses = head.loss_pixels(features, labels)
    expected = [
        pixel_losses(member, member.forward_pixels(f), lab)
        for member, f, lab in zip(head.members, features, labels)
    ]
    torch.testing.assert_close(losses['loss_ce'],
                               sum(e['loss_ce'] for e in expected))
    torch.testing.assert_close(losses['acc_seg'],
                               sum(e['acc_seg'] for e in expected) / 3)
    losses['loss_ce'].backward()
    assert all(m.fc1.weight.grad is not None and
               m.fc1.weight.grad.abs().sum() > 0 for m in head.members)


def test_loss_pixels_needs_one_batch_per_member():
    head = ensemble(num_models=3)
    with pytest.raises(ValueError, match=r'features \[3, bs, D\], got '
                       r"\(8, 160\)"):
        head.loss_pixels(torch.randn(8, DIM), torch.zeros(8).long())


def test_single_head_loss_pixels_is_the_loss_of_its_logits():
    torch.manual_seed(0)
    head = PixelMLPHead(in_channels=DIM, num_classes=5).eval()
    features, labels = torch.randn(10, DIM), torch.randint(0, 5, (10, ))
    losses = head.loss_pixels(features, labels)
    logits = head.forward_pixels(features)
    expected = torch.nn.functional.cross_entropy(logits, labels)
    torch.testing.assert_close(losses['loss_ce'], expected)
    assert losses['acc_seg'].item() == pytest.approx(
        100 * (logits.argmax(1) == labels).float().mean().item())


@pytest.mark.parametrize('kwargs, message', [
    (dict(num_models=0), 'num_models must be >= 1, got 0'),
    (dict(predict='mean'), "predict must be one of.*got 'mean'"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PixelMLPEnsembleHead(in_channels=4, num_classes=3, **kwargs)


def test_one_member_votes_like_a_single_head():
    head = ensemble(num_models=1)
    features = torch.randn(20, DIM)
    assert torch.equal(head.forward_pixels(features).argmax(-1),
                       head.members[0].forward_pixels(features).argmax(-1))
