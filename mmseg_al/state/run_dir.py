"""The work directory of a run: the one place that names what is in it.

::

    WORK_DIR/
      al_run.json        settings that fix the selections and labels (RunFile)
      al_run.lock        one run or annotator at a time (WorkDirLock)
      al_state/          the labelled pixels after every round (LabelStore)
      metrics.json       the evaluated head of every round (MetricsLog)
      curve.png          the learning curve
      queries/
        round_XX.npz     a round's selection until it is labelled
        round_XX.json    its query file, which a person answers
        round_XX/        its overlay pictures
        imported.json    which query files were imported (ImportRecord)

The loop, the hooks and the tools ask a :class:`RunDir` for these paths
and for where the run stands (the latest labelled round, the pending one,
whether a round is evaluated), so the layout is defined here only.
"""
import os
from typing import Any, List, Optional

from .atomic_io import PathLike
from .imported_query_files import ImportRecord
from .label_store import LabelStore, round_name
from .metrics_log import MetricsLog
from .pending_queries import PendingQueries
from .run_file import RunFile


class RunDir:
    """Paths and progress of the run in ``work_dir``.

    Args:
        work_dir: the run's work directory (need not exist yet).
    """

    RUN_FILE = 'al_run.json'
    LOCK_FILE = 'al_run.lock'
    STATE_DIR = 'al_state'
    METRICS_FILE = 'metrics.json'
    CURVE_FILE = 'curve.png'
    QUERY_DIR = 'queries'
    IMPORTS_FILE = 'imported.json'

    def __init__(self, work_dir: PathLike) -> None:
        self.work_dir = os.fspath(work_dir)

    def _path(self, *names: str) -> str:
        return os.path.join(self.work_dir, *names)

    @property
    def lock_file(self) -> str:
        return self._path(self.LOCK_FILE)

    @property
    def state_dir(self) -> str:
        return self._path(self.STATE_DIR)

    @property
    def query_dir(self) -> str:
        return self._path(self.QUERY_DIR)

    @property
    def curve_file(self) -> str:
        return self._path(self.CURVE_FILE)

    @property
    def run_file(self) -> RunFile:
        return RunFile(self._path(self.RUN_FILE))

    @property
    def metrics(self) -> MetricsLog:
        """The metrics log (not read yet: call ``load``)."""
        return MetricsLog(self._path(self.METRICS_FILE))

    @property
    def imports(self) -> ImportRecord:
        return ImportRecord(self._path(self.QUERY_DIR, self.IMPORTS_FILE))

    def queries(self, round_idx: int) -> PendingQueries:
        """Round ``round_idx``'s selection, query file and overlays."""
        stem = self._path(self.QUERY_DIR, round_name(round_idx))
        return PendingQueries(stem + '.npz', stem + '.json', stem, round_idx)

    def records(self) -> List[str]:
        """What only the run may write: its state and query folders and
        its record files."""
        return [self.state_dir, self.query_dir,
                self._path(self.RUN_FILE), self._path(self.METRICS_FILE),
                self.lock_file]

    # ---------------------------------------------------------- progress --
    def latest_labelled_round(self) -> Optional[int]:
        """The last round whose labels are saved (None: none yet)."""
        return LabelStore.latest_round(self.state_dir)

    def pending_round(self) -> Optional[int]:
        """The round selected but not yet labelled (None: none)."""
        latest = self.latest_labelled_round()
        round_idx = 0 if latest is None else latest + 1
        pending = self.queries(round_idx)
        return round_idx if os.path.exists(pending.selection_file) else None

    def evaluated(self, last_round: Optional[int] = None) -> MetricsLog:
        """The rounds already evaluated: ``metrics.json``'s entries up to
        ``last_round`` (those past the saved labels are recomputed)."""
        return self.metrics.load(last_round=last_round)

    def has_run(self) -> bool:
        """Whether a run was started here."""
        return self.run_file.exists() or \
            self.latest_labelled_round() is not None

    def check_resume(self, resume: Any) -> None:
        """Refuse to start over a run, and to "resume" where there is none.

        Args:
            resume: False (start a run), True (continue one: it must
                exist) or ``'auto'`` (continue one if there is one).

        Raises:
            FileExistsError: starting a run in the work dir of another.
            FileNotFoundError: ``--resume`` with no run in the work dir.
        """
        latest = self.latest_labelled_round()
        if not resume and self.has_run():
            labels = ('no labels saved yet' if latest is None else
                      f'labels up to round {latest}')
            raise FileExistsError(
                f'{self.work_dir} already holds an active-learning run '
                f'({labels}). Continue it with --resume, or choose another '
                '--work-dir.')
        if resume is True and not self.has_run():
            raise FileNotFoundError(
                f'--resume: there is no run to continue in {self.work_dir} '
                f'(no {self.RUN_FILE}, no {self.STATE_DIR}/). Check the '
                '--work-dir path, or use --resume=auto to start a fresh run '
                'when there is none.')


__all__ = ['RunDir']
