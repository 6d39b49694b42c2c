"""Every shipped config parses, names only registered types, and says what
its file name promises."""
import ast
import copy
import functools
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import (DATA_SAMPLERS, DATASETS, HOOKS, LOOPS, METRICS,
                            MODELS, OPTIM_WRAPPERS, OPTIMIZERS,
                            PARAM_SCHEDULERS, TASK_UTILS, TRANSFORMS,
                            VISBACKENDS, VISUALIZERS)

import mmseg_al  # noqa: F401  (registers everything)
from mmseg_al.selection import build_selector

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'),
                       recursive=True))
EXPERIMENTS = [
    p for p in CONFIGS if '_base_' not in p.split(osp.sep)
]
#: The experiments that acquire labels (the others: fully supervised).
AL_EXPERIMENTS = [p for p in EXPERIMENTS if '-full_' not in osp.basename(p)]

#: The registry a ``type`` is looked up in, by the key that holds its dict.
#: Keys not listed inherit the registry of the enclosing dict. Top-level
#: keys that are not listed are the config's own variables (shared dicts);
#: they are checked where the runner keys use them.
KEY_REGISTRIES = {
    'model': MODELS,
    'dataset': DATASETS,
    'pipeline': TRANSFORMS,
    'sampler': DATA_SAMPLERS,
    'train_cfg': LOOPS,
    'val_cfg': LOOPS,
    'test_cfg': LOOPS,
    'cold_start': TASK_UTILS,
    'selector': TASK_UTILS,
    'stage1': TASK_UTILS,
    'stage2': TASK_UTILS,
    'picker': TASK_UTILS,
    'oracle': TASK_UTILS,
    'optim_wrapper': OPTIM_WRAPPERS,
    'optimizer': OPTIMIZERS,
    'param_scheduler': PARAM_SCHEDULERS,
    'val_evaluator': METRICS,
    'test_evaluator': METRICS,
    'default_hooks': HOOKS,
    'custom_hooks': HOOKS,
    'visualizer': VISUALIZERS,
    'vis_backends': VISBACKENDS,
}

#: score and power flag of each baseline method name.
BASELINE_SCORES = {
    'random': ('random', False),
    'entropy': ('entropy', False),
    'margin': ('margin', False),
    'bald': ('bald', False),
    'dald': ('dald', False),
    'powerbald': ('bald', True),
    'powerdald': ('dald', True),
    'ebald': ('ebald', False),
    'edald': ('edald', False),
    'balentacq': ('balentacq', False),
}
MC_DROPOUT_SCORES = ('bald', 'ebald')


RUNNER_KEYS = ('model', 'train_dataloader', 'val_dataloader',
               'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg',
               'optim_wrapper', 'param_scheduler', 'val_evaluator',
               'test_evaluator', 'default_hooks', 'custom_hooks',
               'visualizer')


def runner_typed_dicts(cfg):
    """:func:`typed_dicts` of the keys the runner builds from."""
    for key in RUNNER_KEYS:
        if key in cfg:
            yield from typed_dicts(cfg[key], KEY_REGISTRIES.get(key),
                                   f'cfg.{key}')


def typed_dicts(node, registry=None, path='cfg'):
    """Yield ``(path, registry, dict)`` for every dict with a ``type``."""
    if isinstance(node, dict):
        if 'type' in node:
            yield path, registry, node
        for key, value in node.items():
            yield from typed_dicts(value, KEY_REGISTRIES.get(key, registry),
                                   f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from typed_dicts(value, registry, f'{path}[{i}]')


@functools.lru_cache(maxsize=None)
def _parsed(path):
    return Config.fromfile(osp.join(REPO, path))


def load(path):
    """The parsed config (parsed once per session; callers get a copy)."""
    return copy.deepcopy(_parsed(path))


def test_the_walker_catches_unknown_types():
    cfg = dict(model=dict(type='EncoderDecoder',
                          backbone=dict(type='NoSuchNet')),
               train_cfg=dict(selector=dict(type='TwoStageSelector')))
    found = {p: (r, d['type']) for p, r, d in runner_typed_dicts(cfg)}
    assert found['cfg.model.backbone'] == (MODELS, 'NoSuchNet')
    assert found['cfg.train_cfg.selector'] == (TASK_UTILS, 'TwoStageSelector')
    assert MODELS.get('NoSuchNet') is None


def test_every_config_is_found():
    assert len(EXPERIMENTS) >= 28
    for name in ('camvid', 'ade_bed', 'cityscapes', 'pascal_context', 'toy',
                 'camvid_deeplabv3'):
        assert osp.join('configs', 'edald', f'{name}.py') in EXPERIMENTS


@pytest.mark.parametrize('path', CONFIGS)
def test_config_parses_and_every_type_is_registered(path):
    cfg = load(path).to_dict()
    init_default_scope('mmseg')
    for where, registry, node in runner_typed_dicts(cfg):
        assert registry.get(node['type']) is not None, (
            f'{path}: {where}.type={node["type"]!r} is not in the '
            f'{registry.name} registry')


@pytest.mark.parametrize('path', EXPERIMENTS)
def test_experiment_is_a_complete_mmseg_al_job(path):
    cfg = load(path)
    assert cfg.default_scope == 'mmseg'
    assert cfg.custom_imports == dict(imports=['mmseg_al'],
                                      allow_failed_imports=False)
    assert cfg.train_cfg.type == ('ActiveLearningLoop' if path in
                                  AL_EXPERIMENTS else 'FullySupervisedLoop')
    assert cfg.train_dataloader.dataset.type == 'PixelSparseDataset'
    inner = cfg.train_dataloader.dataset.dataset.type
    classes = DATASETS.get(inner).METAINFO['classes']
    assert cfg.model.decode_head.num_classes == len(classes)
    assert cfg.val_dataloader.dataset.type == inner


PAPER_SETTINGS = {
    'camvid': ('256x256_diffusion_uncond.pt', 'CamVidDataset', 'test'),
    'ade_bed': ('lsun_bedroom.pt', 'ADEBedDataset', 'test'),
    'cityscapes': ('256x256_diffusion_uncond.pt', 'CityscapesDataset', 'val'),
    'pascal_context': ('256x256_diffusion_uncond.pt', 'PascalContext33Dataset',
                       'val'),
}


@pytest.mark.parametrize('name', sorted(PAPER_SETTINGS))
def test_paper_setting(name):
    checkpoint, dataset, eval_split = PAPER_SETTINGS[name]
    cfg = load(osp.join('configs', 'edald', f'{name}.py'))
    backbone = cfg.model.backbone
    assert osp.basename(backbone.checkpoint) == checkpoint
    assert backbone.unet.num_channels == 256
    assert backbone.unet.dropout == (0.1 if name == 'ade_bed' else 0.0)
    assert tuple(backbone.steps) == (50, 150, 250)
    assert tuple(backbone.blocks) == (5, 8, 12, 17)
    assert cfg.train_dataloader.dataset.dataset.type == dataset
    assert eval_split in cfg.val_dataloader.dataset.data_prefix.img_path
    loop = cfg.train_cfg
    assert (loop.rounds, loop.budget) == (10, dict(per_image=0.1))
    assert loop.cold_start.type == 'HerdingSelector'
    assert loop.selector.type == 'TwoStageSelector'
    # one Stage-1 pool for both selectors, defined once
    assert 'stage1' not in loop.cold_start and 'stage1' not in loop.selector
    stage1, stage2 = loop.stage1, loop.selector.stage2
    assert stage1.picker.type == 'MaxHerding'
    assert (stage1.candidates_per_image, stage1.candidates,
            stage1.local_budget, stage1.keep_ratio) == (10000, 'fixed', 50,
                                                        0.5)
    assert (stage2.score, stage2.num_draws) == ('edald', 5)
    assert not stage2.get('power', False)
    assert cfg.model.decode_head.dropout_ratio == 0.0
    assert backbone.normalize is True
    assert (backbone.unet.diffusion_steps,
            backbone.unet.noise_schedule) == (1000, 'linear')
    assert dict(loop.head_training) == dict(
        max_epochs=50, batch_size=64, patience=50, acc_threshold=0.95,
        min_iters=0, bn_calibration_pixels=4800)
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == (
        'Adam', 1e-3, 1e-5)
    scheduler = cfg.param_scheduler
    assert (scheduler.type, scheduler.T_max, scheduler.eta_min,
            scheduler.by_epoch) == ('CosineAnnealingLR', 5, 1e-6, True)


#: mmseg's naming pattern: algorithm_backbone_schedule_dataset-crop.
BASELINE_NAME = (r'configs/baselines/(\w+)-(1|2)stage_adm256-t3b4_10r-b0.1n'
                 r'_camvid-256x256\.py')
BASELINES = sorted(
    p for p in EXPERIMENTS
    if re.fullmatch(BASELINE_NAME, p)
    and re.fullmatch(BASELINE_NAME, p).group(1) in BASELINE_SCORES)


def test_config_names_follow_the_mmseg_pattern():
    # budgets: b0.1n (per image) or b400kpx (pixels); all-px: every pixel
    pattern = (r'([a-z0-9.-]+-(1stage|2stage|scheduled)_[a-z0-9.-]+_'
               r'\d+r-b([0-9.]+n|\d+k?px)|[a-z0-9.-]+-full_[a-z0-9.-]+_'
               r'all-px)_[a-z0-9-]+-\d+x\d+\.py')
    named = [p for p in EXPERIMENTS if osp.basename(p) not in (
        'camvid.py', 'ade_bed.py', 'cityscapes.py', 'pascal_context.py',
        'toy.py', 'camvid_deeplabv3.py')]
    assert [p for p in named
            if not re.fullmatch(pattern, osp.basename(p))] == []


@pytest.mark.parametrize('name', [
    'camvid', 'ade_bed', 'cityscapes', 'pascal_context', 'toy',
    'camvid_deeplabv3'
])
def test_short_names_are_the_full_configs(name):
    short = osp.join('configs', 'edald', f'{name}.py')
    with open(osp.join(REPO, short), encoding='utf-8') as file:
        tree = ast.parse(file.read())
    base, = ast.literal_eval(tree.body[0].value)  # _base_ = ['./full.py']
    full = osp.normpath(osp.join('configs', 'edald', base))
    assert full in EXPERIMENTS and full != short
    assert load(short).to_dict() == load(full).to_dict()


def test_every_uncertainty_baseline_exists_in_both_variants():
    names = {osp.basename(p) for p in BASELINES}
    assert names == {
        f'{m}-{s}stage_adm256-t3b4_10r-b0.1n_camvid-256x256.py'
        for m in BASELINE_SCORES for s in '12'
    }


@pytest.mark.parametrize('path', BASELINES)
def test_baseline_selector_matches_its_name(path):
    method, stages = re.fullmatch(BASELINE_NAME, path).groups()
    stages = 'one-stage' if stages == '1' else 'two-stage'
    score, power = BASELINE_SCORES[method]
    cfg = load(path)
    selector = cfg.train_cfg.selector
    assert selector.stage2.type == 'ScoreRanking'
    assert selector.stage2.score == score
    assert selector.stage2.get('power', False) == power
    if stages == 'one-stage':
        assert selector.type == 'OneStageSelector'
        assert 'stage1' not in selector
        assert (selector.candidates_per_image,
                selector.candidates) == (10000, 'fixed')
    else:
        assert selector.type == 'TwoStageSelector'
        assert 'stage1' not in selector  # the run's pool
        assert cfg.train_cfg.stage1.picker.type == 'MaxHerding'
    dropout = cfg.model.decode_head.dropout_ratio
    assert (dropout > 0) == (score in MC_DROPOUT_SCORES), dropout
    # Only the selector (and the head's dropout) differ from the method.
    assert cfg.model.backbone == load('configs/edald/camvid.py').model.backbone
    assert cfg.train_cfg.cold_start.type == 'HerdingSelector'


def baseline(name):
    return load(f'configs/baselines/{name}_adm256-t3b4_10r-b0.1n_'
                'camvid-256x256.py')


def test_other_baselines():
    herding = baseline('herding-1stage')
    assert herding.train_cfg.selector.type == 'HerdingSelector'
    assert herding.train_cfg.stage1.picker.type == 'MaxHerding'

    coreset = baseline('coreset-edald-2stage')
    assert coreset.train_cfg.stage1.picker.type == 'CoreSet'
    selectors = [build_selector(coreset.train_cfg[key],
                                coreset.train_cfg.stage1)
                 for key in ('cold_start', 'selector')]
    assert [type(s.stage1.picker).__name__ for s in selectors] == [
        'CoreSet', 'CoreSet']
    assert coreset.train_cfg.selector.stage2.score == 'edald'

    cbda = baseline('edald-cbda-2stage')
    assert cbda.train_cfg.selector.stage2.class_balance == dict(
        mode='cbda', epsilon=0.1)
    assert cbda.train_cfg.selector.stage2.score == 'edald'

    scheduled = load('configs/baselines/edald-then-margin-scheduled_'
                     'adm256-t3b4_20r-b0.1n_camvid-256x256.py')
    assert scheduled.train_cfg.rounds == 20
    first, then = scheduled.train_cfg.selector.schedule
    assert first.until_round == 9
    assert first.selector == load(
        'configs/edald/camvid.py').train_cfg.selector
    assert then.selector.type == 'OneStageSelector'
    assert then.selector.stage2.score == 'margin'


@pytest.mark.parametrize('path', AL_EXPERIMENTS)
def test_selectors_build(path):
    loop = load(path).train_cfg
    for key in ('cold_start', 'selector'):
        assert build_selector(loop[key], loop.stage1) is not None


def test_deeplabv3_config_builds_without_pretraining():
    cfg = load('configs/edald/camvid_deeplabv3.py')
    assert cfg.model.pretrained == 'open-mmlab://resnet50_v1c'
    assert cfg.train_cfg.selector.stage2.score == 'ebald'
    assert cfg.train_cfg.stage1.picker.type == 'MaxHerding'
    cfg.model.pretrained = None
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'DecodeHeadPixelModel'
    assert (model.feature_dim, model.num_classes) == (512, 11)
    assert model.dropout_ratio > 0


def test_toy_config_builds_its_model_and_dataset(tmp_path):
    cfg = load('configs/edald/toy.py')
    hook, = cfg.custom_hooks
    assert hook.type == 'DiffusionPretrainHook'
    assert hook.checkpoint == cfg.model.backbone.checkpoint
    assert hook.checkpoint.startswith('checkpoints/')

    init_default_scope('mmseg')
    pool_cfg = cfg.train_dataloader.dataset
    pool_cfg.dataset.update(data_root=str(tmp_path / 'toy'), num_train=3,
                            num_val=1)
    pool = DATASETS.build(pool_cfg)
    assert len(pool.image_ids) == 3
    model = MODELS.build(cfg.model)
    model.backbone.noise_seed = 0  # a run sets it from its seed
    item = pool.pool_item(0)
    data = model.data_preprocessor(
        dict(inputs=[item['inputs']], data_samples=[item['data_samples']]))
    maps = model.backbone(data['inputs'], pool.image_ids[:1])
    sizes = sorted({m.shape[-1] for m in maps})
    assert sizes == [16, 32, 64]  # 1/4, 1/2 and full resolution
    assert model.feature_dim == sum(m.shape[1] for m in maps)
    point = model.pixel_features(data['inputs'], pool.image_ids[:1],
                                 [torch.tensor([0, 4095])])[0]
    assert point.shape == (2, model.feature_dim)


#: dataset -> (name part of the LEDM configs, checkpoint, classes)
LEDM_DATASETS = {
    'camvid': ('adm256-t3b5_{}_camvid', '256x256_diffusion_uncond.pt', 11),
    'cityscapes': ('adm256-t3b5_{}_cityscapes',
                   '256x256_diffusion_uncond.pt', 19),
    'pascal_context': ('adm256-t3b5_{}_pascal-context-33',
                       '256x256_diffusion_uncond.pt', 33),
    'ade_bed': ('adm256-lsun-t3b5_{}_ade-bed', 'lsun_bedroom.pt', 30),
}


def ledm_config(kind: str, name: str) -> str:
    """Path of the LEDM ``kind`` ('full' or 'ensmi') config of a dataset."""
    if kind == 'full':
        middle = LEDM_DATASETS[name][0].format('all-px')
        return f'configs/ledm/ledm-full_{middle}-256x256.py'
    middle = LEDM_DATASETS[name][0].format('10r-b0.1n')
    return f'configs/ledm/ledm-{kind}-2stage_{middle}-256x256.py'


def assert_ledm_model(cfg, checkpoint, num_classes):
    """LEDM's feature setting and ensemble of 10 (docs/method.md, LEDM)."""
    backbone, head = cfg.model.backbone, cfg.model.decode_head
    assert backbone.checkpoint == f'checkpoints/{checkpoint}'
    assert tuple(backbone.blocks) == (5, 6, 7, 8, 12)
    assert tuple(backbone.steps) == (50, 150, 250)
    assert backbone.noise_seed == 0  # fixed, not the run's seed
    assert (head.type, head.num_models, head.predict,
            head.num_classes) == ('PixelMLPEnsembleHead', 10, 'vote',
                                  num_classes)
    assert 'hidden_channels' not in head  # LEDM's widths
    assert (head.dropout_ratio, head.ignore_index) == (0.0, 255)
    assert head.loss_decode.type == 'CrossEntropyLoss'
    assert head.loss_decode.avg_non_ignore is True


@pytest.mark.parametrize('name', LEDM_DATASETS)
def test_ledm_fully_supervised_row(name):
    _, checkpoint, num_classes = LEDM_DATASETS[name]
    cfg = load(ledm_config('full', name))
    assert_ledm_model(cfg, checkpoint, num_classes)
    loop = cfg.train_cfg
    assert (loop.type, loop.images_per_group) == ('FullySupervisedLoop', 4)
    edald = load(f'configs/edald/{name}.py')
    assert cfg.train_dataloader == edald.train_dataloader
    assert cfg.val_dataloader == edald.val_dataloader
    assert loop.head_training == edald.train_cfg.head_training
    assert loop.feature_batch_size == edald.train_cfg.feature_batch_size


@pytest.mark.parametrize('name', LEDM_DATASETS)
def test_ledm_al_two_stage_ranks_by_ensemble_mi(name):
    _, checkpoint, num_classes = LEDM_DATASETS[name]
    cfg = load(ledm_config('ensmi', name))
    assert_ledm_model(cfg, checkpoint, num_classes)
    edald = load(f'configs/edald/{name}.py').train_cfg
    loop = cfg.train_cfg
    assert loop.selector.stage2 == dict(type='ScoreRanking',
                                        score='ensemble_mi')
    assert loop.selector.type == 'TwoStageSelector'
    assert loop.stage1 == edald.stage1
    assert loop.cold_start == edald.cold_start
    assert (loop.rounds, loop.budget) == (edald.rounds, edald.budget)


def test_ledm_real_preset_has_ledm_8448_d_features():
    init_default_scope('mmseg')
    with torch.device('meta'):  # the layout without 2 GB of weights
        model = MODELS.build(load(ledm_config('full', 'camvid')).model)
    assert model.feature_dim == 8448
    assert model.decode_head.num_members == 10
    assert model.decode_head.members[0].hidden_channels == (128, 32)


def test_ledm_toy_is_the_edald_toy_with_the_ensemble():
    cfg, edald = load('configs/ledm/toy.py'), load('configs/edald/toy.py')
    assert cfg.model.backbone.noise_seed == 0
    cfg.model.backbone.noise_seed = edald.model.backbone.noise_seed
    assert cfg.model.backbone == edald.model.backbone
    assert (cfg.model.decode_head.type,
            cfg.model.decode_head.num_models) == ('PixelMLPEnsembleHead', 10)
    assert cfg.train_cfg.selector.stage2 == dict(type='ScoreRanking',
                                                 score='ensemble_mi')
    assert cfg.train_cfg.stage1 == edald.train_cfg.stage1
    assert cfg.custom_hooks == edald.custom_hooks


@pytest.mark.parametrize('path', CONFIGS)
def test_short_aliases_are_no_bases(path):
    """A config inherits from ``_base_/`` files or from configs named in
    mmseg's pattern (``method-..._schedule_dataset.py``), never from a
    short alias such as ``configs/edald/camvid.py``, which exists only to
    be run."""
    tree = ast.parse(open(osp.join(REPO, path), encoding='utf-8').read())
    bases = [ast.literal_eval(node.value) for node in tree.body
             if isinstance(node, ast.Assign)
             and any(getattr(t, 'id', None) == '_base_'
                     for t in node.targets)]
    for base in (b for value in bases for b in
                 (value if isinstance(value, list) else [value])):
        parts = osp.normpath(osp.join(osp.dirname(path), base)).split(osp.sep)
        assert '_base_' in parts or '-' in parts[-1], (
            f'{path} inherits from the short alias {base}')
