"""Run tools/al_train.py and SIGKILL it at a named point of a round.

    python kill_at.py POINT ROUND -- <al_train.py arguments>

``POINT`` is ``state_saved`` (right after ``al_state/round_XX.npz`` and
``latest.json`` of round ``ROUND`` are written), ``evaluated`` (right
after round ``ROUND``'s entry of ``metrics.json`` is written) or
``selection_saved`` (right after the pending selection
``queries/round_XX.npz`` of round ``ROUND`` is written). The process dies
as a power cut would: no handler, no ``finally`` block and no buffered
write runs.
"""
import os
import runpy
import signal
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def kill_after(owner: type, method: str, round_of) -> None:
    """Make ``owner.method`` kill the process after it returns for the
    round ``round_of(self, *args)``."""
    original = getattr(owner, method)

    def wrapped(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if round_of(self, *args) == KILL_ROUND:
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, method, wrapped)


if __name__ == '__main__':
    point, KILL_ROUND = sys.argv[1], int(sys.argv[2])
    assert sys.argv[3] == '--'
    sys.path.insert(0, REPO)
    from mmseg_al.state import LabelStore
    from mmseg_al.state.metrics_log import MetricsLog
    from mmseg_al.state.pending_queries import PendingQueries
    if point == 'state_saved':
        kill_after(LabelStore, 'save', lambda self, state_dir, r: r)
    elif point == 'evaluated':
        kill_after(MetricsLog, 'save',
                   lambda self: self.entries[-1]['round'])
    elif point == 'selection_saved':
        kill_after(PendingQueries, 'save', lambda self, *args: self.round_idx)
    else:
        raise SystemExit(f'unknown kill point {point!r}')
    script = os.path.join(REPO, 'tools', 'al_train.py')
    sys.argv = [script] + sys.argv[4:]
    runpy.run_path(script, run_name='__main__')
