"""The active-learning pool over any mmseg segmentation dataset.

Selection needs the pool's images by index, stable image ids, image sizes
and, for the simulated oracle only, the stored ground truth. The labels the
head trains on never come from here: they are the label store's revealed
pixels (``mmseg_al.state``), so nothing the annotator has not been asked
can leak into training.
"""
import copy
from collections import Counter
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset

from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import DATASETS

from mmseg_al.utils import track
from .file_checks import (check_label_values, has_images, no_images_error,
                          read_image_header)
from .image_ids import image_id


@DATASETS.register_module()
class PixelSparseDataset:
    """Pool of an active-learning run over a segmentation dataset.

    The pipeline of the wrapped dataset must keep each image's geometry
    (no resizing, cropping or flipping), because revealed pixels are flat
    indices ``y * W + x`` into the image file's ``H x W`` grid.

    Args:
        dataset (BaseDataset | dict): the wrapped dataset or its config,
            e.g. ``dict(type='CamVidDataset', data_root=..., ...)``.
        lazy_init (bool): defer loading the wrapped dataset's file list to
            :meth:`full_init`. Defaults to False.
    """

    def __init__(self, dataset: Union[BaseDataset, dict],
                 lazy_init: bool = False) -> None:
        # Built lazily so that full_init can first check for images: an
        # empty directory otherwise fails deep inside mmengine.
        self.dataset = (DATASETS.build(dict(dataset, lazy_init=True))
                        if isinstance(dataset, dict) else dataset)
        self._image_paths: List[str] = []
        self._image_ids: List[str] = []
        self._index: Dict[str, int] = {}
        self._image_shapes: Optional[List[Tuple[int, int]]] = None
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    @property
    def num_classes(self) -> int:
        return len(self.dataset.metainfo['classes'])

    @property
    def ignore_index(self) -> int:
        return getattr(self.dataset, 'ignore_index', 255)

    def full_init(self) -> None:
        """Load the wrapped dataset's file list and derive the image ids."""
        if self._fully_initialized:
            return
        if not has_images(self.dataset):
            raise no_images_error(self.dataset)
        self.dataset.full_init()
        prefix = self.image_dir
        paths = [
            self.dataset.get_data_info(i)['img_path']
            for i in range(len(self.dataset))
        ]
        ids = [image_id(path, prefix) for path in paths]
        repeated = [i for i, n in Counter(ids).items() if n > 1]
        if repeated:
            raise ValueError(f'Image ids must be unique; {repeated[:5]} '
                             f'occur more than once under {prefix}.')
        self._image_paths, self._image_ids = paths, ids
        self._index = {image_id: i for i, image_id in enumerate(ids)}
        self._fully_initialized = True

    @property
    def image_dir(self) -> str:
        """The directory the image ids are relative to."""
        return self.dataset.data_prefix.get('img_path', '')

    @property
    def image_ids(self) -> List[str]:
        """Stable id of every pool image: its path relative to the image
        directory (e.g. ``'0001TP_006690.png'``), in dataset order."""
        self.full_init()
        return list(self._image_ids)

    @property
    def image_paths(self) -> List[str]:
        """Image file of every pool image, in dataset order (for showing
        queries to annotators)."""
        self.full_init()
        return list(self._image_paths)

    @property
    def image_shapes(self) -> List[Tuple[int, int]]:
        """``(H, W)`` of every pool image, from its checked file."""
        return list(self._shapes())

    def index_of(self, image_id: str) -> int:
        """Pool index of ``image_id``."""
        self.full_init()
        try:
            return self._index[image_id]
        except KeyError:
            raise KeyError(
                f'Image id {image_id!r} is not in the pool of '
                f'{len(self._image_ids)} images under '
                f'{self.image_dir}.') from None

    def __len__(self) -> int:
        self.full_init()
        return len(self._image_ids)

    def __getitem__(self, index: int) -> dict:
        """Pool image ``index`` (see :meth:`pool_item`)."""
        return self.pool_item(index)

    def pool_item(self, index: int) -> dict:
        """The wrapped dataset's processed sample ``index``, unmasked.

        ``image_id`` is added to the data sample's metainfo. Used for
        feature extraction over the whole pool.
        """
        results = self.dataset.prepare_data(index)
        if results is None:
            raise RuntimeError(
                f'The pipeline returned None for pool image '
                f'{self.image_ids[index]!r}; PixelSparseDataset cannot skip '
                'images, since their indices identify them.')
        sample = results['data_samples']
        self._check_geometry(index, sample.metainfo)
        sample.set_metainfo(dict(image_id=self._image_ids[index]))
        return results

    def ground_truth(self, index: int) -> np.ndarray:
        """``[H, W]`` uint8 label map of pool image ``index`` from disk.

        Applies the wrapped dataset's ``label_map``/``reduce_zero_label``
        as its ``LoadAnnotations`` would (neither is used by the converted
        datasets). Only the simulated oracle should call this.
        """
        info = self.dataset.get_data_info(index)
        loader = LoadAnnotations(
            backend_args=getattr(self.dataset, 'backend_args', None))
        label = loader(dict(info, seg_fields=[]))['gt_seg_map']
        if label.shape != self._shapes()[index]:
            raise ValueError(
                f"Label file {info['seg_map_path']} is {label.shape} but its "
                f"image {info['img_path']} is {self._shapes()[index]}; "
                'they must be single-channel and the same size.')
        check_label_values(label, self.num_classes, self.ignore_index,
                           f"Label file {info['seg_map_path']}")
        return label

    def _shapes(self) -> List[Tuple[int, int]]:
        self.full_init()
        if self._image_shapes is None:
            backend_args = getattr(self.dataset, 'backend_args', None)
            self._image_shapes = [
                read_image_header(path, backend_args)[0]
                for path in track(self._image_paths, 'checking images')
            ]
        return self._image_shapes

    def _check_geometry(self, index: int, meta: Dict[str, Any]) -> None:
        expected = self._shapes()[index]
        shape = meta.get('img_shape')
        found = expected if shape is None else tuple(shape[:2])
        flipped = meta.get('flip', False)
        if found != expected or flipped:
            raise ValueError(
                f'Pool image {self._image_ids[index]!r} is {expected} on disk '
                f'but {found} (flip={flipped}) after the pipeline. '
                'PixelSparseDataset needs a pipeline that keeps the geometry '
                '(LoadImageFromFile, LoadAnnotations, PackSegInputs; no '
                'Resize/Crop/Flip), because pixels are indices into the '
                'image file.')
