"""The active-learning run as an mmengine training loop.

Round 0: the cold-start selector picks the first ``b`` pixels, the oracle
reveals them and the labels are saved. Round ``r``: a freshly initialised
head is trained on the labels of rounds ``0..r`` (cached clean features),
evaluated with the runner's val loop, and, unless ``r`` is the last round,
used to select the ``b`` pixels of round ``r + 1``. ``R`` rounds therefore
report ``R`` heads on ``b, 2b, ..., Rb`` labelled pixels.

With ``expansion`` (:mod:`mmseg_al.annotation.region_expansion`) each click's
proposed region is shown to the oracle, and an accepted region's pixels are
stored as expanded pixels of that click: the budget counts clicks, the head
trains on both.

Everything random is keyed by ``(seed, round, ...)`` and all state that
matters is on disk after every step (the labels, the pending selection of
a round, the metrics; see :class:`~mmseg_al.state.RunDir`), so a resumed
run repeats exactly the choices of an uninterrupted one.
"""
import functools
import os
import time
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.dist import barrier, broadcast_object_list, is_main_process
from mmseg.registry import LOOPS

from mmseg_al.annotation import (PoolImages, QueryRound, RegionExpansion,
                                 expand_clicks)
from mmseg_al.annotation.model_guesses import guesses_of, top_guesses
from mmseg_al.registry import TASK_UTILS
from mmseg_al.selection import Selection, build_selector
from mmseg_al.selection.kernels import parse_memory
from mmseg_al.selection.pixel_requests import sample_candidates
from mmseg_al.selection.ranking import STOCHASTIC_SCORES
from mmseg_al.state import LabelStore, write_queries
from mmseg_al.state.pending_queries import PendingQueries, RoundSelection
from mmseg_al.state.run_file import resolve_budget, run_settings
from ..features.pool_features import PoolFeatures
from ..features.pool_selection_context import PoolSelectionContext
from ..training.expanded_pixels import capped_expansion, expanded_weights
from ..training.head_trainer import HeadTrainingResult, head_members
from ..training.pixel_batches import labelled_pixel_loader
from .head_loop import HeadLoop


def _kept_pixels(offered: PoolSelectionContext, limit: int,
                 calibration: Dict[int, torch.Tensor],
                 image: int) -> torch.Tensor:
    """An image's fixed candidates and its calibration pixels: the pixels
    whose features a run keeps once their block has run."""
    fixed = sample_candidates(offered, image, limit, 'fixed')
    if image not in calibration:
        return fixed
    return torch.unique(torch.cat([fixed, calibration[image]]))


#: How the noise draws of Stage 2 relate across rounds.
NOISE_DRAWS = ('per_round', 'per_run')


def _num_draws(selector) -> int:
    """Noise draws the selector's Stage 2 asks for (M, and draw 0 for an
    entropy-augmented score; the most of a schedule's selectors); 0 for
    scores without noise draws."""
    schedule = getattr(selector, 'schedule', None)
    if schedule is not None:
        return max(_num_draws(scheduled) for _, scheduled in schedule)
    stage2 = getattr(selector, 'stage2', None)
    score = getattr(stage2, 'score', None)
    if STOCHASTIC_SCORES.get(score, True):  # none, or MC dropout
        return 0
    return stage2.num_draws + (score == 'edald') - (
        score == 'edald_released')


@LOOPS.register_module()
class ActiveLearningLoop(HeadLoop):
    """Select, reveal, retrain, evaluate: ``rounds`` times.

    A round is one mmengine epoch (``before/after_train_epoch`` fire once
    per trained head); the head's training iterations are the loop's
    iterations (see :class:`~mmseg_al.engine.training.HeadTrainer`). The
    loop writes the labels, the queries and ``metrics.json``; hooks draw
    the pictures (:mod:`mmseg_al.engine.hooks`): the loop fires
    ``after_queries`` once a round's queries are known and publishes the
    learning curve in the message hub.

    Args:
        runner, dataloader, head_training, feature_batch_size, seed: see
            :class:`~mmseg_al.engine.runner.head_loop.HeadLoop`.
        rounds: number of labelled rounds ``R``.
        budget: ``dict(per_image=f)`` or ``dict(pixels=n)``.
        cold_start: selector config for round 0 (no model yet).
        selector: selector config for rounds ``1..R-1``.
        stage1: the Stage-1 candidate-set config, given to every selector
            of the loop that takes one and does not set its own; a child
            config overrides it once, here.
        oracle: ``dict(type='GroundTruthOracle')``,
            ``dict(type='FileOracle')`` or ``dict(type='WebOracle')``.
        oracle_void: drop ground-truth void pixels from the candidates
            (uses knowledge a real annotator does not give; off by default).
        noise_draws: ``'per_round'`` (a noise draw keyed by (seed, round,
            image, draw): new draws every round) or ``'per_run'`` (keyed by
            (seed, image, draw): the same M draws every round, so their
            features are computed once, like the clean ones).
        feature_memory: bytes (e.g. ``'2GB'``) the run may keep features
            in: the fixed candidates' clean features (and with
            ``noise_draws='per_run'`` their draws') when they all fit,
            then the evaluation images' backbone maps; what does not fit
            is recomputed every round.
        expansion: None (off: one click labels one pixel), or a region
            expansion config, e.g. ``dict(type='SuperpixelExpansion')``
            or ``dict(type='SAMExpansion', checkpoint=...)``.
    """

    def __init__(self, runner, dataloader, rounds: int = 10,
                 budget: dict = dict(per_image=0.1),
                 cold_start: dict = dict(type='HerdingSelector'),
                 selector: dict = dict(type='TwoStageSelector'),
                 stage1: Optional[dict] = None,
                 oracle: dict = dict(type='GroundTruthOracle'),
                 oracle_void: bool = False,
                 head_training: Optional[dict] = None,
                 feature_batch_size: int = 8,
                 noise_draws: str = 'per_round',
                 feature_memory: Union[int, str] = '2GB',
                 expansion: Optional[dict] = None,
                 seed: Optional[int] = None) -> None:
        super().__init__(runner, dataloader, head_training,
                         feature_batch_size, seed)
        if noise_draws not in NOISE_DRAWS:
            raise ValueError(f'train_cfg.noise_draws must be one of '
                             f'{NOISE_DRAWS}, got {noise_draws!r}')
        self.noise_draws = noise_draws
        self.feature_memory = parse_memory(feature_memory,
                                           'train_cfg.feature_memory')
        self.stage1 = dict(stage1 or {})
        if not isinstance(rounds, int) or isinstance(rounds, bool) or \
                rounds < 1:
            raise ValueError('train_cfg.rounds must be an integer >= 1, got '
                             f'{rounds!r}')
        self.rounds = rounds
        self.budget = resolve_budget(budget, len(self.pool.image_ids))
        self.cold_start = build_selector(cold_start, stage1)
        self.selector = build_selector(selector, stage1)
        self.oracle = TASK_UTILS.build(oracle)
        self.oracle_void = oracle_void
        self.expansion = self._build_expansion(expansion)
        self._allow_config_change = bool(
            runner.cfg.get('allow_config_change', False))
        # here, before the hooks' before_run (which may pretrain a backbone
        # for minutes), not when the rounds start
        self.run_dir.check_resume(runner.cfg.get('resume', False))

    @property
    def max_epochs(self) -> int:
        return self.rounds

    def run(self):
        """Run (or continue) the rounds; returns the model."""
        model, runner = self.model, self.runner
        self._check_runner()
        model.seed_noise(self.seed)
        store, last_saved = self._restore_state(model.num_classes)
        self.metrics = self.run_dir.evaluated(last_round=last_saved)
        self.features = self._pool_features()
        trained_round: Optional[int] = None
        runner.call_hook('before_train')
        for round_idx in range(self.rounds):
            if round_idx <= last_saved and self.metrics.entry(round_idx):
                continue  # done before a resume
            self._epoch = round_idx
            runner.call_hook('before_train_epoch')
            seconds: Dict[str, float] = {}
            if round_idx > last_saved:
                needs_head = round_idx > 0 and trained_round != round_idx - 1
                self._acquire(store, round_idx, seconds, needs_head)
                last_saved = round_idx
            # a round recomputed on resume (its metrics entry was lost)
            # trains on its own labels, not on those of later rounds
            labels = store.up_to_round(round_idx)
            self._train(labels, round_idx, seconds)
            trained_round = round_idx
            self._evaluate(labels.num_clicks, seconds,
                           None if self.expansion is None else
                           labels.num_expanded)
            runner.call_hook('after_train_epoch')
        self._epoch = self.rounds
        runner.call_hook('after_train')
        self._log_curve()
        return model

    def _build_expansion(self, cfg: Optional[dict]
                         ) -> Optional[RegionExpansion]:
        """The region expansion of ``train_cfg.expansion`` (None: off)."""
        if cfg is None:
            return None
        expansion = TASK_UTILS.build(cfg)
        if not isinstance(expansion, RegionExpansion):
            raise TypeError(
                f'train_cfg.expansion builds a {type(expansion).__name__}, '
                "not a region expansion; use dict(type='SuperpixelExpansion'"
                ") or dict(type='SAMExpansion', ...)")
        if not hasattr(self.oracle, 'accepted_regions'):
            raise TypeError(
                f'train_cfg.expansion needs an oracle that says which '
                f'regions are accepted (accepted_regions); '
                f'{type(self.oracle).__name__} does not. Use '
                'GroundTruthOracle, FileOracle or WebOracle, or drop '
                'train_cfg.expansion')
        return expansion

    def _restore_state(self, num_classes: int) -> Tuple[LabelStore, int]:
        """The labels so far and the last round they cover (-1: none)."""
        ids, shapes = self.pool.image_ids, self.pool.image_shapes
        latest = self.run_dir.latest_labelled_round()
        run_file = self.run_dir.run_file
        started = run_file.exists()
        barrier()  # every rank has looked before the main rank writes
        settings = run_settings(self.runner.cfg, self.seed)
        if started:
            run_file.check(settings, self._allow_config_change,
                           self.runner.logger)
            self.run_dir.imports.warn_edited(self.runner.logger)
        else:
            run_file.write(settings)
        if latest is None:
            return LabelStore(ids, shapes, num_classes), -1
        store = LabelStore.load(self.run_dir.state_dir, ids, shapes,
                                num_classes)
        self.runner.logger.info(
            f'Resuming from round {latest} ({store.num_labelled} labelled '
            f'pixels) in {self.work_dir}')
        return store, latest

    def _pool_features(self) -> PoolFeatures:
        """The run's pool features, keeping the fixed candidates' (and the
        per-run draws') when they fit ``feature_memory``; the rest of the
        budget goes to the evaluation images' backbone maps."""
        features = PoolFeatures(self.pool, self.model,
                                self.feature_batch_size,
                                per_run_draws=self.noise_draws == 'per_run')
        limit = self.stage1.get('candidates_per_image')
        logger, left = self.runner.logger, self.feature_memory
        if self.stage1.get('candidates', 'fixed') == 'fixed' and limit:
            kinds = 1 + (_num_draws(self.selector)
                         if features.per_run_draws else 0)
            calibration = self._calibration_request()
            owned = [i for i in range(len(self.pool.image_ids))
                     if features.blocks.owns(i)]
            pixels = len(owned) * limit + sum(
                calibration[i].numel() for i in owned if i in calibration)
            need = pixels * kinds * self.model.feature_dim * 4
            what = (f'{limit} fixed candidates x {len(owned)} images (this '
                    "rank's) and the calibration sample, "
                    f'{kinds} kind(s) (clean'
                    f'{" and noise draws" if kinds > 1 else ""}): '
                    f'{need / 2**20:.0f} MB')
            if need <= left:
                offered = PoolSelectionContext(
                    features, LabelStore(self.pool.image_ids,
                                         self.pool.image_shapes,
                                         self.model.num_classes),
                    0, self.seed, has_model=False,
                    oracle_void=self.oracle_void)
                features.candidates = functools.lru_cache(maxsize=None)(
                    functools.partial(_kept_pixels, offered, limit,
                                      calibration))
                left -= need
                logger.info(f'Features kept for the run: {what}')
            else:
                logger.info(f'Features not kept ({what} > feature_memory '
                            f'{self.feature_memory / 2**20:.0f} MB): the '
                            'candidates are extracted again every round')
        if hasattr(self.model, 'keep_dense_maps'):
            self.model.keep_dense_maps(left)
        return features

    def _context(self, store: LabelStore, round_idx: int,
                 purpose: str = 'candidates') -> PoolSelectionContext:
        return PoolSelectionContext(
            self.features, store, round_idx, self.seed,
            has_model=round_idx > 0, oracle_void=self.oracle_void,
            purpose=purpose)

    def _train(self, store: LabelStore, round_idx: int,
               seconds: Optional[Dict[str, float]] = None
               ) -> HeadTrainingResult:
        """Fit a fresh head on the labels of rounds ``0..round_idx`` (with
        expansion: the clicks and at most ``max_pixels_per_click`` expanded
        pixels of each)."""
        start = time.perf_counter()
        weights = None
        if self.expansion is not None:
            store, left_out = capped_expansion(
                store, self.expansion.max_pixels_per_click, self.seed)
            weights = expanded_weights(store, self.expansion.weight)
            self.runner.logger.info(
                f'Round {round_idx}: the head trains on {store.num_clicks} '
                f'clicks and {store.num_expanded} expanded pixels'
                + (f' ({left_out} more left out: at most '
                   f'{self.expansion.max_pixels_per_click} per click)'
                   if left_out else ''))
        features, labels = self.features.labelled(store)
        # annotator-void pixels carry no class: leave them out of the
        # batches (and of the batch-norm statistics)
        usable = labels != store.ignore_index
        self.dataloader = labelled_pixel_loader(
            features[usable], labels[usable], self.head_trainer.settings,
            self.seed, round_idx, head_members(self.model),
            self.pool.metainfo,
            None if weights is None else weights[usable])
        result = self.head_trainer.fit(self.model, self.dataloader,
                                       round_idx,
                                       self._calibration_features(
                                           self.features))
        logger = self.runner.logger
        if result.iterations == 0:
            logger.warning(
                f'Round {round_idx}: all {len(labels)} labelled pixels are '
                'void, so the head was not trained; this round evaluates '
                'an untrained head.')
        else:
            logger.info(
                f'Round {round_idx}: head trained on {int(usable.sum())} '
                f'pixels, {result.epochs} epochs / {result.iterations} '
                f'iterations, loss {result.loss:.4f}, labelled accuracy '
                f'{result.accuracy:.3f}')
        if seconds is not None:
            seconds['train'] = time.perf_counter() - start
        return result

    def _acquire(self, store: LabelStore, round_idx: int,
                 seconds: Dict[str, float], needs_head: bool) -> None:
        """Select the round's pixels (or take the selection saved before an
        interruption), have the oracle label them, and save the labels.

        ``needs_head``: the previous round's head is not in memory (resumed
        run); it is retrained, identically, if a selection has to be made.
        """
        pending = self.run_dir.queries(round_idx)
        picked = self._saved_selection(store, pending)
        if picked is None:
            if needs_head:
                self._train(store, round_idx - 1)
            start = time.perf_counter()
            picked, predicted = self._select(store, round_idx)
            seconds['select'] = time.perf_counter() - start
            guesses = self._guesses(store, round_idx, picked, predicted)
            if is_main_process():
                self._write_queries(store, pending, picked, guesses)
            barrier()
        queries = QueryRound(
            round_idx=round_idx, image_ids=picked.image_ids,
            pixels=picked.pixels, run_dir=self.run_dir,
            images=PoolImages(self.pool), num_classes=store.num_classes,
            ignore_index=store.ignore_index)
        if self.expansion is not None:
            queries.regions = self._regions(pending, queries)
        # also after a resume: overlays of a selection saved before an
        # interruption are (re)drawn
        self.runner.call_hook('after_queries', queries=queries)
        start = time.perf_counter()
        self._label(store, queries, picked.scores)
        seconds['annotate'] = time.perf_counter() - start

    def _regions(self, pending: PendingQueries, queries: QueryRound) -> list:
        """The regions proposed for the round's clicks: those saved before
        an interruption, else proposed (by the main rank) and saved."""
        if is_main_process() and \
                pending.load_regions(len(queries.pixels)) is None:
            start = time.perf_counter()
            pending.save_regions(self.expansion.propose(queries))
            self.runner.logger.info(
                f'Round {queries.round_idx}: regions proposed for '
                f'{len(queries.pixels)} clicks by '
                f'{type(self.expansion).__name__} in '
                f'{time.perf_counter() - start:.1f} s')
        barrier()
        return pending.load_regions(len(queries.pixels))

    def _saved_selection(self, store: LabelStore, pending: PendingQueries
                         ) -> Optional[RoundSelection]:
        """The round's selection saved before an interruption (its query
        file written again if it was lost), or None."""
        picked = pending.load(store, self.budget)
        if picked is not None and not os.path.exists(pending.query_file):
            if is_main_process():  # lost (or killed before it was written)
                self._write_queries(store, pending, picked)
                self.runner.logger.warning(
                    f'{pending.query_file} was missing: written again from '
                    f'the saved selection {pending.selection_file}')
            barrier()
        return picked

    def _select(self, store: LabelStore, round_idx: int
                ) -> Tuple[RoundSelection, Optional[torch.Tensor]]:
        """The round's ``b`` pixels, the main rank's choice on every rank,
        and the prediction the selector computed at them (or None)."""
        selector = self.cold_start if round_idx == 0 else self.selector
        context = self._context(store, round_idx)
        self.model.eval()
        selection: Selection = selector.select(context, self.budget)
        if len(selection) < self.budget:
            raise ValueError(
                f'Round {round_idx}: the selector found only '
                f'{len(selection)} candidate pixels for a budget of '
                f'{self.budget} per round (nothing was labelled). Lower '
                'train_cfg.budget, or give Stage 1 a larger pool: more '
                'candidates_per_image or local_budget (pool = images x '
                'local_budget), or a higher keep_ratio; then resume '
                'with --allow-config-change.')
        picked = [RoundSelection(
            [self.pool.image_ids[i] for i in selection.image_index.tolist()],
            selection.pixels.cpu().numpy().astype(np.int64),
            selection.scores.detach().cpu().double().numpy()),
            None if selection.log_probs is None else
            selection.log_probs.detach().cpu()]
        # ranks select alike, but only up to non-deterministic kernels:
        # label exactly the main rank's choice everywhere
        broadcast_object_list(picked, src=0)
        return picked[0], picked[1]

    def _guesses(self, store: LabelStore, round_idx: int,
                 picked: RoundSelection,
                 predicted: Optional[torch.Tensor]) -> Optional[list]:
        """The model's top guesses at the picked pixels, for an oracle that
        shows them to a person: the selector's own prediction when it made
        one, else the clean prediction (every rank extracts)."""
        if round_idx == 0 or not getattr(self.oracle, 'wants_guesses', False):
            return None
        if predicted is not None:
            return guesses_of(predicted)
        return top_guesses(self._context(store, round_idx, 'guesses'),
                           picked.image_ids, picked.pixels)

    def _write_queries(self, store: LabelStore, pending: PendingQueries,
                       picked: RoundSelection,
                       guesses: Optional[list] = None) -> None:
        """Record the selection (and the model's ``guesses``) before
        anyone labels it."""
        pending.save(*picked)
        write_queries(pending.query_file,
                      list(zip(picked.image_ids, picked.pixels.tolist())),
                      store.image_shapes,
                      dict(zip(self.pool.image_ids, self.pool.image_paths)),
                      pending.round_idx, scores=picked.scores.tolist(),
                      guesses=guesses)

    def _label(self, store: LabelStore, queries: QueryRound,
               scores: np.ndarray) -> None:
        """Ask the oracle and save the round's labels."""
        classes = self.oracle.annotate(queries)
        store.add_many((queries.image_ids, queries.pixels, classes),
                       queries.round_idx, scores=scores)
        if queries.regions is not None:
            self._expand(store, queries, classes)
        if is_main_process():
            store.save(self.run_dir.state_dir, queries.round_idx)
        barrier()
        self.runner.logger.info(
            f'Round {queries.round_idx}: {len(queries.pixels)} pixels '
            f'labelled in {len(set(queries.image_ids))} images '
            f'({store.num_clicks} clicks in total)'
            + ('' if self.expansion is None else
               f', {store.num_expanded} expanded pixels in total'))

    def _expand(self, store: LabelStore, queries: QueryRound,
                classes: np.ndarray) -> None:
        """Store the pixels of the accepted regions as expanded pixels of
        their clicks (the rule of :func:`expand_clicks`)."""
        accepted = self.oracle.accepted_regions(queries)
        expansion = expand_clicks(queries.image_ids, queries.pixels,
                                  classes, queries.regions, accepted,
                                  store.pixels, store.ignore_index)
        store.add_expanded(expansion.image_ids, expansion.pixels,
                           expansion.sources, queries.round_idx)
        self.runner.logger.info(
            f'Round {queries.round_idx}: {int(accepted.sum())} of '
            f'{len(accepted)} regions accepted, {len(expansion.pixels)} '
            f'pixels expanded ({expansion.conflicting} claimed by regions '
            'of different classes were left unlabelled)')
