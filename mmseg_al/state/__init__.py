"""Labelled-pixel state, its crash-safe storage and annotation files."""
from .annotations import (AnnotationFileError, Annotations,
                          UnansweredRowsError, check_class, read_annotations,
                          write_annotations, write_queries)
from .atomic_io import (atomic_open, atomic_write_bytes, atomic_write_json,
                        atomic_write_text)
from .label_store import (LabelStore, StateFileError, dataset_fingerprint,
                          round_file_name)
from .run_dir import RunDir

__all__ = [
    'AnnotationFileError', 'Annotations', 'LabelStore', 'RunDir',
    'StateFileError',
    'UnansweredRowsError',
    'atomic_open', 'atomic_write_bytes', 'atomic_write_json',
    'atomic_write_text', 'check_class', 'dataset_fingerprint',
    'read_annotations', 'round_file_name', 'write_annotations', 'write_queries'
]
