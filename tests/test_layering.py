"""The package's layering (docs/architecture.md), checked on its imports.

A package may import only packages of lower layers; inside ``engine/``,
the loops (``runner/``) build on ``training/`` and ``features/``, never
the other way round, and nothing below ``engine/`` reaches into it.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'mmseg_al'
#: Lowest first; a package imports only packages of earlier layers.
LAYERS = [
    {'utils', 'registry', 'version'},
    {'datasets', 'evaluation', 'selection', 'state'},
    {'annotation', 'models'},
    {'engine'},
]
#: engine/'s parts, lowest first.
ENGINE_LAYERS = [
    {'optimizers', 'features', 'training'},
    {'hooks', 'runner'},
]


def layer_of(name, layers):
    return next(i for i, layer in enumerate(layers) if name in layer)


def imported(path: Path, root: Path):
    """Dotted modules that ``path`` (in the package ``root``) imports,
    relative imports resolved."""
    module = path.relative_to(root.parent).with_suffix('').parts
    package = module if path.name == '__init__.py' else module[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - node.level + 1]
            yield '.'.join(base + tuple((node.module or '').split('.')))
        elif isinstance(node, ast.ImportFrom):
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def violations(part_of, layers, root=PACKAGE):
    """``file imports module`` for every import of a part by a part of the
    same or a lower layer (``part_of`` maps a path under ``root``, as
    parts, to its part; None: not checked)."""
    found = []
    for path in sorted(root.rglob('*.py')):
        source = part_of(path.relative_to(root).parts)
        if source is None:
            continue
        for name in imported(path, root):
            parts = name.split('.')
            if parts[0] != 'mmseg_al' or len(parts) < 2:
                continue
            target = part_of(tuple(parts[1:]))
            if target in (None, source):
                continue
            if layer_of(target, layers) >= layer_of(source, layers):
                found.append(f'{path.relative_to(root)} imports {name}')
    return found


def test_packages_import_only_lower_layers():
    def package(parts):
        name = parts[0].removesuffix('.py')
        return None if name == '__init__' else name
    assert violations(package, LAYERS) == []


def test_engine_parts_import_only_lower_parts():
    def engine_part(parts):
        if parts[0] != 'engine' or len(parts) < 3:
            return None
        return parts[1]
    assert violations(engine_part, ENGINE_LAYERS) == []


@pytest.mark.parametrize('layers,name', [(LAYERS, 'package'),
                                         (ENGINE_LAYERS, 'engine part')])
def test_every_part_has_a_layer(layers, name):
    root = PACKAGE if layers is LAYERS else PACKAGE / 'engine'
    parts = {p.name.removesuffix('.py') for p in root.iterdir()
             if p.name not in ('__init__.py', '__pycache__', 'static')
             and (p.is_dir() or p.suffix == '.py')}
    assert parts == set().union(*layers), f'a {name} without a layer'


def test_the_check_sees_a_violation(tmp_path):
    """The scan resolves relative imports: one from state/ up to engine/
    is found."""
    fake = tmp_path / 'mmseg_al'
    (fake / 'state').mkdir(parents=True)
    (fake / 'state' / 'bad.py').write_text('from ..engine import x\n')
    assert violations(lambda parts: parts[0], LAYERS, fake) == [
        'state/bad.py imports mmseg_al.engine']
