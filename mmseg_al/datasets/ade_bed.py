"""ADE-Bed: ADE20K bedroom scenes with LEDM's 30 classes."""
from mmseg.registry import DATASETS

from .converted import ConvertedSegDataset
from .metainfo import ADE_BED_CLASSES, ADE_BED_PALETTE


@DATASETS.register_module()
class ADEBedDataset(ConvertedSegDataset):
    """ADE-Bed: 30 classes (ade_bedroom_30), all other ADE classes 255.

    Layout: ``data_root/{img_dir,ann_dir}/{train,test}/NAME.png``, written by
    ``tools/dataset_converters/ade_bed.py``. Arguments are those of
    :class:`ConvertedSegDataset`.
    """
    METAINFO = dict(classes=ADE_BED_CLASSES, palette=ADE_BED_PALETTE)
    CONVERTER = 'tools/dataset_converters/ade_bed.py'
