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

from .atomic_io import atomic_write_json

FORMAT_VERSION = 2
#: Settings a resumed run may change freely: the number of rounds (more
#: rounds after the recorded ones) and the memory for kept features (which
#: changes what is recomputed, never a result).
FREE_KEYS = ('train_cfg.rounds', 'train_cfg.feature_memory')
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
    """A run's settings file (``RunDir.run_file``).

    Args:
        path: the file.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def read(self) -> Dict[str, Any]:
        """The recorded settings (a file of format 1 holds the seed only).

        Raises:
            RunSettingsError: if the file is empty, not JSON or not a run
                file, saying how to go on without losing the labels.
        """
        how = ('The saved labels are not affected: restore the file, '
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
        if not isinstance(pixels, int) or isinstance(pixels, bool) or \
                pixels < 1:
            raise ValueError('train_cfg.budget.pixels must be a positive '
                             f'integer, got {pixels!r}')
        return pixels
    per_image = given['per_image']
    if not isinstance(per_image, (int, float)) or isinstance(per_image, bool):
        raise ValueError('train_cfg.budget.per_image must be a number of '
                         f'pixels per pool image, got {per_image!r}; e.g. '
                         'budget=dict(per_image=0.1)')
    pixels = round(per_image * num_images)
    if pixels < 1:
        raise ValueError(
            f'train_cfg.budget.per_image={per_image} gives round('
            f'{per_image} * {num_images} images) = {pixels} pixels per '
            'round; raise it or use budget=dict(per_image=None, pixels=n)')
    return pixels
