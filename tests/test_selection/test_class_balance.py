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


def test_cbda_weights_by_hand():
    counts = torch.tensor([6, 0, 2])  # N = 8, C = 3
    # budget 4: B = 12 labels after the round, ideal budget B / C = 4;
    # w_c = max(1 - n_c / 4, epsilon)
    balance = ClassBalance(mode='cbda', epsilon=0.1)
    assert torch.allclose(balance.class_weights(counts, budget=4),
                          torch.tensor([0.1, 1.0, 0.5], dtype=torch.float64))
    # budget 16: B = 24, ideal 8 -> [1 - 6/8, 1, 1 - 2/8]
    assert torch.allclose(balance.class_weights(counts, budget=16),
                          torch.tensor([0.25, 1.0, 0.75],
                                       dtype=torch.float64))
    # the floor sets how aggressive the balancing is
    assert ClassBalance(mode='cbda', epsilon=0.3).class_weights(
        counts, budget=4)[0] == 0.3


def test_cbda_weights_are_one_before_any_label_or_budget():
    balance = ClassBalance(mode='cbda')
    assert torch.equal(balance.class_weights(torch.zeros(3), budget=5),
                       torch.ones(3, dtype=torch.float64))
    assert torch.equal(balance.class_weights(torch.zeros(3)),
                       torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize('descending, value', [(True, 0.4), (True, -0.4),
                                               (False, 0.4)])
def test_cbda_ranks_a_filled_class_after_unfilled_ones(descending, value):
    # B = 10 + 2 = 12, C = 3, ideal 4: class 0 (8 labels) has filled its
    # share, classes 1 (2 labels) and 2 (none) have not
    counts = torch.tensor([8, 2, 0])
    predicted = torch.tensor([0, 1, 2, 0])
    scores = torch.full((4, ), value)
    result = ClassBalance(mode='cbda', epsilon=0.05).reweight(
        scores, predicted, counts, descending, budget=2)
    order = torch.sort(result, descending=descending, stable=True).indices
    assert order.tolist() == [2, 1, 0, 3]


def test_bad_mode_and_epsilon_are_rejected():
    with pytest.raises(ValueError, match="mode must be one of.*'cbda'.*got "
                       "'cdba'"):
        ClassBalance(mode='cdba')
    with pytest.raises(ValueError, match=r'epsilon must be in \(0, 1\], '
                       'got 0'):
        ClassBalance(mode='cbda', epsilon=0)
