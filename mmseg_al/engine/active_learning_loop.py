"""The active-learning run as an mmengine training loop.

Round 0: the cold-start selector picks the first ``b`` pixels, the oracle
reveals them and the labels are saved. Round ``r``: a freshly initialised
head is trained on the labels of rounds ``0..r`` (cached clean features),
evaluated with the runner's val loop, and, unless ``r`` is the last round,
used to select the ``b`` pixels of round ``r + 1``. ``R`` rounds therefore
report ``R`` heads on ``b, 2b, ..., Rb`` labelled pixels.

Everything random is keyed by ``(seed, round, ...)`` and all state that
matters is on disk after every step (``al_state/round_XX.npz``, the pending
queries of a round, ``metrics.json``), so a resumed run repeats exactly the
choices of an uninterrupted one.
"""
import copy
import json
import os
import time
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmengine.dist import barrier, broadcast_object_list, is_main_process
from mmengine.model import is_model_wrapper
from mmengine.runner.base_loop import BaseLoop
from mmseg.registry import LOOPS, TASK_UTILS

from mmseg_al.selection import Selection, build_selector
from mmseg_al.state import LabelStore, atomic_write_json, write_queries
from .class_iou import capture_class_iou
from .feature_cache import FeatureCache
from .head_training import HeadTrainingConfig, train_head
from .learning_curve import plot_learning_curve
from .metrics_log import MetricsLog
from .oracles import QueryRound
from .pending_queries import PendingQueries
from .pool_context import PoolSelectionContext
from .query_overlays import overlay_file_name, write_query_overlays

RUN_FILE = 'al_run.json'
QUERY_DIR = 'queries'
CURVE_FILE = 'curve.png'
POINT_API = ('point_features', 'point_logits', 'reset_head', 'feature_dim',
             'num_classes')
POOL_API = ('image_ids', 'image_paths', 'image_shapes', 'index_of',
            'pool_item', 'ground_truth', 'set_label_store')


def resolve_budget(budget: dict, num_images: int) -> int:
    """Pixels per round from ``dict(per_image=f)`` or ``dict(pixels=n)``.

    ``per_image`` gives ``round(f * num_images)`` (Python rounding). Exactly
    one of the two may be set; since configs merge dicts, a config that
    inherits ``per_image`` switches with ``dict(per_image=None, pixels=n)``.
    """
    given = {k: v for k, v in dict(budget).items() if v is not None}
    if set(given) not in ({'per_image'}, {'pixels'}) or len(budget) > 2:
        raise ValueError(
            'train_cfg.budget must set exactly one of per_image / pixels '
            f'(the other None or absent), got {dict(budget)!r}; e.g. '
            'budget=dict(per_image=None, pixels=100)')
    if 'pixels' in given:
        pixels = given['pixels']
        if not isinstance(pixels, int) or pixels < 1:
            raise ValueError('train_cfg.budget.pixels must be a positive '
                             f'integer, got {pixels!r}')
        return pixels
    per_image = given['per_image']
    pixels = round(per_image * num_images)
    if pixels < 1:
        raise ValueError(
            f'train_cfg.budget.per_image={per_image} gives round('
            f'{per_image} * {num_images} images) = {pixels} pixels per '
            'round; raise it or use budget=dict(per_image=None, pixels=n)')
    return pixels


@LOOPS.register_module()
class ActiveLearningLoop(BaseLoop):
    """Select, reveal, retrain, evaluate: ``rounds`` times.

    Args:
        runner: the mmengine runner (its model must have the point API of
            ``SparsePixelSegmentor``; its ``optim_wrapper`` and
            ``param_scheduler`` configs are rebuilt for every round's head).
        dataloader: the pool; its dataset must be a ``PixelSparseDataset``.
        rounds: number of labelled rounds ``R``.
        budget: ``dict(per_image=f)`` or ``dict(pixels=n)``.
        cold_start: selector config for round 0 (no model yet).
        selector: selector config for rounds ``1..R-1``.
        oracle: ``dict(type='GroundTruthOracle')`` or
            ``dict(type='FileOracle')``.
        oracle_void: drop ground-truth void pixels from the candidates
            (uses knowledge a real annotator does not give; off by default).
        head_training: :class:`HeadTrainingConfig` fields.
        feature_batch_size: images per backbone call.
        seed: None takes the runner's seed.
        overlays: images per round drawn with their queries in
            ``queries/round_XX/``.
    """

    def __init__(self, runner, dataloader, rounds: int = 10,
                 budget: dict = dict(per_image=0.1),
                 cold_start: dict = dict(type='HerdingSelector'),
                 selector: dict = dict(type='TwoStageSelector'),
                 oracle: dict = dict(type='GroundTruthOracle'),
                 oracle_void: bool = False,
                 head_training: Optional[dict] = None,
                 feature_batch_size: int = 8, seed: Optional[int] = None,
                 overlays: int = 4) -> None:
        super().__init__(runner, dataloader)
        self.pool = self.dataloader.dataset
        missing = [name for name in POOL_API if not hasattr(self.pool, name)]
        if missing:
            raise TypeError(
                'ActiveLearningLoop needs train_dataloader.dataset to be a '
                f'PixelSparseDataset; {type(self.pool).__name__} lacks '
                f'{missing}. Wrap it: dataset=dict(type="PixelSparseDataset",'
                ' dataset=dict(type=...))')
        if rounds < 1:
            raise ValueError(f'train_cfg.rounds must be >= 1, got {rounds}')
        self.rounds = rounds
        self.budget = resolve_budget(budget, len(self.pool.image_ids))
        self.cold_start = build_selector(cold_start)
        self.selector = build_selector(selector)
        self.oracle = TASK_UTILS.build(oracle)
        self.oracle_void = oracle_void
        self.head_training = HeadTrainingConfig(**(head_training or {}))
        self.feature_batch_size = feature_batch_size
        self.seed = runner.seed if seed is None else seed
        backbone = getattr(self.model, 'backbone', None)
        if hasattr(backbone, 'noise_seed') and backbone.noise_seed is None:
            backbone.noise_seed = self.seed  # noise follows the run's seed
        self.overlays = overlays
        cfg = runner.cfg
        if cfg.get('optim_wrapper') is None:
            raise ValueError('ActiveLearningLoop rebuilds the head optimizer '
                             'every round from the config key optim_wrapper,'
                             ' which is missing')
        self._optim_wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
        self._param_scheduler_cfg = copy.deepcopy(
            cfg.get('param_scheduler'))
        self._resume = bool(cfg.get('resume', False))
        self._epoch = 0
        self._iter = 0

    @property
    def max_epochs(self) -> int:
        return self.rounds

    @property
    def max_iters(self) -> int:
        return self.rounds

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def iter(self) -> int:
        return self._iter

    @property
    def model(self):
        model = self.runner.model
        return model.module if is_model_wrapper(model) else model

    @property
    def work_dir(self) -> str:
        return self.runner.work_dir

    def run(self):
        """Run (or continue) the rounds; returns the model."""
        model, runner = self.model, self.runner
        missing = [name for name in POINT_API if not hasattr(model, name)]
        if missing:
            raise TypeError(f'ActiveLearningLoop needs a model with the point'
                            f' API {POINT_API}; {type(model).__name__} lacks '
                            f'{missing}')
        if runner.val_loop is None:
            raise ValueError('ActiveLearningLoop evaluates every round: the '
                             'config needs val_dataloader, val_cfg and '
                             'val_evaluator')
        store, last_saved = self._restore_state(model.num_classes)
        self.pool.set_label_store(store)
        metrics = MetricsLog(self.work_dir).load(last_round=last_saved)
        cache = FeatureCache()
        trained_round: Optional[int] = None
        runner.call_hook('before_train')
        for round_idx in range(self.rounds):
            self._epoch = self._iter = round_idx
            seconds: Dict[str, float] = {}
            if round_idx > last_saved:
                needs_head = round_idx > 0 and trained_round != round_idx - 1
                self._acquire(store, cache, round_idx, seconds, needs_head)
                last_saved = round_idx
            if metrics.entry(round_idx) is None:
                runner.call_hook('before_train_epoch')
                self._train(store, cache, round_idx, seconds)
                trained_round = round_idx
                self._evaluate(store, metrics, round_idx, seconds)
                runner.call_hook('after_train_epoch')
        self._epoch = self._iter = self.rounds
        runner.call_hook('after_train')
        runner.logger.info('Active learning finished:\n' + metrics.table())
        return model

    def _restore_state(self, num_classes: int) -> Tuple[LabelStore, int]:
        """The labels so far and the last round they cover (-1: none)."""
        ids, shapes = self.pool.image_ids, self.pool.image_shapes
        latest = LabelStore.latest_round(self.work_dir)
        run_file = os.path.join(self.work_dir, RUN_FILE)
        started = os.path.exists(run_file)
        if not self._resume and (latest is not None or started):
            labels = ('no labels saved yet' if latest is None else
                      f'labels up to round {latest}')
            raise FileExistsError(
                f'{self.work_dir} already holds an active-learning run '
                f'({labels}). Continue it with --resume, or choose another '
                '--work-dir.')
        barrier()  # every rank has looked before the main rank writes
        if started:
            self._check_run_file(run_file)
        elif is_main_process():
            atomic_write_json(run_file, dict(seed=self.seed))
        if latest is None:
            return LabelStore(ids, shapes, num_classes), -1
        store = LabelStore.load(self.work_dir, ids, shapes, num_classes)
        self.runner.logger.info(
            f'Resuming from round {latest} ({store.num_labelled} labelled '
            f'pixels) in {self.work_dir}')
        return store, latest

    def _check_run_file(self, path: str) -> None:
        with open(path, encoding='utf-8') as file:
            recorded = json.load(file)
        if recorded.get('seed') != self.seed:
            raise ValueError(
                f'{path}: this run used seed {recorded.get("seed")}, the '
                f'config now gives {self.seed}; resume with --seed '
                f'{recorded.get("seed")} so that the same pixels are chosen')

    def _context(self, store: LabelStore, cache: FeatureCache,
                 round_idx: int) -> PoolSelectionContext:
        return PoolSelectionContext(
            self.pool, self.model, store, cache, round_idx, self.seed,
            has_model=round_idx > 0,
            feature_batch_size=self.feature_batch_size,
            oracle_void=self.oracle_void)

    def _train(self, store: LabelStore, cache: FeatureCache, round_idx: int,
               seconds: Optional[Dict[str, float]] = None) -> None:
        """Fit a fresh head on the labels of rounds ``0..round_idx``."""
        start = time.perf_counter()
        context = self._context(store, cache, round_idx)
        features, labels = context.labelled_set()
        optim_wrapper, schedulers, result = train_head(
            self.model, features, labels, self._optim_wrapper_cfg,
            self._param_scheduler_cfg, self.head_training, self.seed,
            round_idx, ignore_index=context.ignore_index)
        # hooks such as CheckpointHook save the current optimizer state
        self.runner.optim_wrapper = optim_wrapper
        self.runner.param_schedulers = schedulers
        self.runner.logger.info(
            f'Round {round_idx}: head trained on {len(labels)} pixels, '
            f'{result.epochs} epochs / {result.iterations} iterations, '
            f'loss {result.loss:.4f}, labelled accuracy '
            f'{result.accuracy:.3f}')
        self.runner.visualizer.add_scalars(
            {'al/head_loss': result.loss, 'al/head_accuracy': result.accuracy},
            step=round_idx)
        if seconds is not None:
            seconds['train'] = time.perf_counter() - start

    def _evaluate(self, store: LabelStore, metrics: MetricsLog,
                  round_idx: int, seconds: Dict[str, float]) -> None:
        start = time.perf_counter()
        with capture_class_iou(self.runner.val_loop.evaluator) as per_class:
            results = self.runner.val_loop.run()
        seconds['evaluate'] = time.perf_counter() - start
        if 'mIoU' not in results:
            raise KeyError('ActiveLearningLoop reports mIoU: val_evaluator '
                           "must be dict(type='IoUMetric', iou_metrics="
                           f"['mIoU']); it returned {sorted(results)}")
        miou = float(results['mIoU'])
        self.runner.visualizer.add_scalars(
            {'al/mIoU': miou, 'al/labelled_pixels': store.num_labelled},
            step=round_idx)
        self.runner.logger.info(
            f'Round {round_idx}: mIoU {miou:.2f} with {store.num_labelled} '
            'labelled pixels')
        metrics.record(round_idx, store.num_labelled, miou, per_class,
                       seconds)
        if is_main_process():
            metrics.save()
            plot_learning_curve(
                metrics.entries, os.path.join(self.work_dir, CURVE_FILE),
                title=os.path.basename(os.path.normpath(self.work_dir)))

    def _acquire(self, store: LabelStore, cache: FeatureCache,
                 round_idx: int, seconds: Dict[str, float],
                 needs_head: bool) -> None:
        """Select the round's pixels (or reuse a pending selection), have
        the oracle label them, and save the labels.

        ``needs_head``: the previous round's head is not in memory (resumed
        run); it is retrained, identically, if a selection has to be made.
        """
        pending = PendingQueries(
            os.path.join(self.work_dir, QUERY_DIR), round_idx)
        image_ids, pixels, scores = pending.load() or (None, None, None)
        if image_ids is None:
            if needs_head:
                self._train(store, cache, round_idx - 1)
            start = time.perf_counter()
            image_ids, pixels, scores = self._select(store, cache, round_idx)
            seconds['select'] = time.perf_counter() - start
            # ranks select alike, but only up to non-deterministic kernels:
            # label exactly the main rank's choice everywhere
            picked = [image_ids, pixels, scores]
            broadcast_object_list(picked, src=0)
            image_ids, pixels, scores = picked
            if is_main_process():
                self._write_queries(store, pending, image_ids, pixels, scores)
            barrier()
        start = time.perf_counter()
        classes = self.oracle.annotate(QueryRound(
            round_idx=round_idx, image_ids=image_ids, pixels=pixels,
            query_file=pending.query_file, dataset=self.pool,
            num_classes=store.num_classes, ignore_index=store.ignore_index))
        store.add_many((image_ids, pixels, classes), round_idx, scores=scores)
        seconds['annotate'] = time.perf_counter() - start
        if is_main_process():
            store.save(self.work_dir, round_idx)
        barrier()
        self.runner.logger.info(
            f'Round {round_idx}: {len(pixels)} pixels labelled in '
            f'{len(set(image_ids))} images ({store.num_labelled} in total)')

    def _select(self, store: LabelStore, cache: FeatureCache, round_idx: int
                ) -> Tuple[List[str], np.ndarray, np.ndarray]:
        selector = self.cold_start if round_idx == 0 else self.selector
        context = self._context(store, cache, round_idx)
        self.model.eval()
        selection: Selection = selector.select(context, self.budget)
        image_ids = [
            self.pool.image_ids[i] for i in selection.image_index.tolist()
        ]
        pixels = selection.pixels.cpu().numpy().astype(np.int64)
        scores = selection.scores.detach().cpu().double().numpy()
        return image_ids, pixels, scores

    def _write_queries(self, store: LabelStore, pending: PendingQueries,
                       image_ids: List[str], pixels: np.ndarray,
                       scores: np.ndarray) -> None:
        """Record the selection before anyone labels it."""
        pending.save(image_ids, pixels, scores)
        write_queries(pending.query_file,
                      list(zip(image_ids, pixels.tolist())),
                      store.image_shapes,
                      dict(zip(self.pool.image_ids, self.pool.image_paths)),
                      pending.round_idx, scores=scores.tolist())
        if self.overlays > 0:
            overlays = write_query_overlays(
                self.pool, image_ids, pixels, pending.overlay_dir,
                max_images=self.overlays)
            for image_id, overlay in overlays.items():
                self.runner.visualizer.add_image(
                    'queries_' + overlay_file_name(image_id)[:-len('.png')],
                    overlay[..., ::-1], step=pending.round_idx)
            self.runner.logger.info(
                f'Query overlays in {pending.overlay_dir}')
