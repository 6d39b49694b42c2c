"""Where a dataset's files come from: the converter script that writes
them, or the dataset itself.

The dataset classes of mmseg-al name their converter (``CONVERTER``); a
dataset that writes its own files on first use says so
(``GENERATES_DATA``). mmseg's ``CityscapesDataset`` reads the layout that
mmseg-al's Cityscapes converter writes, so its converter is named here.
"""
from typing import Optional

from mmseg.registry import DATASETS

#: Converters of datasets whose classes are mmseg's own.
MMSEG_DATASET_CONVERTERS = {
    'CityscapesDataset': 'tools/dataset_converters/cityscapes.py',
}


def _dataset_class(dataset_type: str) -> Optional[type]:
    return DATASETS.get(dataset_type) if dataset_type else None


def converter_of(dataset_type: str) -> Optional[str]:
    """The script that writes ``dataset_type``'s files, if any."""
    cls = _dataset_class(dataset_type)
    return getattr(cls, 'CONVERTER', None) or MMSEG_DATASET_CONVERTERS.get(
        dataset_type)


def generates_its_data(dataset_type: str) -> bool:
    """Whether ``dataset_type`` writes its own files on first use."""
    return bool(getattr(_dataset_class(dataset_type), 'GENERATES_DATA',
                        False))
