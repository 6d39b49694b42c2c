"""Sparse label maps: a run's labels as files any mmseg dataset reads.

One PNG per labelled image holds the class of each labelled pixel and
``ignore_index`` everywhere else, so another mmseg model can be trained on
exactly the pixels that were labelled. The maps sit at the images' ids with
a ``.png`` suffix, and a split file lists those ids without suffix: give a
``BaseSegDataset`` the pool's image directory as ``img_path`` and its
images' ``img_suffix``, this folder as ``seg_map_path``, the split file as
``ann_file``, ``seg_map_suffix='.png'`` and ``reduce_zero_label=False``
(the values are already the model's classes). A marker file tells a
folder of maps from a dataset's own annotations, which are never
overwritten.
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
#: Written first into a folder of maps; only a folder holding it is taken
#: for an earlier export and overwritten (a dataset may have a split.txt).
MARKER_FILE = '.mmseg_al_label_maps'


def write_label_maps(store: LabelStore, out_dir: PathLike,
                     clicks_only: bool = False) -> List[str]:
    """Write the map of every labelled image and the split file.

    Args:
        store: the labels.
        out_dir: a new or empty folder, or one a previous export wrote
            (it holds :data:`MARKER_FILE`; its maps are replaced).
        clicks_only: map the clicks alone, not the expanded pixels of
            region expansion too.

    Returns:
        The paths written, the split file last.

    Raises:
        ValueError: before anything is written, if the classes do not fit
            the 8-bit maps mmseg reads, or ``out_dir`` is a file or holds
            files that no export wrote (a dataset's own annotations must
            not be overwritten).
    """
    largest = max(store.num_classes - 1, store.ignore_index)
    if largest > np.iinfo(np.uint8).max:
        raise ValueError(
            f'classes up to {store.num_classes - 1} and ignore_index '
            f'{store.ignore_index} do not fit the 8-bit label maps that '
            "mmseg's LoadAnnotations reads; export the points instead")
    out_dir = os.fspath(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f'{out_dir} is a file, not a folder; give a new or '
                         'empty folder for the label maps')
    if os.path.isdir(out_dir) and os.listdir(out_dir) and \
            not os.path.isfile(os.path.join(out_dir, MARKER_FILE)):
        raise ValueError(f'{out_dir} holds files that no label-map export '
                         f'wrote (no {MARKER_FILE}); give a new or empty '
                         'folder')
    atomic_write_text(os.path.join(out_dir, MARKER_FILE),
                      'Sparse label maps written by mmseg-al '
                      '(tools/export_labels.py); a later export may replace '
                      'this folder\'s maps.\n')
    names, written = [], []
    for image_id in store.labelled_image_ids():
        name = posixpath.splitext(image_id)[0]
        path = os.path.join(out_dir, *f'{name}.png'.split('/'))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        ok, png = cv2.imencode('.png',
                               store.label_map(image_id, clicks_only
                                               ).astype(np.uint8))
        if not ok:
            raise OSError(f'{path}: PNG encoding failed')
        atomic_write_bytes(path, png.tobytes())
        names.append(name)
        written.append(path)
    split = os.path.join(out_dir, SPLIT_FILE)
    atomic_write_text(split, ''.join(f'{name}\n' for name in names))
    return written + [split]
