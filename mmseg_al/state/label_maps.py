"""Sparse label maps: a run's labels as files any mmseg dataset reads.

One PNG per labelled image holds the class of each labelled pixel and
``ignore_index`` everywhere else, so another mmseg model can be trained on
exactly the pixels that were labelled. The maps sit at the images' ids with
a ``.png`` suffix, and a split file lists those ids without suffix: give a
``BaseSegDataset`` the pool's image directory as ``img_path``, this folder
as ``seg_map_path``, the split file as ``ann_file`` and
``reduce_zero_label=False`` (the values are already the model's classes).
"""
import os
import posixpath
from typing import List

import cv2
import numpy as np

from .atomic_io import PathLike, atomic_write_bytes, atomic_write_text
from .label_store import LabelStore

#: The split file written beside the maps.
SPLIT_FILE = 'split.txt'


def write_label_maps(store: LabelStore, out_dir: PathLike) -> List[str]:
    """Write the map of every labelled image and the split file.

    Returns:
        The paths written, the split file last.
    """
    largest = max(store.num_classes - 1, store.ignore_index)
    if largest > np.iinfo(np.uint16).max:
        raise ValueError(f'classes up to {store.num_classes - 1} and '
                         f'ignore_index {store.ignore_index} do not fit a '
                         '16-bit PNG')
    dtype = np.uint8 if largest <= np.iinfo(np.uint8).max else np.uint16
    out_dir = os.fspath(out_dir)
    names, written = [], []
    for image_id in store.labelled_image_ids():
        name = posixpath.splitext(image_id)[0]
        path = os.path.join(out_dir, *f'{name}.png'.split('/'))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        ok, png = cv2.imencode('.png', store.label_map(image_id).astype(dtype))
        if not ok:
            raise OSError(f'{path}: PNG encoding failed')
        atomic_write_bytes(path, png.tobytes())
        names.append(name)
        written.append(path)
    split = os.path.join(out_dir, SPLIT_FILE)
    atomic_write_text(split, ''.join(f'{name}\n' for name in names))
    return written + [split]
