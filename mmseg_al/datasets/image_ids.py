"""The one definition of an image id.

An image is named by its file's path relative to the dataset's image
directory, ``/``-separated (``'0001TP_006690.png'``, ``'train/a.png'``).
The id keys the label store, the query files, the overlays and the
diffusion noise, so it must not depend on where the data lives: a copy of
the data elsewhere sees the same ids, noise, features and labels.
"""
import os.path as osp


def image_id(img_path: str, img_dir: str) -> str:
    """The id of the image file ``img_path`` under ``img_dir``."""
    return osp.relpath(img_path, img_dir).replace(osp.sep, '/')


def image_id_of(metainfo: dict) -> str:
    """The id of a data sample: ``metainfo['image_id']`` (set by
    ``PixelSparseDataset``), else the id of ``img_path`` in its own
    directory (the file name: the image directories of the converted
    datasets are flat).
    """
    if metainfo.get('image_id') is not None:
        return str(metainfo['image_id'])
    if metainfo.get('img_path') is not None:
        path = metainfo['img_path']
        return image_id(path, osp.dirname(path))
    raise KeyError(
        'An image id is needed to key the diffusion noise: add '
        "'image_id' (or 'img_path') to the data sample's metainfo "
        f'(PackSegInputs meta_keys); got keys {sorted(metainfo)}.')
