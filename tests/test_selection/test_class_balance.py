"""CBDA class weights and score re-weighting, by hand."""
import pytest
import torch

from mmseg_al.selection.class_balance import ClassBalance


def test_weights_by_hand():
    counts = torch.tensor([6, 0, 2])  # N = 8, C = 3
    # w_c = min(1, (N + C) / (C (n_c + 1)))
    expected = torch.tensor([11 / 21, 1.0, 1.0], dtype=torch.float64)
    assert torch.allclose(ClassBalance().class_weights(counts), expected)
    assert torch.allclose(
        ClassBalance(strength=2.0).class_weights(counts), expected**2)


def test_weights_are_one_before_any_label_and_with_strength_zero():
    assert torch.equal(ClassBalance().class_weights(torch.zeros(4)),
                       torch.ones(4, dtype=torch.float64))
    assert torch.equal(
        ClassBalance(strength=0).class_weights(torch.tensor([9, 0, 1])),
        torch.ones(3, dtype=torch.float64))


def test_weights_never_reach_zero():
    weights = ClassBalance().class_weights(torch.tensor([10**6, 0, 0]))
    assert weights[0] == pytest.approx((10**6 + 3) / (3 * (10**6 + 1)))
    assert weights[0] > 1 / 3


def test_reweight_larger_first_scores_by_hand():
    scores = torch.tensor([0.5, -2.0, 0.3])
    predicted = torch.tensor([0, 0, 1])
    counts = torch.tensor([6, 0, 2])
    weight = 11 / 21
    result = ClassBalance().reweight(scores, predicted, counts)
    assert result.dtype == scores.dtype
    assert torch.allclose(result,
                          torch.tensor([0.5 * weight, -2.0 / weight, 0.3]))


def test_reweight_smaller_first_scores_by_hand():
    margins = torch.tensor([0.5, -2.0, 0.3])
    predicted = torch.tensor([0, 0, 1])
    counts = torch.tensor([6, 0, 2])
    weight = 11 / 21
    result = ClassBalance().reweight(
        margins, predicted, counts, descending=False)
    assert torch.allclose(result,
                          torch.tensor([0.5 / weight, -2.0 * weight, 0.3]))


@pytest.mark.parametrize('descending', [True, False])
def test_reweight_moves_over_represented_class_later(descending):
    # two equal scores; class 0 holds all labels so far
    scores = torch.tensor([0.4, 0.4])
    predicted = torch.tensor([0, 1])
    result = ClassBalance().reweight(scores, predicted,
                                     torch.tensor([5, 0]), descending)
    first = result.argmax() if descending else result.argmin()
    assert first.item() == 1


def test_negative_strength_is_rejected():
    with pytest.raises(ValueError, match='strength must be >= 0'):
        ClassBalance(strength=-1)
