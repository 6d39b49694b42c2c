"""Base class of datasets stored in the converted layout.

``data_root/{img_dir,ann_dir}/SPLIT/NAME.png``: RGB images and
single-channel label PNGs of equal size, 255 = void. The base class adds
to mmseg's ``BaseSegDataset`` the checks a long active-learning run needs
up front: a clear message when nothing was converted yet, and errors that
name the file when a label is missing, has the wrong size or holds ids the
dataset does not have.
"""
from typing import Any, List, Optional

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from mmseg_al.utils import track
from .file_checks import check_label_file, check_label_values, no_images_error


@DATASETS.register_module()
class ConvertedSegDataset(BaseSegDataset):
    """A segmentation dataset in the converted PNG layout, checked on load.

    Subclasses set ``METAINFO`` and ``CONVERTER`` (the script that writes
    the layout, named in the error when the image directory is empty). Used
    directly, pass ``metainfo=dict(classes=..., palette=...)``.

    Args:
        img_suffix (str): image file suffix. Defaults to '.png'.
        seg_map_suffix (str): label file suffix. Defaults to '.png'.
        reduce_zero_label (bool): converted labels already use 255 for
            void, so False.
        **kwargs: the remaining ``BaseSegDataset`` arguments (data_root,
            data_prefix, pipeline, ...).
    """

    #: Converter script that writes this dataset, for the empty-dir error.
    CONVERTER: Optional[str] = None

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)

    @property
    def num_classes(self) -> int:
        return len(self.metainfo['classes'])

    def load_data_list(self) -> List[dict]:
        """List image/label pairs and check every label file's header."""
        img_dir = self.data_prefix.get('img_path', '')
        try:
            data_list = super().load_data_list()
        except FileNotFoundError:
            data_list = []
        if not data_list:
            raise no_images_error(self)
        if self.data_prefix.get('seg_map_path') is not None:
            for info in track(data_list, f'checking labels in {img_dir}'):
                check_label_file(info['img_path'], info['seg_map_path'],
                                 self.backend_args)
        return data_list

    def prepare_data(self, idx: int) -> Any:
        """Run the pipeline, then check the loaded label ids (if any)."""
        results = super().prepare_data(idx)
        sample = (results or {}).get('data_samples')
        if sample is not None and 'gt_sem_seg' in sample:
            path = sample.metainfo.get('seg_map_path', f'of sample {idx}')
            check_label_values(sample.gt_sem_seg.data.numpy(),
                               self.num_classes, self.ignore_index,
                               f'Label file {path}')
        return results
