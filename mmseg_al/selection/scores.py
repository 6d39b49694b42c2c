"""Stage-2 acquisition scores as pure functions of log-probabilities.

Every function takes natural-log probabilities (the model's
``log_softmax``) so that mutual information is computed without the
``log(exp(.))`` round trip, and returns one score per pixel. Higher scores
are picked first, except :func:`margin` (smaller = more uncertain).

Shapes: ``log_probs`` is ``[n, C]`` for one prediction per pixel;
``draw_log_probs`` is ``[M, n, C]`` for ``M`` stochastic predictions
(noise draws for DALD, MC-dropout passes for BALD); ``member_log_probs``
is ``[M, n, C]`` for the ``M`` members of an ensemble (committee scores).
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def entropy(log_probs: Tensor) -> Tensor:
    """Predictive entropy ``H(p) = -sum_c p_c log p_c``.

    Args:
        log_probs: ``[..., C]`` log-probabilities.

    Returns:
        ``[...]`` entropies in nats, ``0 <= H <= log C``.
    """
    # log 0 -> the smallest finite float, so that 0 log 0 is exactly 0;
    # the clamp keeps rounding of log p > 0 from making H negative
    finite_logs = log_probs.clamp_min(torch.finfo(log_probs.dtype).min)
    return (-(log_probs.exp() * finite_logs).sum(-1)).clamp_min(0)


def margin(log_probs: Tensor) -> Tensor:
    """Margin ``p_(1) - p_(2)`` between the two most likely classes.

    Smaller margins are more uncertain: rank ascending.

    Args:
        log_probs: ``[n, C]`` log-probabilities, ``C >= 2``.
    """
    top2 = log_probs.topk(2, dim=-1).values.exp()
    return top2[..., 0] - top2[..., 1]


def least_confidence(log_probs: Tensor) -> Tensor:
    """Least confidence ``1 - max_c p_c``.

    Args:
        log_probs: ``[n, C]`` log-probabilities.
    """
    return (1 - log_probs.max(-1).values.exp()).clamp_min(0)


def mean_log_probs(draw_log_probs: Tensor) -> Tensor:
    """Log of the mean prediction, ``log (1/M sum_m p_m)``, computed stably.

    Args:
        draw_log_probs: ``[M, n, C]`` log-probabilities of ``M`` draws.
    """
    num_draws = draw_log_probs.shape[0]
    return torch.logsumexp(draw_log_probs, dim=0) - math.log(num_draws)


def mutual_information(draw_log_probs: Tensor) -> Tensor:
    """BALD / DALD disagreement ``H(mean_m p_m) - mean_m H(p_m)``.

    This is the mutual information between the label and the stochastic
    draw (MC-dropout mask for BALD, diffusion noise for DALD), or, over
    the members of an ensemble, LEDM's own uncertainty (``ensemble_mi``).
    It is ``0`` when all draws agree. The difference cancels, so it is
    computed in float64 (agreeing float32 draws then give ~1e-16, not
    ~1e-7) and clamped at ``0`` against rounding.

    Args:
        draw_log_probs: ``[M, n, C]`` log-probabilities of ``M`` draws.

    Returns:
        ``[n]`` mutual information in nats, dtype of the input.
    """
    precise = draw_log_probs.double()
    total = entropy(mean_log_probs(precise))
    expected = entropy(precise).mean(0)
    return (total - expected).clamp_min(0).to(draw_log_probs.dtype)


def entropy_augmented_mi(draw_log_probs: Tensor,
                         independent_log_probs: Tensor) -> Tensor:
    """eBALD / eDALD (Eq. 8): ``MI(draws 1..M) + H(p(z^(0)))``.

    Args:
        draw_log_probs: ``[M, n, C]`` the draws the disagreement is
            measured over.
        independent_log_probs: ``[n, C]`` one more independent draw
            ``z^(0)``, whose entropy adds the model's own uncertainty.
    """
    return (mutual_information(draw_log_probs) +
            entropy(independent_log_probs))


#: The released code's guard inside every logarithm.
RELEASED_LOG_EPS = 1e-8


def released_edald(draw_log_probs: Tensor, clean_log_probs: Tensor
                   ) -> Tensor:
    """The score the authors' released code computes for eDALD, which is
    not the paper's Eq. 8 (kept to measure the difference, not as the
    method).

    Its disagreement term is the mutual-information formula fed with
    probabilities where log-probabilities belong: with ``q_m = exp(p_m)``
    (elementwise, not normalised) and ``h(x) = -sum_c x_c log(x_c + 1e-8)``,
    it is ``max(h(mean_m q_m) - mean_m h(q_m), 1e-9)``. Its entropy term is
    ``h(p)`` of the clean prediction, and its first draw is the clean
    prediction too (the code reuses the training noise).

    Args:
        draw_log_probs: ``[M, n, C]`` log-probabilities of the draws the
            code's term runs over (the clean prediction first).
        clean_log_probs: ``[n, C]`` the clean prediction.

    Returns:
        ``[n]`` scores, dtype of the input.
    """
    def h(x: Tensor) -> Tensor:
        return -(x * torch.log(x + RELEASED_LOG_EPS)).sum(-1)

    q = draw_log_probs.double().exp().exp()
    disagreement = (h(q.mean(0)) - h(q).mean(0)).clamp_min(1e-9)
    score = disagreement + h(clean_log_probs.double().exp())
    return score.to(draw_log_probs.dtype)


def vote_entropy(member_log_probs: Tensor) -> Tensor:
    """Entropy of the committee's vote histogram.

    Each member votes for its argmax class (ties to the lowest class);
    the score is ``H(v)`` with ``v_c`` the share of votes for ``c``: 0 when
    all members agree, ``log min(M, C)`` at most.

    Args:
        member_log_probs: ``[M, n, C]`` log-probabilities of ``M`` members.
    """
    num_members, _, num_classes = member_log_probs.shape
    votes = F.one_hot(member_log_probs.argmax(-1), num_classes).sum(0)
    return entropy((votes.double() / num_members).log()).to(
        member_log_probs.dtype)


def ensemble_e(member_log_probs: Tensor) -> Tensor:
    """The eBALD analogue for an ensemble: ensemble MI plus the entropy of
    the mean prediction, ``MI(members) + H(mean_m p_m)``.

    Args:
        member_log_probs: ``[M, n, C]`` log-probabilities of ``M`` members.
    """
    return (mutual_information(member_log_probs) +
            entropy(mean_log_probs(member_log_probs)))


def _beta_fit_entropy(pbar: Tensor, var: Tensor, floor: float) -> Tensor:
    """Differential entropy of ``Beta(a + 1, b)``, ``(a, b)`` fitted to the
    mean ``pbar`` and variance ``var`` by moments (BalEntAcq's ``h_c``)."""
    a = (pbar.square() * (1 - pbar) / var - pbar).clamp_min(floor)
    b = ((1 / pbar - 1) * a).clamp_min(floor)
    log_beta = torch.lgamma(a + 1) + torch.lgamma(b) - torch.lgamma(a + b + 1)
    return (log_beta - a * torch.digamma(a + 1) -
            (b - 1) * torch.digamma(b) +
            (a + b - 1) * torch.digamma(a + b + 1))


def balanced_entropy(draw_log_probs: Tensor, floor: float = 1e-9) -> Tensor:
    """BalEntAcq (Woo 2021) from ``M >= 2`` sampled predictions.

    Per class ``c``, with ``pbar_c`` the mean and ``v_c`` the *population*
    variance of ``p_c`` over the draws, the marginal of ``p_c`` is fitted by
    a Beta distribution by moments::

        a_c = pbar_c^2 (1 - pbar_c) / v_c - pbar_c
        b_c = (1 / pbar_c - 1) a_c
        h_c = ln B(a_c+1, b_c) - a_c psi(a_c+1) - (b_c-1) psi(b_c)
              + (a_c+b_c-1) psi(a_c+b_c+1)
        MJEnt = sum_c min(pbar_c h_c, 0) + H(pbar)
        score = (H(pbar) + ln 2) / (MJEnt + H(pbar))

    where ``H(pbar)`` is the entropy of the mean prediction, and a negative
    score is replaced by its reciprocal.

    Why the population variance: for values in ``[0, 1]`` it never exceeds
    ``pbar (1 - pbar)``, so the fit always exists (``a_c, b_c >= 0``). The
    unbiased variance often does exceed it with few draws, and clamping
    the resulting negative Beta parameters scored the pixels whose draws
    disagree most at about ``-1e8``, i.e. last.

    Degenerate limits: ``h_c`` tends to ``-inf`` at both ends of the
    variance range, when the draws agree (``v_c -> 0``, a point mass) and
    when they are all 0 or 1 (``v_c -> pbar (1 - pbar)``, a Bernoulli, e.g.
    draws that flip between two classes). Both limits are given the same
    finite value, ``h_c`` at ``v_c = floor`` (for the same ``pbar_c``): the
    variance is floored at ``floor`` and ``h_c`` at its value there. Since
    ``H(pbar)`` is larger for flipping draws than for agreeing ones, flips
    then rank above agreement. Means are kept in ``[floor, 1 - floor]`` and
    a denominator of magnitude below ``floor`` is set to ``floor``.
    Computed in float64.

    Args:
        draw_log_probs: ``[M, n, C]`` log-probabilities, ``M >= 2``.
        floor: the floor of means, variances and Beta parameters.

    Returns:
        ``[n]`` finite float scores (same dtype as the input), larger first.
    """
    if draw_log_probs.shape[0] < 2:
        raise ValueError('balanced_entropy needs at least 2 draws for a '
                         f'variance, got {draw_log_probs.shape[0]}')
    probs = draw_log_probs.double().exp()
    mean = probs.mean(0)
    var = probs.var(0, unbiased=False).clamp_min(floor)
    pbar = mean.clamp(floor, 1 - floor)
    h = torch.maximum(
        _beta_fit_entropy(pbar, var, floor),
        _beta_fit_entropy(pbar, torch.full_like(var, floor), floor))
    mean_entropy = entropy(mean.log())
    marginal_joint_entropy = (pbar * h).clamp_max(0).sum(-1) + mean_entropy
    denominator = marginal_joint_entropy + mean_entropy
    denominator = torch.where(denominator.abs() < floor,
                              torch.full_like(denominator, floor),
                              denominator)
    score = (mean_entropy + math.log(2)) / denominator
    score = torch.where(score < 0, 1 / score, score)
    return score.to(draw_log_probs.dtype)


def check_power_args(beta: float, noise: str) -> None:
    """Raise a ValueError naming the bad power-sampling argument."""
    if noise not in ('gumbel', 'pareto'):
        raise ValueError(
            f"power noise must be 'gumbel' or 'pareto', got {noise!r}")
    if beta <= 0:
        raise ValueError(f'power beta must be > 0, got {beta}')


def power_keys(scores: Tensor,
               beta: float = 1.0,
               noise: str = 'gumbel',
               generator: Optional[torch.Generator] = None) -> Tensor:
    """Sort keys for power sampling (Kirsch et al. 2021), stochastic top-b.

    With ``noise='gumbel'`` (the default) the keys are
    ``log(s) + Gumbel(0, 1/beta)``: the top-b of these keys is a sample
    without replacement with probability proportional to ``s^beta``
    (PowerBALD / PowerDALD). ``noise='pareto'`` is the rule of the released
    PowerBALD acquisition code, *not* proportional sampling: a
    ``Pareto(1, 1)`` sample ``P`` is added to the log-score, keys
    ``log(s) + P / beta`` (as released for ``beta = 1``; ranked like
    ``beta log(s) + P`` otherwise). Zero scores get key ``-inf`` (picked
    only after every positive score).

    Args:
        scores: ``[...]`` non-negative scores, larger = more uncertain.
        beta: the power; larger concentrates on the top scores.
        noise: ``'gumbel'`` or ``'pareto'``.
        generator: seeded generator of the noise.
    """
    check_power_args(beta, noise)
    if (scores < 0).any():
        raise ValueError('power sampling needs non-negative scores, got '
                         f'min {scores.min().item():.4g}')
    uniform = torch.rand(scores.shape, generator=generator,
                         dtype=torch.float64)
    uniform = uniform.clamp(torch.finfo(torch.float64).tiny, 1.0)
    if noise == 'gumbel':
        perturbation = -(-uniform.log()).log()
    else:
        perturbation = 1 / uniform  # Pareto(1, 1)
    return scores.double().log() + perturbation / beta
