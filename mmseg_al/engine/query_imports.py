"""Which query files were imported, and whether they changed since.

Once a round's filled-in query file is imported, its labels live in
``al_state/``; later edits of the file have no effect. So that such an edit
is not silently ignored, the SHA-256 of each file is recorded at import in
``queries/imported.json`` and compared when the run is resumed.
"""
import hashlib
import json
import os
from typing import Any, Dict, List

from mmengine.dist import is_main_process

from mmseg_al.state import atomic_write_json

IMPORTS_FILE = 'imported.json'


def file_sha256(path: str) -> str:
    with open(path, 'rb') as file:
        return hashlib.sha256(file.read()).hexdigest()


def _read(record: str) -> Dict[str, str]:
    if not os.path.exists(record):
        return {}
    try:
        with open(record, encoding='utf-8') as file:
            data = json.load(file)
    except (OSError, ValueError):
        return {}  # a lost record only loses the edit warning
    return data if isinstance(data, dict) else {}


def record_import(query_file: str, digest: str) -> None:
    """Note that ``query_file`` with content hash ``digest`` was imported."""
    if not is_main_process():
        return
    record = os.path.join(os.path.dirname(query_file), IMPORTS_FILE)
    imported = _read(record)
    imported[os.path.basename(query_file)] = digest
    atomic_write_json(record, imported)


def edited_query_files(query_dir: str) -> List[str]:
    """Imported query files whose content changed since their import."""
    imported = _read(os.path.join(query_dir, IMPORTS_FILE))
    paths = {name: os.path.join(query_dir, name) for name in imported}
    return [paths[name] for name, digest in sorted(imported.items())
            if os.path.isfile(paths[name])
            and file_sha256(paths[name]) != digest]


def warn_edited_query_files(query_dir: str, logger: Any) -> None:
    """Warn about every imported query file edited since its import."""
    for path in edited_query_files(query_dir):
        logger.warning(
            f'{path} was edited after its labels were imported; the run '
            'keeps the labels as imported (al_state/) and ignores the edit. '
            'Restore the file to silence this warning.')
