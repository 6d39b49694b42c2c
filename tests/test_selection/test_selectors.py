"""The selectors' contract on a tensor context, and their composition."""
import pytest
import torch

from mmseg_al.registry import TASK_UTILS
from mmseg_al.selection import build_selector
from mmseg_al.selection.pixel_requests import sample_candidates
from mmseg_al.selection.candidate_set import LocalGlobalCandidates
from mmseg_al.selection.selectors import ScheduledSelector
from .tensor_context import random_context, run_processes

STAGE1 = dict(
    type='LocalGlobalCandidates',
    picker=dict(type='MaxHerding'),
    candidates_per_image=20,
    local_budget=4,
    keep_ratio=0.5)
STAGE2 = dict(type='ScoreRanking', score='edald', num_draws=3)
SELECTOR_CONFIGS = dict(
    two_stage=dict(type='TwoStageSelector', stage1=STAGE1, stage2=STAGE2),
    two_stage_coreset_power=dict(
        type='TwoStageSelector',
        stage1=dict(STAGE1, picker=dict(type='CoreSet')),
        stage2=dict(type='ScoreRanking', score='dald', num_draws=3,
                    power=True, class_balance=True)),
    one_stage=dict(type='OneStageSelector', stage2=STAGE2),
    one_stage_subset=dict(
        type='OneStageSelector',
        stage2=dict(type='ScoreRanking', score='margin'),
        candidates_per_image=10),
    herding=dict(type='HerdingSelector', stage1=STAGE1),
    scheduled=dict(
        type='ScheduledSelector',
        schedule=[
            dict(until_round=0, selector=dict(type='HerdingSelector',
                                              stage1=STAGE1)),
            dict(selector=dict(type='OneStageSelector', stage2=STAGE2)),
        ]),
)


def context_for(seed=0, **kwargs):
    kwargs.setdefault('num_images', 3)
    kwargs.setdefault('side', 6)
    kwargs.setdefault('labelled_fraction', 0.2)
    context = random_context(seed=seed, **kwargs)
    context.usable[:, :3] = False  # pixels no annotator can label
    return context


def pairs(selection):
    return list(
        zip(selection.image_index.tolist(), selection.pixels.tolist()))


@pytest.mark.parametrize('name', list(SELECTOR_CONFIGS))
def test_contract(name):
    selector = TASK_UTILS.build(SELECTOR_CONFIGS[name])
    context = context_for()
    selection = selector.select(context, 7)
    picked = pairs(selection)
    assert len(picked) == len(selection.scores) == 7
    assert len(set(picked)) == 7
    for image, pixel in picked:
        assert context.usable[image, pixel]
        assert not context.labelled[image, pixel]
    assert selection.image_index.dtype == selection.pixels.dtype == \
        torch.int64
    again = TASK_UTILS.build(SELECTOR_CONFIGS[name]).select(context_for(), 7)
    assert pairs(again) == picked
    assert torch.equal(again.scores.nan_to_num(-1),
                       selection.scores.nan_to_num(-1))


@pytest.mark.parametrize('name', ['two_stage', 'two_stage_coreset_power',
                                  'one_stage_subset', 'herding'])
def test_seed_changes_picks(name):
    selector = TASK_UTILS.build(SELECTOR_CONFIGS[name])
    picks = [pairs(selector.select(context_for(seed), 7)) for seed in (0, 1)]
    assert picks[0] != picks[1]


def test_two_stage_only_ranks_pool_pixels():
    context = context_for()
    pool = TASK_UTILS.build(STAGE1).build(context, min_size=7)
    pool_pairs = set(pairs(pool))
    assert len(pool_pairs) < sum(context.candidate_pixels(i).numel()
                                 for i in range(context.num_images))
    context = context_for()
    selector = TASK_UTILS.build(SELECTOR_CONFIGS['two_stage'])
    selection = selector.select(context, 7)
    assert set(pairs(selection)) <= pool_pairs
    scored = {(image, pixel)
              for request in context.log_prob_requests
              for image, pixels in request.items()
              for pixel in pixels.tolist()}
    assert scored == pool_pairs


def test_two_stage_keeps_at_least_a_budget_in_the_pool():
    context = context_for()
    # keep_ratio would keep round(0.1 * 20) = 2 pixels
    selector = TASK_UTILS.build(
        dict(SELECTOR_CONFIGS['two_stage'],
             stage1=dict(STAGE1, keep_ratio=0.1)))
    assert len(selector.select(context, 7)) == 7


def test_two_stage_without_model_fails_before_stage1():
    context = context_for(with_model=False)
    selector = TASK_UTILS.build(SELECTOR_CONFIGS['two_stage'])
    with pytest.raises(RuntimeError, match='cold-start selector'):
        selector.select(context, 3)
    assert context.feature_requests == []


def test_herding_selector_is_stage1_to_the_budget():
    context = context_for(with_model=False)
    selection = TASK_UTILS.build(SELECTOR_CONFIGS['herding']).select(
        context, 6)
    stage1 = {k: v for k, v in STAGE1.items() if k != 'type'}
    expected = LocalGlobalCandidates(**stage1).build(context_for(), size=6)
    assert pairs(selection) == pairs(expected)
    assert torch.equal(selection.scores, expected.scores)


def test_one_stage_ranks_every_candidate():
    context = context_for()
    TASK_UTILS.build(SELECTOR_CONFIGS['one_stage']).select(context, 4)
    scored = {(image, pixel)
              for request in context.log_prob_requests[:1]
              for image, pixels in request.items()
              for pixel in pixels.tolist()}
    candidates = {(image, pixel) for image in range(context.num_images)
                  for pixel in context.candidate_pixels(image).tolist()}
    assert scored == candidates


def test_one_stage_subset_ranks_seeded_subsets():
    context = context_for()
    TASK_UTILS.build(
        dict(SELECTOR_CONFIGS['one_stage_subset'],
             candidates='per_round')).select(context, 4)
    request = context.log_prob_requests[0]
    for image, pixels in request.items():
        candidates = context.candidate_pixels(image)
        generator = context.generator('candidates', context.image_ids[image])
        keep = torch.randperm(candidates.numel(), generator=generator)[:10]
        assert torch.equal(pixels, candidates[keep.sort().values])


def test_one_stage_subset_ranks_the_fixed_candidates_of_stage1():
    context = context_for()
    assert context.labelled.any()
    TASK_UTILS.build(SELECTOR_CONFIGS['one_stage_subset']).select(context, 4)
    request = context.log_prob_requests[0]
    for image, pixels in request.items():
        assert torch.equal(pixels,
                           sample_candidates(context, image, 10, 'fixed'))


def test_budget_above_the_pool_takes_all_with_a_warning():
    context = context_for(num_images=2, side=3, labelled_fraction=0.0)
    selector = TASK_UTILS.build(SELECTOR_CONFIGS['one_stage'])
    with pytest.warns(UserWarning, match='taking all'):
        selection = selector.select(context, 50)
    assert len(set(pairs(selection))) == len(selection) == 2 * (9 - 3)


def test_random_one_stage_works_without_model():
    context = context_for(with_model=False)
    selector = TASK_UTILS.build(
        dict(type='OneStageSelector',
             stage2=dict(type='ScoreRanking', score='random')))
    assert len(selector.select(context, 5)) == 5


@pytest.mark.parametrize('budget', [0, -3, 2.5])
def test_bad_budget_is_rejected(budget):
    selector = TASK_UTILS.build(SELECTOR_CONFIGS['one_stage'])
    with pytest.raises(ValueError, match='budget must be a positive integer'):
        selector.select(context_for(), budget)


def test_scheduled_selector_switches_by_round():
    selector = ScheduledSelector(schedule=[
        dict(until_round=0, selector=dict(type='HerdingSelector')),
        dict(until_round=10, selector=dict(type='TwoStageSelector')),
        dict(selector=dict(type='OneStageSelector')),
    ])
    names = [type(selector.selector_for(r)).__name__ for r in (0, 1, 10, 11)]
    assert names == ['HerdingSelector', 'TwoStageSelector',
                     'TwoStageSelector', 'OneStageSelector']


def test_scheduled_selector_delegates_to_the_round_selector():
    scheduled = TASK_UTILS.build(SELECTOR_CONFIGS['scheduled'])
    for round_idx, name in ((0, 'herding'), (1, 'one_stage')):
        expected = TASK_UTILS.build(SELECTOR_CONFIGS[name]).select(
            context_for(round_idx=round_idx), 5)
        got = scheduled.select(context_for(round_idx=round_idx), 5)
        assert pairs(got) == pairs(expected)


@pytest.mark.parametrize('schedule, message', [
    ([], 'non-empty schedule'),
    ([dict(until_round=3)], 'has no "selector"'),
    ([dict(until_round=3, selector=dict(type='HerdingSelector'))],
     'last schedule entry must have no "until_round"'),
    ([dict(selector=dict(type='HerdingSelector')),
      dict(selector=dict(type='HerdingSelector'))],
     'entry 0 needs an "until_round"'),
    ([dict(until_round=5, selector=dict(type='HerdingSelector')),
      dict(until_round=5, selector=dict(type='HerdingSelector')),
      dict(selector=dict(type='HerdingSelector'))],
     'entry 1 needs an "until_round" greater than 5'),
])
def test_bad_schedules_are_rejected(schedule, message):
    with pytest.raises(ValueError, match=message):
        ScheduledSelector(schedule)


def test_selectors_build_inside_an_mmseg_scope():
    """The scope every config runs in: a plain TASK_UTILS build finds the
    selector and its nested parts, with no scope switching."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        selector = TASK_UTILS.build(
            dict(type='TwoStageSelector', stage1=STAGE1, stage2=STAGE2))
    assert type(selector.stage1).__name__ == 'LocalGlobalCandidates'
    assert type(selector.stage1.picker).__name__ == 'MaxHerding'


def test_the_run_pool_is_the_default_stage1():
    pool = dict(STAGE1, local_budget=2)
    two_stage = build_selector(dict(type='TwoStageSelector', stage2=STAGE2),
                               pool)
    assert two_stage.stage1.local_budget == 2
    own = build_selector(dict(type='TwoStageSelector', stage1=STAGE1,
                              stage2=STAGE2), pool)
    assert own.stage1.local_budget == STAGE1['local_budget']
    one_stage = build_selector(dict(type='OneStageSelector', stage2=STAGE2),
                               pool)  # takes no pool: none is given
    assert not hasattr(one_stage, 'stage1')
    scheduled = build_selector(dict(type='ScheduledSelector', schedule=[
        dict(selector=dict(type='HerdingSelector'))]), pool)
    assert scheduled.selector_for(3).stage1.local_budget == 2
    with pytest.raises(KeyError, match="'NoSuchSelector' is not registered"):
        build_selector(dict(type='NoSuchSelector'), pool)


@pytest.mark.parametrize('name, round_idx', [
    *((name, 1) for name in SELECTOR_CONFIGS), ('herding', 0)])
def test_processes_select_as_one_and_see_only_their_images(name, round_idx):
    """Three processes sharing blocks of two images pick exactly the
    pixels (and scores) of one process, each asking only for its images."""
    selector = SELECTOR_CONFIGS[name]
    context = context_for(num_images=7, images_per_request=2,
                          round_idx=round_idx)
    expected = build_selector(selector).select(context, 9)
    context.feature_requests.clear()
    context.log_prob_requests.clear()
    results = run_processes(
        context, 3, lambda view: build_selector(selector).select(view, 9))
    for selection in results:
        assert pairs(selection) == pairs(expected)
        torch.testing.assert_close(selection.scores, expected.scores,
                                   rtol=0, atol=0, equal_nan=True)
    blocks = {image // 2 % 3 for request in
              context.feature_requests + context.log_prob_requests
              for image in request}
    assert blocks == {0, 1, 2}  # every process did some of the work
