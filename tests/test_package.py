"""The package as a user meets it: import, registration, the mmcv-ops guard."""
import ast
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from mmseg_al.utils import check_mmcv_ops, derive_seed, torch_generator


def test_missing_mmcv_ops_raises_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, 'mmcv.ops', None)  # import -> ImportError
    with pytest.raises(ImportError) as info:
        check_mmcv_ops()
    message = str(info.value)
    assert 'mmcv 2.1.0 built with its compiled ops' in message
    assert 'bash tools/install.sh' in message
    assert 'mmcv-lite' in message


def test_importing_without_ops_fails_at_package_import():
    code = ('import sys; sys.modules["mmcv.ops"] = None\n'
            'import mmseg_al')
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert 'compiled ops (mmcv.ops)' in result.stderr


def test_derive_seed_is_stable_and_key_sensitive():
    assert derive_seed(0, 'clean', 'a.png') == derive_seed(0, 'clean', 'a.png')
    seeds = {derive_seed(0, 'draw', r, 'a.png', k)
             for r in range(3) for k in range(3)}
    assert len(seeds) == 9
    # 1 and '1' are different keys: ids are never confused with counters.
    assert derive_seed(1) != derive_seed('1')
    assert 0 <= derive_seed('x') < 2**63


def test_torch_generator_reproduces_draws():
    x = torch.rand(4, generator=torch_generator(3, 'noise'))
    y = torch.rand(4, generator=torch_generator(3, 'noise'))
    z = torch.rand(4, generator=torch_generator(4, 'noise'))
    assert x.equal(y) and not x.equal(z)


def guided_diffusion_imports(path):
    """Modules of guided_diffusion that a Python file imports."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f'{node.module}.{alias.name}'
                                     for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        modules.update(name for name in names
                       if name.split('.')[0] == 'guided_diffusion')
    return modules


def test_guided_diffusion_is_used_only_through_script_util_and_unet():
    """Its other modules (dist_util needs MPI) are not part of the API."""
    root = Path(__file__).resolve().parents[1]
    allowed = ('guided_diffusion.script_util', 'guided_diffusion.unet')
    found = [(module, str(path.relative_to(root)))
             for folder in ('mmseg_al', 'tools', 'configs', 'benchmarks')
             for path in (root / folder).rglob('*.py')
             for module in guided_diffusion_imports(path)]
    assert found, 'the scan found no import at all'
    assert [(module, path) for module, path in found
            if not module.startswith(allowed)] == []


def test_guided_diffusion_deprecation_warnings_are_silenced():
    """guided_diffusion warns about its own torch.cuda.amp decorators on
    import; users see none of it."""
    result = subprocess.run([
        sys.executable, '-W', 'error::FutureWarning:guided_diffusion.nn',
        '-c', 'import mmseg_al.models'
    ], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_importing_registers_and_changes_nothing_else():
    """No matplotlib backend switch, no process-wide torch allow-list."""
    code = '\n'.join([
        'import matplotlib, torch, mmseg.models, mmseg.evaluation',
        'backend = matplotlib.get_backend()',
        'safe = list(torch.serialization.get_safe_globals())',
        'import mmseg_al',
        'from mmseg.registry import HOOKS, LOOPS, TASK_UTILS',
        'assert LOOPS.get("ActiveLearningLoop") is not None',
        'assert TASK_UTILS.get("TwoStageSelector") is not None',
        'assert HOOKS.get("LearningCurveHook") is not None',
        'assert matplotlib.get_backend() == backend, matplotlib.get_backend()',
        'assert list(torch.serialization.get_safe_globals()) == safe',
        'print(backend)',
    ])
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True, text=True,
                            env={**os.environ, 'MPLBACKEND': 'svg'})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == 'svg'


def test_install_pins_a_setuptools_that_torch_and_the_mmcv_build_accept():
    """mmcv's setup.py imports pkg_resources, which setuptools 82 removed;
    torch declares its own lower bound. One pin must meet both, or pip
    prints a dependency conflict in the install log."""
    script = Path(__file__).resolve().parents[1] / 'tools' / 'install.sh'
    pinned = SpecifierSet(re.search(r'"setuptools([^"]*)"',
                                    script.read_text()).group(1))
    torch_wants = [Requirement(r).specifier
                   for r in importlib.metadata.requires('torch')
                   if Requirement(r).name == 'setuptools']
    assert '82.0.0' not in pinned
    assert all('81.0.0' in spec for spec in [pinned, *torch_wants])
