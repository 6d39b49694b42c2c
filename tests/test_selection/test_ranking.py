"""Stage 2 over a context: every score wired to the right predictions."""
import math

import pytest
import torch

from mmseg_al.selection.class_balance import ClassBalance
from mmseg_al.selection.ranking import ScoreRanking
from mmseg_al.selection.scores import (balanced_entropy, entropy,
                                       entropy_augmented_mi,
                                       ensemble_e, least_confidence, margin,
                                       mutual_information, vote_entropy)
from .tensor_context import TensorContext, random_context

NUM_DRAWS = 3


def all_candidates(context):
    return [(image, context.candidate_pixels(image))
            for image in range(context.num_images)]


def draws(context, image, pixels, indices, mc_dropout):
    return torch.stack([
        context.log_probs({image: pixels}, draw=k,
                          mc_dropout=mc_dropout)[image] for k in indices
    ])


def reference_scores(context, name, image, pixels):
    """Scores of one image written straight from the definitions."""
    clean = context.log_probs({image: pixels})[image]
    mc = name in ('bald', 'ebald')
    stochastic = draws(context, image, pixels, range(1, NUM_DRAWS + 1), mc)
    draw_zero = draws(context, image, pixels, [0], mc)[0]

    def members():
        return context.member_log_probs({image: pixels})[image]

    return dict(
        entropy=lambda: entropy(clean),
        margin=lambda: margin(clean),
        least_confidence=lambda: least_confidence(clean),
        bald=lambda: mutual_information(stochastic),
        dald=lambda: mutual_information(stochastic),
        ebald=lambda: entropy_augmented_mi(stochastic, draw_zero),
        edald=lambda: entropy_augmented_mi(stochastic, draw_zero),
        balentacq=lambda: balanced_entropy(stochastic),
        vote_entropy=lambda: vote_entropy(members()),
        ensemble_mi=lambda: mutual_information(members()),
        ensemble_e=lambda: ensemble_e(members()),
    )[name]()


def reference_top(context, name, budget, descending=True, weights=None):
    """(image, pixel, score) of the top ``budget``, ties to lowest."""
    rows = []
    for image, pixels in all_candidates(context):
        scores = reference_scores(context, name, image, pixels)
        if weights is not None:
            scores = weights(scores, context.log_probs({image: pixels})[image])
        rows += zip([image] * len(pixels), pixels.tolist(), scores.tolist())
    sign = -1 if descending else 1
    rows.sort(key=lambda row: (sign * row[2], row[0], row[1]))
    return rows[:budget]


def as_rows(selection):
    return list(
        zip(selection.image_index.tolist(), selection.pixels.tolist(),
            selection.scores.tolist()))


def assert_same_rows(got, expected):
    assert [row[:2] for row in got] == [row[:2] for row in expected]
    assert [row[2] for row in got] == pytest.approx(
        [row[2] for row in expected], rel=1e-5, abs=1e-6)


def with_members(context, num_members=4):
    """The context with a random linear ensemble of ``num_members``."""
    generator = torch.Generator().manual_seed(99)
    dim = context.clean_features.shape[-1]
    context.members = torch.randn(num_members, dim, context.num_classes,
                                  generator=generator) * 2
    return context


@pytest.mark.parametrize('name', [
    'entropy', 'least_confidence', 'bald', 'dald', 'ebald', 'edald',
    'balentacq', 'vote_entropy', 'ensemble_mi', 'ensemble_e'
])
@pytest.mark.parametrize('images_per_request', [1, 8])
def test_top_b_matches_reference(name, images_per_request):
    context = with_members(
        random_context(num_images=3, side=5, labelled_fraction=0.2,
                       images_per_request=images_per_request))
    ranking = ScoreRanking(name, num_draws=NUM_DRAWS)
    selection = ranking.rank(context, all_candidates(context), 9)
    assert_same_rows(as_rows(selection), reference_top(context, name, 9))


def test_margin_ranks_smallest_first():
    context = random_context(num_images=3, side=5)
    selection = ScoreRanking('margin').rank(context, all_candidates(context),
                                            6)
    assert_same_rows(
        as_rows(selection),
        reference_top(context, 'margin', 6, descending=False))
    assert selection.scores.tolist() == sorted(selection.scores.tolist())


def test_edald_is_dald_plus_entropy_of_draw_zero():
    context = random_context(num_images=2, side=4)
    pool = all_candidates(context)

    def score_map(name):
        selection = ScoreRanking(name, num_draws=NUM_DRAWS).rank(
            context, pool, 32)
        return dict(zip(zip(selection.image_index.tolist(),
                            selection.pixels.tolist()), selection.scores))

    edald, dald = score_map('edald'), score_map('dald')
    for (image, pixel), value in edald.items():
        draw_zero = context.log_probs({image: torch.tensor([pixel])},
                                      draw=0)[image]
        assert value == pytest.approx(
            float(dald[image, pixel] + entropy(draw_zero)), rel=1e-5)


def test_bald_uses_mc_dropout_and_dald_uses_noise_draws():
    context = random_context(num_images=2, side=4, draw_noise=0.0)
    pool = all_candidates(context)
    dald = ScoreRanking('dald').rank(context, pool, 5)
    bald = ScoreRanking('bald').rank(context, pool, 5)
    assert torch.all(dald.scores < 1e-12)  # noise-free draws all agree
    assert torch.all(bald.scores > 1e-3)


def test_equal_scores_go_to_the_lowest_image_and_pixel():
    context = random_context(num_images=3, side=3, labelled_fraction=0.3,
                             images_per_request=1)
    context.head = torch.zeros_like(context.head)  # uniform predictions
    expected = [(image, int(pixel)) for image, pixels in
                all_candidates(context) for pixel in pixels][:7]
    for name in ('entropy', 'margin'):
        selection = ScoreRanking(name).rank(
            context, all_candidates(context), 7)
        assert as_rows(selection) and [row[:2] for row in as_rows(selection)
                                       ] == expected


def test_random_needs_no_model_and_is_seeded():
    def picks(seed):
        context = random_context(num_images=3, side=4, with_model=False,
                                 seed=seed)
        selection = ScoreRanking('random').rank(context,
                                                all_candidates(context), 5)
        assert torch.all((selection.scores >= 0) & (selection.scores < 1))
        return [row[:2] for row in as_rows(selection)]

    assert picks(0) == picks(0)
    assert picks(0) != picks(1)


def test_random_scores_are_keyed_by_image_id():
    context = random_context(num_images=2, side=3, with_model=False)
    selection = ScoreRanking('random').rank(context, all_candidates(context),
                                            18)
    expected = torch.rand(9, generator=context.generator('random', 'img1'))
    got = selection.scores[selection.image_index == 1]
    assert torch.equal(got.sort().values, expected.sort().values)


def test_power_sampling_is_seeded_and_reports_the_scores():
    def rank(seed, power):
        context = random_context(num_images=4, side=5, seed=seed)
        return ScoreRanking('entropy', power=power).rank(
            context, all_candidates(context), 6)

    assert torch.equal(rank(0, True).pixels, rank(0, True).pixels)
    # entropy does not depend on the seed: only the power noise does
    assert torch.equal(rank(0, False).pixels, rank(1, False).pixels)
    assert not torch.equal(rank(0, True).pixels, rank(1, True).pixels)
    context = random_context(num_images=4, side=5)
    deterministic = dict(
        (row[:2], row[2]) for row in reference_top(context, 'entropy', 100))
    for row in as_rows(rank(0, True)):
        assert row[2] == pytest.approx(deterministic[row[:2]], rel=1e-5)


def test_power_margin_samples_one_minus_margin():
    context = random_context(num_images=2, side=4)
    selection = ScoreRanking('margin', power=True).rank(
        context, all_candidates(context), 32)
    margins = {
        row[:2]: row[2]
        for row in reference_top(context, 'margin', 32, descending=False)
    }
    for row in as_rows(selection):
        assert row[2] == pytest.approx(1 - margins[row[:2]], abs=1e-6)


@pytest.mark.parametrize('name, descending', [('entropy', True),
                                              ('margin', False)])
def test_class_balance_reweights_by_clean_predicted_class(name, descending):
    context = random_context(num_images=3, side=5, labelled_fraction=0.3)
    counts = context.class_counts()
    assert counts.max() > counts.min()  # some class is over-represented
    balance = ClassBalance()

    def weights(scores, clean):
        return balance.reweight(scores, clean.argmax(-1), counts, descending)

    selection = ScoreRanking(name, class_balance=True).rank(
        context, all_candidates(context), 8)
    assert_same_rows(
        as_rows(selection),
        reference_top(context, name, 8, descending, weights))


@pytest.mark.parametrize('name', ['entropy', 'ensemble_mi'])
def test_cbda_weights_count_this_rounds_labels(name):
    # also: committee scores take the members' predictions and are
    # class-balanced by the clean (voted) prediction like any other score
    context = with_members(
        random_context(num_images=3, side=5, labelled_fraction=0.3))
    counts = context.class_counts()
    balance = ClassBalance(mode='cbda', epsilon=0.05)

    def weights(scores, clean):
        return balance.reweight(scores, clean.argmax(-1), counts, True, 8)

    selection = ScoreRanking(
        name, class_balance=dict(mode='cbda', epsilon=0.05)).rank(
            context, all_candidates(context), 8)
    assert_same_rows(as_rows(selection),
                     reference_top(context, name, 8, True, weights))
    assert bool(context.member_requests) == (name == 'ensemble_mi')


def test_committee_scores_need_an_ensemble():
    context = random_context(num_images=2, side=3)
    with pytest.raises(RuntimeError, match="TensorContext gives no ensemble "
                       "member predictions; committee scores.*"
                       "PixelMLPEnsembleHead"):
        ScoreRanking('vote_entropy').rank(context, all_candidates(context), 3)


def test_class_balance_accepts_kwargs():
    ranking = ScoreRanking('entropy', class_balance=dict(strength=2.0))
    assert ranking.class_balance.strength == 2.0


def test_non_finite_scores_raise_naming_the_score():
    context = random_context(num_images=2, side=3)
    context.head[0, 0] = math.nan
    with pytest.raises(FloatingPointError, match="score 'entropy'.*img0"):
        ScoreRanking('entropy').rank(context, all_candidates(context), 3)


def test_model_free_round_rejects_model_scores():
    context = random_context(num_images=2, side=3, with_model=False)
    with pytest.raises(RuntimeError, match="'edald' needs a trained model.*"
                       'cold-start selector'):
        ScoreRanking('edald').rank(context, all_candidates(context), 3)


def test_class_balanced_random_needs_a_model():
    context = random_context(num_images=2, side=3, with_model=False)
    with pytest.raises(RuntimeError,
                       match="'random' with class balance needs a trained"):
        ScoreRanking('random', class_balance=True).rank(
            context, all_candidates(context), 3)


def test_budget_above_the_pool_warns_and_takes_all():
    context = random_context(num_images=2, side=2)
    with pytest.warns(UserWarning, match='pool holds only 8; taking all'):
        selection = ScoreRanking('entropy').rank(context,
                                                 all_candidates(context), 20)
    assert len(set(zip(selection.image_index.tolist(),
                       selection.pixels.tolist()))) == 8


def test_empty_pool_gives_an_empty_selection():
    context = random_context(num_images=2, side=2)
    with pytest.warns(UserWarning, match='pool holds only 0'):
        selection = ScoreRanking('entropy').rank(
            context, [(0, torch.zeros(0, dtype=torch.long))], 2)
    assert len(selection) == 0


@pytest.mark.parametrize('kwargs, message', [
    (dict(score='bold'), "unknown score 'bold'"),
    (dict(score='dald', num_draws=1), 'num_draws >= 2'),
    (dict(score='balentacq', power=True), "'balentacq' can be negative"),
    (dict(score='bald', power=True, beta=-1), 'beta must be > 0'),
    (dict(score='bald', power=True, noise='normal'), "'gumbel' or 'pareto'"),
])
def test_bad_configs_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ScoreRanking(**kwargs)


def test_power_first_pick_frequency_follows_score_power():
    # identical images with their own noise: each image's first pixel in
    # the ranking is one independent power-sampling draw
    beta, trials = 2.0, 1200
    image = random_context(num_images=1, side=2)
    context = TensorContext(image.clean_features.expand(trials, 4, -1),
                            image.num_classes, head=image.head)
    scores = reference_scores(context, 'entropy', 0,
                              context.candidate_pixels(0)).double()
    expected = scores**beta / (scores**beta).sum()
    selection = ScoreRanking('entropy', power=True, beta=beta).rank(
        context, all_candidates(context), 4 * trials)
    first_rank = torch.full((trials, ), 4 * trials)
    first_pixel = torch.zeros(trials, dtype=torch.long)
    for position, (index, pixel) in enumerate(
            zip(selection.image_index.tolist(), selection.pixels.tolist())):
        if position < first_rank[index]:
            first_rank[index], first_pixel[index] = position, pixel
    frequency = torch.bincount(first_pixel, minlength=4).double() / trials
    assert torch.allclose(frequency, expected, atol=0.045)  # ~3 sigma


def test_a_selection_carries_the_prediction_its_score_made():
    """eDALD's picks come with the mean of the draws it scored them on,
    entropy's with the clean prediction, random's with none: a person is
    shown them without another backbone pass."""
    context = random_context(num_images=2, side=4)
    pool = all_candidates(context)
    edald = ScoreRanking('edald', num_draws=NUM_DRAWS).rank(context, pool, 5)
    for row, (image, pixel) in enumerate(zip(edald.image_index.tolist(),
                                             edald.pixels.tolist())):
        pixels = torch.tensor([pixel])
        used = draws(context, image, pixels, range(NUM_DRAWS + 1), False)
        expected = torch.logsumexp(used, 0) - math.log(NUM_DRAWS + 1)
        torch.testing.assert_close(edald.log_probs[row], expected[0])
    clean = ScoreRanking('entropy').rank(context, pool, 5)
    for row, (image, pixel) in enumerate(zip(clean.image_index.tolist(),
                                             clean.pixels.tolist())):
        torch.testing.assert_close(
            clean.log_probs[row],
            context.log_probs({image: torch.tensor([pixel])})[image][0])
    assert ScoreRanking('random').rank(context, pool, 5).log_probs is None
