"""Stage-2 scores against hand-computed values and simple references."""
import math

import numpy as np
import pytest
import torch
from scipy.special import betaln, digamma

from mmseg_al.selection.scores import (balanced_entropy, ensemble_e,
                                       entropy, entropy_augmented_mi,
                                       least_confidence, margin,
                                       mean_log_probs, mutual_information,
                                       power_keys, vote_entropy)


def logs(*rows):
    """Log-probabilities of the given probability rows (log 0 = -inf)."""
    return torch.tensor(rows, dtype=torch.float64).log()


def h(*probs):
    """Entropy in nats written out by hand."""
    return -sum(p * math.log(p) for p in probs if p > 0)


def test_entropy_margin_least_confidence_by_hand():
    log_probs = logs([0.7, 0.2, 0.1], [1.0, 0.0, 0.0], [0.4, 0.4, 0.2])
    assert torch.allclose(
        entropy(log_probs),
        torch.tensor([h(0.7, 0.2, 0.1), 0.0, h(0.4, 0.4, 0.2)],
                     dtype=torch.float64))
    assert torch.allclose(margin(log_probs),
                          torch.tensor([0.5, 1.0, 0.0], dtype=torch.float64))
    assert torch.allclose(least_confidence(log_probs),
                          torch.tensor([0.3, 0.0, 0.6], dtype=torch.float64))


def test_entropy_is_finite_with_zero_probabilities():
    log_probs = torch.tensor([[0.0, -math.inf, -math.inf]])
    assert entropy(log_probs).item() == 0.0


def test_scores_stay_non_negative_when_log_probs_round_above_zero():
    log_probs = torch.tensor([[1e-7, -math.inf], [2e-7, -30.0]])
    assert torch.equal(entropy(log_probs), torch.zeros(2))
    assert torch.equal(least_confidence(log_probs), torch.zeros(2))


def test_mean_log_probs_is_the_log_of_the_mean():
    draws = logs([[0.9, 0.1]], [[0.3, 0.7]])
    assert torch.allclose(mean_log_probs(draws).exp(),
                          torch.tensor([[0.6, 0.4]], dtype=torch.float64))


def test_mutual_information_zero_when_draws_agree():
    draws = logs([[0.7, 0.2, 0.1]], [[0.7, 0.2, 0.1]], [[0.7, 0.2, 0.1]])
    assert mutual_information(draws).item() == 0.0


def test_mutual_information_by_hand_when_draws_disagree():
    draws = logs([[0.9, 0.1], [0.5, 0.5]], [[0.1, 0.9], [0.5, 0.5]])
    expected = [h(0.5, 0.5) - h(0.9, 0.1), 0.0]
    assert torch.allclose(mutual_information(draws),
                          torch.tensor(expected, dtype=torch.float64))
    assert mutual_information(draws)[0] > 0


def test_mutual_information_of_agreeing_float32_draws_is_negligible():
    draws = torch.randn(1, 50, 7).log_softmax(-1).expand(4, 50, 7)
    scores = mutual_information(draws)
    assert scores.dtype == torch.float32
    assert (scores >= 0).all() and (scores < 1e-12).all()


def test_entropy_augmented_mi_is_mi_plus_entropy_of_draw_zero():
    draws = logs([[0.9, 0.1]], [[0.2, 0.8]], [[0.6, 0.4]])
    draw_zero = logs([0.3, 0.7])
    assert torch.allclose(entropy_augmented_mi(draws, draw_zero),
                          mutual_information(draws) + h(0.3, 0.7))
    mean = [(0.9 + 0.2 + 0.6) / 3, (0.1 + 0.8 + 0.4) / 3]
    by_hand = (h(*mean) - (h(0.9, 0.1) + h(0.2, 0.8) + h(0.6, 0.4)) / 3 +
               h(0.3, 0.7))
    assert entropy_augmented_mi(draws, draw_zero).item() == pytest.approx(
        by_hand, rel=1e-12)


def test_vote_entropy_by_hand():
    # 4 members, 3 classes; pixel 0: votes 2, 1, 1 (member 3 ties 0.4/0.4
    # and votes for the lower class 1); pixel 1: all agree
    members = logs([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]],
                   [[0.6, 0.3, 0.1], [0.2, 0.1, 0.7]],
                   [[0.1, 0.5, 0.4], [0.3, 0.2, 0.5]],
                   [[0.2, 0.4, 0.4], [0.0, 0.0, 1.0]])
    assert torch.allclose(
        vote_entropy(members),
        torch.tensor([h(0.5, 0.5, 0.0), 0.0], dtype=torch.float64))
    members[3, 0] = logs([0.2, 0.2, 0.6])  # votes now 2, 1 and 1 for 2
    assert vote_entropy(members)[0].item() == pytest.approx(
        h(0.5, 0.25, 0.25), rel=1e-12)


def test_ensemble_e_is_mi_plus_entropy_of_the_mean_by_hand():
    members = logs([[0.9, 0.1]], [[0.3, 0.7]])
    mi = h(0.6, 0.4) - (h(0.9, 0.1) + h(0.3, 0.7)) / 2
    assert ensemble_e(members).item() == pytest.approx(
        mi + h(0.6, 0.4), rel=1e-12)


def beta_fit_entropy(pbar, var, floor=1e-9):
    """h_c of the Beta(a + 1, b) fitted by moments, written out by hand."""
    a = np.maximum(pbar**2 * (1 - pbar) / var - pbar, floor)
    b = np.maximum((1 / pbar - 1) * a, floor)
    return (betaln(a + 1, b) - a * digamma(a + 1) - (b - 1) * digamma(b) +
            (a + b - 1) * digamma(a + b + 1))


def reference_balanced_entropy(probs: np.ndarray, ddof: int = 0,
                               entropy_floor: bool = True) -> np.ndarray:
    """BalEntAcq written from the formula, one pixel at a time.

    ``ddof=1, entropy_floor=False`` is the rule before the population
    variance (valid where the unbiased variance gives a Beta fit).
    """
    floor = 1e-9
    scores = []
    for pixel in probs.transpose(1, 0, 2):  # [M, C]
        mean = pixel.mean(0)
        var = np.maximum(pixel.var(0, ddof=ddof), floor)
        pbar = np.clip(mean, floor, 1 - floor)
        hc = beta_fit_entropy(pbar, var)
        if entropy_floor:
            hc = np.maximum(hc, beta_fit_entropy(pbar, np.full_like(var,
                                                                    floor)))
        entropy_mean = -sum(p * np.log(p) for p in mean if p > 0)
        mjent = np.minimum(pbar * hc, 0).sum() + entropy_mean
        score = (entropy_mean + np.log(2)) / (mjent + entropy_mean)
        scores.append(1 / score if score < 0 else score)
    return np.array(scores)


def test_balanced_entropy_matches_reference():
    generator = torch.Generator().manual_seed(0)
    draw_log_probs = (torch.randn(6, 20, 4, generator=generator) *
                      4).log_softmax(-1).double()
    expected = reference_balanced_entropy(draw_log_probs.exp().numpy())
    assert (expected > 0).any() and (expected < 0).any()  # both branches
    # torch and numpy round variances of nearly one-hot draws differently
    np.testing.assert_allclose(
        balanced_entropy(draw_log_probs).numpy(), expected, rtol=1e-6)


def test_balanced_entropy_hand_value_of_a_symmetric_pixel():
    # p_1 in {0.3, 0.7}: pbar = 0.5, population var = 0.04 -> a = b = 2.625
    draws = logs([[0.3, 0.7]], [[0.7, 0.3]])
    a = 0.5**2 * 0.5 / 0.04 - 0.5
    assert a == pytest.approx(2.625)
    hc = (betaln(a + 1, a) - a * digamma(a + 1) - (a - 1) * digamma(a) +
          (2 * a - 1) * digamma(2 * a + 1))
    mjent = 2 * min(0.5 * hc, 0) + math.log(2)
    score = 2 * math.log(2) / (mjent + math.log(2))
    score = 1 / score if score < 0 else score
    assert balanced_entropy(draws).item() == pytest.approx(score, rel=1e-9)


def test_balanced_entropy_where_the_unbiased_fit_was_valid_changes_only_by_the_variance():  # noqa: E501
    # mild noise: the unbiased variance stays below pbar (1 - pbar)
    generator = torch.Generator().manual_seed(2)
    probs = (torch.randn(1, 30, 3, generator=generator) * 2 +
             torch.randn(5, 30, 3, generator=generator) *
             0.3).softmax(-1).double()
    unbiased_var = probs.var(0)
    mean = probs.mean(0)
    assert (unbiased_var < mean * (1 - mean)).all()
    expected = reference_balanced_entropy(
        probs.numpy(), ddof=0, entropy_floor=False)
    np.testing.assert_allclose(
        balanced_entropy(probs.log()).numpy(), expected, rtol=1e-9)
    before = reference_balanced_entropy(
        probs.numpy(), ddof=1, entropy_floor=False)
    assert not np.allclose(before, expected)


def test_balanced_entropy_ranks_flipping_draws_above_agreeing_ones():
    # pixels: draws flipping between two classes (soft, near one-hot and
    # exactly one-hot), then draws that agree (soft and one-hot)
    draws = logs([[0.9, 0.1], [0.99, 0.01], [1.0, 0.0], [0.9, 0.1],
                  [1.0, 0.0]],
                 [[0.1, 0.9], [0.01, 0.99], [0.0, 1.0], [0.9, 0.1],
                  [1.0, 0.0]])
    scores = balanced_entropy(draws)
    assert torch.isfinite(scores).all()
    assert scores[:3].min() > scores[3:].max()
    # the unbiased variance 2 * 0.16 exceeds pbar (1 - pbar) = 0.25: the
    # former rule gave the flip of 0.9/0.1 about -1e8, below agreement
    before = reference_balanced_entropy(draws.exp().numpy(), ddof=1,
                                        entropy_floor=False)
    assert before[0] < -1e7 < before[3]


@pytest.mark.parametrize('case', ['confident', 'uniform', 'mixed'])
def test_balanced_entropy_is_finite(case):
    num_classes = 5
    if case == 'confident':
        logits = torch.zeros(4, 8, num_classes)
        logits[..., 0] = 200.0  # probabilities exactly 1 and 0 in float32
    elif case == 'uniform':
        logits = torch.zeros(4, 8, num_classes)
    else:
        logits = torch.randn(4, 8, num_classes,
                             generator=torch.Generator().manual_seed(3)) * 30
    scores = balanced_entropy(logits.log_softmax(-1))
    assert scores.dtype == torch.float32
    assert torch.isfinite(scores).all()


def test_balanced_entropy_needs_two_draws():
    with pytest.raises(ValueError, match='at least 2 draws'):
        balanced_entropy(logs([[0.5, 0.5]]))


@pytest.mark.parametrize('beta', [1.0, 2.0])
def test_power_keys_first_pick_frequency_follows_score_power(beta):
    scores = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    trials = 40000
    keys = power_keys(scores.expand(trials, 4), beta=beta,
                      generator=torch.Generator().manual_seed(0))
    frequency = torch.bincount(keys.argmax(-1), minlength=4) / trials
    expected = scores**beta / (scores**beta).sum()
    assert torch.allclose(frequency.double(), expected, atol=0.01)


def test_power_keys_pareto_adds_pareto_noise_to_the_log_score():
    # the released PowerBALD rule: log(s) + P, P ~ Pareto(1, 1) = 1 / U
    scores = torch.tensor([0.5, 0.0, 2.0])
    keys = power_keys(scores, beta=2.0, noise='pareto',
                      generator=torch.Generator().manual_seed(1))
    uniform = torch.rand(3, generator=torch.Generator().manual_seed(1),
                         dtype=torch.float64)
    expected = scores.double().log() + (1 / uniform) / 2.0
    assert keys[1] == -math.inf
    assert torch.allclose(keys[[0, 2]], expected[[0, 2]])


def test_power_keys_are_seeded():
    scores = torch.rand(20, generator=torch.Generator().manual_seed(0))
    first = power_keys(scores, generator=torch.Generator().manual_seed(5))
    again = power_keys(scores, generator=torch.Generator().manual_seed(5))
    other = power_keys(scores, generator=torch.Generator().manual_seed(6))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize('kwargs, message', [
    (dict(noise='normal'), "'gumbel' or 'pareto'"),
    (dict(beta=0.0), 'beta must be > 0'),
])
def test_power_keys_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        power_keys(torch.ones(3), **kwargs)


def test_power_keys_reject_negative_scores():
    with pytest.raises(ValueError, match='non-negative'):
        power_keys(torch.tensor([0.5, -0.1]))


def test_released_edald_is_its_formula_on_a_hand_example():
    """Two draws of two classes: the released code's "MI" runs on
    exp(p), not on p; its entropy term is the clean prediction's."""
    from mmseg_al.selection.scores import released_edald
    clean = torch.tensor([[0.8, 0.2]], dtype=torch.float64)
    other = torch.tensor([[0.4, 0.6]], dtype=torch.float64)
    draws = torch.stack([clean, other]).log()

    def h(x):
        return -sum(v * math.log(v + 1e-8) for v in x)

    q1 = [math.exp(0.8), math.exp(0.2)]
    q2 = [math.exp(0.4), math.exp(0.6)]
    mean = [(a + b) / 2 for a, b in zip(q1, q2)]
    expected = h(mean) - (h(q1) + h(q2)) / 2 + h([0.8, 0.2])
    assert expected == pytest.approx(0.06628 + 0.50040, abs=1e-5)
    got = released_edald(draws, clean.log())
    assert got.item() == pytest.approx(expected, rel=1e-9)
    # the "MI" of agreeing draws is floored at 1e-9, not 0
    same = released_edald(torch.stack([clean, clean]).log(), clean.log())
    assert same.item() == pytest.approx(1e-9 + h([0.8, 0.2]), rel=1e-9)
