"""``al_run.json``: the settings a run was started with, checked on resume.

A resumed run must choose and label pixels as the interrupted one would
have, so everything that determines selections and labels (the seed, the
pool dataset, the model, the loop's ``train_cfg`` and the head's optimizer
and schedule) is recorded when a run starts, flattened to dotted keys. On
``--resume`` any difference is refused with the changed keys listed, unless
the change is deliberate (``allow_change``). Raising ``rounds`` is always
allowed: it only adds rounds after the recorded ones.
"""
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from mmengine.dist import is_main_process

from mmseg_al.state import atomic_write_json

RUN_FILE = 'al_run.json'
FORMAT_VERSION = 2
#: Settings a resumed run may change freely: the number of rounds (more
#: rounds after the recorded ones).
FREE_KEYS = ('train_cfg.rounds', )
#: Changed keys listed in one message; the rest are counted.
MAX_LISTED = 20


class RunSettingsError(ValueError):
    """A resumed run's config differs from the one it was started with, or
    its run file is unreadable."""


def _flatten(value: Any, prefix: str, out: Dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f'{prefix}.{key}' if prefix else str(key), out)
    else:
        out[prefix] = value


def run_settings(cfg: Mapping, seed: int) -> Dict[str, Any]:
    """What determines a run's selections and labels, as ``{dotted key:
    JSON value}`` (tuples become lists, non-JSON values their ``repr``).

    Args:
        cfg: the runner's config.
        seed: the loop's seed.
    """
    parts = dict(
        seed=seed,
        dataset=cfg['train_dataloader']['dataset'],
        model=cfg['model'],
        train_cfg=cfg['train_cfg'],
        optim_wrapper=cfg.get('optim_wrapper'),
        param_scheduler=cfg.get('param_scheduler'))
    plain = json.loads(json.dumps(parts, default=repr, sort_keys=True))
    flat: Dict[str, Any] = {}
    _flatten(plain, '', flat)
    return {k: v for k, v in flat.items() if k not in FREE_KEYS}


def changed_settings(recorded: Mapping[str, Any],
                     current: Mapping[str, Any]
                     ) -> List[Tuple[str, Any, Any]]:
    """``(key, recorded value, current value)`` of every key that differs
    (a value absent on one side is ``'<unset>'``)."""
    unset = '<unset>'
    return [(key, recorded.get(key, unset), current.get(key, unset))
            for key in sorted(set(recorded) | set(current))
            if recorded.get(key, unset) != current.get(key, unset)]


class RunFile:
    """The run file of a work dir.

    Args:
        work_dir: the run's work directory.
    """

    def __init__(self, work_dir: str) -> None:
        self.path = os.path.join(work_dir, RUN_FILE)

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def read(self) -> Dict[str, Any]:
        """The recorded settings (a file of format 1 holds the seed only).

        Raises:
            RunSettingsError: if the file is empty, not JSON or not a run
                file, saying how to go on without losing the labels.
        """
        how = ('The labels in al_state/ are not affected: restore the file, '
               'or delete it and resume with the config the run was started '
               'with, which is then recorded again.')
        try:
            with open(self.path, encoding='utf-8') as file:
                data = json.load(file)
        except (OSError, ValueError) as exc:
            raise RunSettingsError(
                f'{self.path} is unreadable or not JSON ({exc}); it records '
                f'the settings the run was started with. {how}') from None
        if isinstance(data, dict) and isinstance(data.get('settings'), dict):
            return data['settings']
        if isinstance(data, dict) and 'seed' in data:
            return {'seed': data['seed']}
        raise RunSettingsError(f'{self.path} is not a run file: expected an '
                               f'object with "settings". {how}')

    def write(self, settings: Mapping[str, Any]) -> None:
        if is_main_process():
            atomic_write_json(self.path, dict(format_version=FORMAT_VERSION,
                                              settings=dict(settings)))

    def check(self, settings: Mapping[str, Any], allow_change: bool,
              logger: Optional[Any] = None) -> None:
        """Compare the current settings with the recorded ones.

        Keys a format-1 file does not record are not compared; the file is
        then completed. With ``allow_change`` the differences are logged
        as a warning and the new settings recorded.

        Raises:
            RunSettingsError: listing every changed key (recorded -> now),
                unless ``allow_change``.
        """
        recorded = self.read()
        legacy = set(recorded) == {'seed'}
        current = ({k: v for k, v in settings.items() if k in recorded}
                   if legacy else settings)
        changes = changed_settings(recorded, current)
        if changes:
            lines = [f'  {key}: {old!r} -> {new!r}'
                     for key, old, new in changes[:MAX_LISTED]]
            if len(changes) > MAX_LISTED:
                lines.append(f'  ... and {len(changes) - MAX_LISTED} more')
            listing = '\n'.join(lines)
            if not allow_change:
                seed = next((old for key, old, _ in changes
                             if key == 'seed'), None)
                hint = '' if seed is None else \
                    f' (for the seed: resume with --seed {seed})'
                raise RunSettingsError(
                    f'{self.path}: this run was started with other settings '
                    'than the config now gives, so it would choose or label '
                    f'other pixels than it did so far:\n{listing}\n'
                    'Resume with the settings the run was started with'
                    f'{hint}, or pass --allow-config-change to go on with '
                    'the new settings on purpose (raising train_cfg.rounds '
                    'needs no flag).')
            if logger is not None:
                logger.warning(f'{self.path}: continuing with changed '
                               f'settings (--allow-config-change):\n'
                               f'{listing}')
        if changes or legacy:
            self.write(settings)


def check_resume(work_dir: str, resume: Any, has_run: bool,
                 latest_round: Optional[int]) -> None:
    """Refuse to start over a run, and to "resume" where there is none.

    Args:
        work_dir: the run's work directory.
        resume: False (start a run), True (continue one: it must exist) or
            ``'auto'`` (continue one if there is one, else start).
        has_run: whether the run file exists.
        latest_round: the last round with saved labels (None: none).

    Raises:
        FileExistsError: starting a run in the work dir of another.
        FileNotFoundError: ``--resume`` with no run in the work dir.
    """
    if not resume and (has_run or latest_round is not None):
        labels = ('no labels saved yet' if latest_round is None else
                  f'labels up to round {latest_round}')
        raise FileExistsError(
            f'{work_dir} already holds an active-learning run ({labels}). '
            'Continue it with --resume, or choose another --work-dir.')
    if resume is True and not has_run and latest_round is None:
        raise FileNotFoundError(
            f'--resume: there is no run to continue in {work_dir} (no '
            f'{RUN_FILE}, no al_state/). Check the --work-dir path, or use '
            '--resume=auto to start a fresh run when there is none.')
