"""HeadTrainer: the round's head training through mmengine's machinery."""
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.model import BaseModel
from mmengine.optim import build_optim_wrapper
from mmengine.registry import (PARAM_SCHEDULERS, DefaultScope,
                               init_default_scope)
from mmseg.utils import add_prefix

from mmseg_al.engine import HeadTrainer, HeadTrainingConfig
from mmseg_al.engine.training.head_trainer import RecentAccuracy, head_members
from mmseg_al.engine.training.pixel_batches import labelled_pixel_loader
from mmseg_al.models.decode_heads import PixelMLPEnsembleHead, PixelMLPHead
from helpers.pixel_model import PixelModel

OPTIM = dict(type='OptimWrapper',
             optimizer=dict(type='Adam', lr=1e-2, weight_decay=1e-5))
COSINE = dict(type='CosineAnnealingLR', T_max=5, eta_min=1e-6, by_epoch=True)


class RecordingRunner:
    """What HeadTrainer uses of an mmengine Runner: the config, the
    optimizer and scheduler builders, and hooks (recorded)."""

    def __init__(self, optim=OPTIM, scheduler=COSINE, loader=None):
        self.cfg = Config(dict(optim_wrapper=optim,
                               param_scheduler=scheduler))
        self.model = None
        self.loader = loader
        self.calls = []
        self.lrs = []

    def build_optim_wrapper(self, cfg):
        with DefaultScope.overwrite_default_scope('mmseg'):  # as a run's
            return build_optim_wrapper(self.model, cfg)

    def build_param_scheduler(self, cfgs):
        return [
            PARAM_SCHEDULERS.build(cfg, default_args=dict(
                optimizer=self.optim_wrapper,
                epoch_length=len(self.loader))) for cfg in cfgs
        ]

    def call_hook(self, name, **kwargs):
        self.calls.append((name, kwargs))
        if name == 'before_train_iter':
            self.lrs.append(self.optim_wrapper.get_lr()['lr'][0])


def blobs(n=40, seed=0):
    """Three well separated classes in 3-d."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    centres = torch.eye(3) * 4
    return centres[labels] + 0.3 * torch.randn(n, 3, generator=gen), labels


def fit(model, features, labels, settings, seed=0, round_idx=0,
        optim=OPTIM, scheduler=None):
    loader = labelled_pixel_loader(features, labels, settings, seed,
                                   round_idx)
    runner = RecordingRunner(optim, scheduler, loader)
    runner.model = model
    trainer = HeadTrainer(runner, settings, seed)
    result = trainer.fit(model, loader, round_idx)
    return runner, trainer, result


def test_training_fits_and_is_reproducible():
    features, labels = blobs()
    settings = HeadTrainingConfig(max_epochs=20, batch_size=8, patience=50)
    heads, results = [], []
    for _ in range(2):
        model = PixelModel()
        _, _, result = fit(model, features, labels, settings, seed=3,
                           round_idx=2, scheduler=COSINE)
        heads.append(model.head.state_dict())
        results.append(result)
        assert not model.training
        accuracy = (model.pixel_logits(features).argmax(1) == labels).float()
        assert accuracy.mean() > 0.95
    for key in heads[0]:
        torch.testing.assert_close(heads[0][key], heads[1][key])
    assert results[0] == results[1]
    assert results[0].epochs == 20 and results[0].iterations == 100


def test_every_iteration_fires_hooks_with_batch_and_outputs():
    features, labels = blobs(16)
    settings = HeadTrainingConfig(max_epochs=2, batch_size=4)
    runner, trainer, result = fit(PixelModel(), features, labels, settings)
    names = [name for name, _ in runner.calls]
    assert names == ['before_train_iter', 'after_train_iter'] * 8
    assert trainer.iter == 8 == result.iterations
    assert trainer.max_iters == 8
    after = [kwargs for name, kwargs in runner.calls
             if name == 'after_train_iter']
    assert [kw['batch_idx'] for kw in after] == [0, 1, 2, 3] * 2
    first = after[0]
    assert first['data_batch']['inputs'].shape == (4, 3)
    assert first['data_batch']['data_samples'].shape == (4, )
    assert set(first['outputs']) == {'loss', 'decode.loss_ce',
                                     'decode.acc_seg'}
    assert float(after[-1]['outputs']['loss']) == pytest.approx(result.loss)


def test_by_epoch_scheduler_steps_once_per_head_epoch():
    features, labels = blobs(16)
    settings = HeadTrainingConfig(max_epochs=3, batch_size=4)
    runner, _, result = fit(PixelModel(), features, labels, settings,
                            scheduler=COSINE)
    assert result.iterations == 12
    expected = [1e-6 + (1e-2 - 1e-6) * (1 + math.cos(math.pi * e / 5)) / 2
                for e in range(3) for _ in range(4)]
    assert runner.lrs == pytest.approx(expected)
    # the scheduler ends with the head's epochs, not the loop's rounds
    assert runner.param_schedulers[0].end == 3


def test_the_configured_loss_gives_the_gradient_of_that_loss():
    """Class-weighted cross-entropy from the config, checked against the
    formula by hand: with plain SGD (lr 1) the update is the gradient."""
    features, labels = blobs(8)
    weight = [1.0, 3.0, 0.5]
    model = PixelModel(loss_decode=dict(
        type='CrossEntropyLoss', class_weight=weight, avg_non_ignore=True,
        loss_weight=2.0))
    settings = HeadTrainingConfig(max_epochs=1, batch_size=8)
    sgd = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=1.0))
    before = {}

    class Snapshot(RecordingRunner):

        def call_hook(self, name, **kwargs):
            super().call_hook(name, **kwargs)
            if name == 'before_train_iter':
                before.update({k: v.detach().clone() for k, v in
                               model.head.state_dict().items()})

    loader = labelled_pixel_loader(features, labels, settings, 0, 0)
    runner = Snapshot(sgd, None, loader)
    runner.model = model
    HeadTrainer(runner, settings, seed=0).fit(model, loader, 0)
    batch = runner.calls[0][1]['data_batch']
    reference = PixelModel()
    reference.head.load_state_dict(before)
    reference.train()
    logits = reference.pixel_logits(batch['inputs'])
    ce = F.cross_entropy(logits, batch['data_samples'], reduction='none')
    pixel_weight = torch.tensor(weight)[batch['data_samples']]
    # a class-weighted mean, as torch's (and mmseg's) cross-entropy
    by_hand = 2.0 * (pixel_weight * ce).sum() / pixel_weight.sum()
    by_hand.backward()
    for name, param in reference.head.named_parameters():
        update = before[name] - dict(model.head.named_parameters())[name]
        torch.testing.assert_close(update, param.grad)


def test_early_stop_after_patience_once_accurate():
    features, labels = blobs()
    settings = HeadTrainingConfig(max_epochs=200, batch_size=8, patience=5,
                                  acc_threshold=0.95)
    _, _, result = fit(PixelModel(), features, labels, settings)
    assert result.epochs < 200 and result.accuracy > 0.95
    strict = HeadTrainingConfig(max_epochs=10, batch_size=8, patience=1,
                                acc_threshold=1.0)  # never exceeded
    _, _, result = fit(PixelModel(), features, labels, strict)
    assert result.epochs == 10


def test_no_labels_means_no_training():
    features, labels = blobs(12)
    settings = HeadTrainingConfig(max_epochs=2, batch_size=4)
    runner, _, result = fit(PixelModel(), features[:0], labels[:0], settings)
    assert result.iterations == 0 and math.isnan(result.loss)
    assert runner.calls == []


@pytest.mark.parametrize('key,value,least', [('batch_size', 1, 2),
                                             ('max_epochs', 2.5, 1),
                                             ('patience', 'abc', 1)])
def test_bad_settings_name_the_key(key, value, least):
    with pytest.raises(ValueError, match=f'head_training.{key} must be an '
                       f'integer >= {least}, got {value!r}'):
        HeadTrainingConfig(**{key: value})


def test_dropout_head_is_retrained_identically_whatever_the_global_rng():
    """A resumed process starts from another global RNG state; training-time
    dropout must not depend on it."""
    features, labels = blobs()
    settings = HeadTrainingConfig(max_epochs=3, batch_size=8)
    heads = []
    for global_seed in (1, 2):
        model = PixelModel()
        model.head = torch.nn.Sequential(
            torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Dropout(0.5),
            torch.nn.Linear(8, 3))
        torch.manual_seed(global_seed)
        fit(model, features, labels, settings, seed=3, round_idx=1)
        heads.append(model.head.state_dict())
        assert torch.initial_seed() == global_seed  # global state untouched
    for key in heads[0]:
        torch.testing.assert_close(heads[0][key], heads[1][key])


def test_amp_autocasts_the_head_on_cpu():
    features, labels = blobs(8)
    dtypes = []
    model = PixelModel()
    model.head[0].register_forward_hook(
        lambda module, args, out: dtypes.append(out.dtype))
    amp = dict(type='AutocastOptimWrapper', dtype='bfloat16',
               optimizer=dict(type='Adam', lr=1e-2))
    settings = HeadTrainingConfig(max_epochs=1, batch_size=8)
    fit(model, features, labels, settings, optim=amp)
    assert dtypes == [torch.bfloat16]


def test_recent_accuracy_counts_the_last_epoch_of_pixels():
    recent = RecentAccuracy(span=10)
    assert recent.update(2, 4) == pytest.approx(2 / 4)
    assert recent.update(4, 4) == pytest.approx(6 / 8)
    # 12 pixels seen: the first batch drops out only once the other
    # batches alone cover the span
    assert recent.update(1, 4) == pytest.approx(7 / 12)
    assert recent.update(4, 4) == pytest.approx(9 / 12)
    assert recent.update(6, 6) == pytest.approx(10 / 10)


def test_missing_optim_wrapper_is_named():
    runner = SimpleNamespace(cfg=Config(dict()))
    with pytest.raises(ValueError, match='optim_wrapper'):
        HeadTrainer(runner, HeadTrainingConfig(), seed=0)


class HeadModel(BaseModel):
    """The pixel API over a decode head alone (features are given)."""

    def __init__(self, decode_head):
        super().__init__()
        self.decode_head = decode_head

    def pixel_logits(self, features, mc_dropout=False, generator=None):
        return self.decode_head.forward_pixels(features)

    def loss_pixels(self, features, labels, weights=None):
        return add_prefix(
            self.decode_head.loss_pixels(features, labels, weights),
            'decode')

    def reset_head(self):
        self.decode_head.reset_parameters()

    def forward(self, inputs, data_samples=None, mode='tensor'):
        raise NotImplementedError('trained through loss_pixels only')


def test_ensemble_members_train_on_their_own_shuffles_and_vote_right():
    init_default_scope('mmseg')
    features, labels = blobs()
    settings = HeadTrainingConfig(max_epochs=15, batch_size=8, patience=50)
    states, results = [], []
    for _ in range(2):
        model = HeadModel(PixelMLPEnsembleHead(
            in_channels=3, num_classes=3, num_models=3,
            hidden_channels=(8, 8)))
        loader = labelled_pixel_loader(features, labels, settings, 3, 1,
                                       num_members=head_members(model))
        runner = RecordingRunner(OPTIM, COSINE, loader)
        runner.model = model
        result = HeadTrainer(runner, settings, 3).fit(model, loader, 1)
        votes = model.pixel_logits(features).argmax(1)
        assert (votes == labels).float().mean() > 0.95
        states.append(model.state_dict())
        results.append(result)
        batch = runner.calls[0][1]['data_batch']
        assert tuple(batch['inputs'].shape) == (3, 8, 3)  # [M, bs, D]
    assert results[0] == results[1]  # seed-keyed init and shuffles
    assert results[0].iterations == 15 * 5
    for key in states[0]:
        torch.testing.assert_close(states[0][key], states[1][key])
    members = model.decode_head.members
    assert not torch.equal(members[0].fc1.weight, members[1].fc1.weight)


def test_a_fit_runs_at_least_min_iters_below_one_batch_of_labels():
    """10 labels in batches of 64 are one step an epoch: the epochs are
    stretched to min_iters / max_epochs steps, and early stopping (which
    would fire at once here) waits for them."""
    features, labels = blobs(10)
    _, _, plain = fit(PixelModel(), features, labels,
                      HeadTrainingConfig(max_epochs=5, batch_size=64))
    assert plain.iterations == 5
    # lr 0: the loss does not improve, so patience 1 stops it early
    frozen = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.0))
    eager = dict(max_epochs=5, batch_size=64, patience=1, acc_threshold=0.0)
    _, _, stopped = fit(PixelModel(), features, labels,
                        HeadTrainingConfig(**eager), optim=frozen)
    assert stopped.iterations < 5
    settings = HeadTrainingConfig(**eager, min_iters=37)  # 8 an epoch
    _, _, result = fit(PixelModel(), features, labels, settings,
                       optim=frozen)
    assert result.iterations == 37 and result.epochs == 5
    runner, trainer, result = fit(PixelModel(), features, labels,
                                  HeadTrainingConfig(5, 64, min_iters=37),
                                  scheduler=COSINE)
    assert result.iterations == 40 and trainer.max_iters == 40
    # every step saw all 10 labels; the scheduler still counts epochs
    batches = [kw['data_batch'] for name, kw in runner.calls
               if name == 'before_train_iter']
    assert all(len(b['data_samples']) == 10 for b in batches)
    assert runner.param_schedulers[0].end == 5


def skewed_images(seed):
    """600 pixels of "images" whose classes occur 75 / 20 / 5 % of the
    time, and a class-skewed labelled set of 12 / 3 / 1 of them."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(3, 16, generator=gen)
    classes = torch.multinomial(torch.tensor([0.75, 0.2, 0.05]), 600, True,
                                generator=gen)
    pixels = F.normalize(centres[classes] + 3.0 +
                         0.6 * torch.randn(600, 16, generator=gen), dim=1)
    labelled = torch.cat([(classes == c).nonzero()[:n, 0]
                          for c, n in enumerate((12, 3, 1))])
    return pixels, classes, labelled


@pytest.mark.parametrize('seed', range(6))
def test_a_skewed_handful_of_labels_still_predicts_every_labelled_class(
        seed):
    """With BatchNorm statistics of the images' pixels, a head fitted on
    16 labels (12 / 3 / 1) predicts each of the three classes somewhere on
    its images; with those of the labelled batch alone it may not."""
    init_default_scope('mmseg')
    pixels, classes, labelled = skewed_images(seed)
    predicted = {}
    for calibrated in (False, True):
        settings = HeadTrainingConfig(
            bn_calibration_pixels=len(pixels) if calibrated else 0)
        model = HeadModel(PixelMLPHead(in_channels=pixels.shape[1],
                                       num_classes=3,
                                       hidden_channels=(32, 16)))
        loader = labelled_pixel_loader(pixels[labelled], classes[labelled],
                                       settings, seed, 0)
        runner = RecordingRunner(
            dict(type='OptimWrapper',
                 optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-5)),
            dict(type='CosineAnnealingLR', T_max=50, eta_min=1e-6,
                 by_epoch=True), loader)
        runner.model = model
        HeadTrainer(runner, settings, seed).fit(
            model, loader, 0, pixels if calibrated else None)
        predicted[calibrated] = set(
            model.pixel_logits(pixels).argmax(1).tolist())
    assert predicted[True] == {0, 1, 2}
    if seed in (2, 3):  # where the labelled batch's statistics fail
        assert predicted[False] != {0, 1, 2}
