"""Which query files were imported, and whether they changed since.

Once a round's filled-in query file is imported, its labels live in the
label state; later edits of the file have no effect. So that such an edit
is not silently ignored, the SHA-256 of each file is recorded at import
(``RunDir.imports``) and compared when the run is resumed.
"""
import hashlib
import json
import os
from typing import Any, Dict, List

from mmengine.dist import is_main_process

from .atomic_io import atomic_write_json


def file_sha256(path: str) -> str:
    with open(path, 'rb') as file:
        return hashlib.sha256(file.read()).hexdigest()


class ImportRecord:
    """``{query file name: SHA-256 at import}`` of the query files in the
    record's folder.

    Args:
        path: the record file.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def _read(self) -> Dict[str, str]:
        if not os.path.exists(self.path):
            return {}
        try:
            with open(self.path, encoding='utf-8') as file:
                data = json.load(file)
        except (OSError, ValueError):
            return {}  # a lost record only loses the edit warning
        return data if isinstance(data, dict) else {}

    def record(self, query_file: str, digest: str) -> None:
        """Note that ``query_file`` with content hash ``digest`` was
        imported."""
        if not is_main_process():
            return
        imported = self._read()
        imported[os.path.basename(query_file)] = digest
        atomic_write_json(self.path, imported)

    def edited(self) -> List[str]:
        """Imported query files whose content changed since their import."""
        folder = os.path.dirname(self.path)
        paths = {name: os.path.join(folder, name) for name in self._read()}
        return [paths[name] for name, digest in sorted(self._read().items())
                if os.path.isfile(paths[name])
                and file_sha256(paths[name]) != digest]

    def warn_edited(self, logger: Any) -> None:
        """Warn about every imported query file edited since its import."""
        for path in self.edited():
            logger.warning(
                f'{path} was edited after its labels were imported; the run '
                'keeps the labels as imported and ignores the edit. Restore '
                'the file to silence this warning.')


__all__ = ['ImportRecord', 'file_sha256']
