"""Pascal-Context restricted to its 33 most frequent classes."""
from mmseg.registry import DATASETS

from .converted import ConvertedSegDataset
from .metainfo import PASCAL_CONTEXT_33_CLASSES, PASCAL_CONTEXT_33_PALETTE


@DATASETS.register_module()
class PascalContext33Dataset(ConvertedSegDataset):
    """Pascal-Context-33: 33 classes, every other class stored as 255.

    Layout: ``data_root/{img_dir,ann_dir}/{train,val}/NAME.png``, written by
    ``tools/dataset_converters/pascal_context.py``. Arguments are those of
    :class:`ConvertedSegDataset`.
    """
    METAINFO = dict(
        classes=PASCAL_CONTEXT_33_CLASSES, palette=PASCAL_CONTEXT_33_PALETTE)
    CONVERTER = 'tools/dataset_converters/pascal_context.py'
