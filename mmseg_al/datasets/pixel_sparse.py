"""The active-learning pool: a dataset whose labels are the revealed pixels.

Wraps any mmseg segmentation dataset. As a training set it yields only the
images with at least one revealed pixel, and their label maps carry the
label store's classes at exactly those pixels (255 elsewhere), so nothing
the annotator has not been asked leaks into training. For selection it
also exposes the whole pool unmasked (:meth:`pool_item`), stable image ids,
image sizes, and, for the simulated oracle, the stored ground truth.
"""
import copy
import os.path as osp
from collections import Counter
from typing import Any, Dict, List, Optional, Protocol, Tuple, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset
from mmengine.structures import PixelData

from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import DATASETS

from mmseg_al.utils import track
from .file_checks import (check_label_values, has_images, no_images_error,
                          read_image_header)


class PixelLabels(Protocol):
    """What the wrapper needs of a label store (``mmseg_al.state``)."""

    def pixels(self, image_id: str) -> np.ndarray:
        """Revealed flat pixel indices (int64) of an image."""

    def classes(self, image_id: str) -> np.ndarray:
        """Their classes (int64; 255 where the annotator marked void)."""

    def labelled_image_ids(self) -> List[str]:
        """Ids of the images with at least one revealed pixel."""


@DATASETS.register_module()
class PixelSparseDataset:
    """Pool of an active-learning run over a segmentation dataset.

    The pipeline of the wrapped dataset must keep each image's geometry
    (no resizing, cropping or flipping), because revealed pixels are flat
    indices ``y * W + x`` into the image file's ``H x W`` grid.

    Which images are iterated is re-read from the label store whenever
    ``len()`` is taken (a DataLoader does so when it is built), so build
    each round's dataloader after the round's labels are revealed.

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
        self.label_store: Optional[PixelLabels] = None
        self._image_paths: List[str] = []
        self._image_ids: List[str] = []
        self._index: Dict[str, int] = {}
        self._image_shapes: Optional[List[Tuple[int, int]]] = None
        self._labelled: Optional[List[int]] = None
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
        prefix = self.dataset.data_prefix.get('img_path', '')
        paths = [
            self.dataset.get_data_info(i)['img_path']
            for i in range(len(self.dataset))
        ]
        ids = [osp.relpath(p, prefix).replace(osp.sep, '/') for p in paths]
        repeated = [i for i, n in Counter(ids).items() if n > 1]
        if repeated:
            raise ValueError(f'Image ids must be unique; {repeated[:5]} '
                             f'occur more than once under {prefix}.')
        self._image_paths, self._image_ids = paths, ids
        self._index = {image_id: i for i, image_id in enumerate(ids)}
        self._fully_initialized = True

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
        """``(H, W)`` of every pool image, read from the file headers."""
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
                f"{self.dataset.data_prefix.get('img_path', '')}.") from None

    def set_label_store(self, store: PixelLabels) -> None:
        """Use ``store`` as the source of revealed pixels from now on."""
        self.label_store = store
        self._labelled = None

    def __len__(self) -> int:
        self._labelled = self._labelled_indices()
        return len(self._labelled)

    def __getitem__(self, idx: int) -> dict:
        """The ``idx``-th labelled image, labels masked to revealed pixels."""
        if self._labelled is None:
            self._labelled = self._labelled_indices()
        index = self._labelled[idx]
        results = self.pool_item(index)
        results['data_samples'].gt_sem_seg = PixelData(
            data=torch.from_numpy(self._revealed_label_map(index))[None])
        return results

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
                for path in track(self._image_paths, 'image sizes')
            ]
        return self._image_shapes

    def _labelled_indices(self) -> List[int]:
        """Sorted pool indices of the images with revealed pixels."""
        self.full_init()
        if self.label_store is None:
            return []
        return sorted(
            self.index_of(image_id)
            for image_id in self.label_store.labelled_image_ids()
            if len(self.label_store.pixels(image_id)))

    def _revealed_label_map(self, index: int) -> np.ndarray:
        """``[H, W]`` int64: stored classes at revealed pixels, else void."""
        image_id = self._image_ids[index]
        pixels = np.asarray(self.label_store.pixels(image_id), np.int64)
        classes = np.asarray(self.label_store.classes(image_id), np.int64)
        height, width = self._shapes()[index]
        _check_revealed(image_id, pixels, classes, height * width,
                        self.num_classes, self.ignore_index)
        label = np.full(height * width, self.ignore_index, np.int64)
        label[pixels] = classes
        return label.reshape(height, width)

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


def _check_revealed(image_id: str, pixels: np.ndarray, classes: np.ndarray,
                    num_pixels: int, num_classes: int,
                    ignore_index: int) -> None:
    """Raise if the store's pixels/classes for an image are malformed."""
    if pixels.shape != classes.shape or pixels.ndim != 1:
        raise ValueError(
            f'Label store gives {pixels.shape} pixels but {classes.shape} '
            f'classes for image {image_id!r}; expected two equal 1-d arrays.')
    if pixels.size and (pixels.min() < 0 or pixels.max() >= num_pixels):
        raise ValueError(
            f'Label store has pixel indices outside [0, {num_pixels}) for '
            f'image {image_id!r} (min {pixels.min()}, max {pixels.max()}).')
    check_label_values(classes, num_classes, ignore_index,
                       f'The label store entry of image {image_id!r}')
