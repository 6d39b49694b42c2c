"""The built-in toy dataset: procedural street scenes written on first use.

The scenes are a pure function of their parameters (image size, split
sizes, seed and the renderer's format version). They are generated into a
temporary directory beside ``data_root`` and renamed into place, so a crash
or a second process never leaves a half-written dataset; a JSON marker
records the parameters, and asking for different ones over an existing
directory is an error instead of silently mixing two datasets.
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Any, Dict, Optional

import cv2
import numpy as np

from mmseg.registry import DATASETS

from mmseg_al.utils import numpy_rng, track
from .converted import ConvertedSegDataset
from .metainfo import TOY_SCENES_CLASSES, TOY_SCENES_PALETTE
from .toy_scene_renderer import render_toy_scene

#: Bump whenever ``render_toy_scene`` changes its output for a given RNG.
TOY_SCENES_FORMAT = 1
MARKER_NAME = 'toy_scenes.json'


def toy_scenes_params(image_size: int, num_train: int, num_val: int,
                      seed: int) -> Dict[str, int]:
    """The parameters that determine every byte of a toy dataset."""
    return dict(format=TOY_SCENES_FORMAT, image_size=image_size,
                num_train=num_train, num_val=num_val, seed=seed)


def _read_marker(data_root: str) -> Dict[str, int]:
    marker = osp.join(data_root, MARKER_NAME)
    if not osp.isfile(marker):
        raise FileExistsError(
            f'{data_root} exists but holds no {MARKER_NAME}, so it was not '
            'written by ToyScenesDataset. Refusing to overwrite it: choose '
            'another data_root or remove the directory.')
    with open(marker) as f:
        return json.load(f)


def _check_params(data_root: str, params: Dict[str, int]) -> None:
    found = _read_marker(data_root)
    if found != params:
        raise ValueError(
            f'{data_root} holds toy scenes generated with {found}, but '
            f'{params} were requested. Remove the directory to regenerate it '
            'or set another data_root (labels selected on the old scenes do '
            'not apply to new ones).')


def _render_split(root: str, split: str, count: int, image_size: int,
                  seed: int) -> None:
    img_dir = osp.join(root, 'img_dir', split)
    ann_dir = osp.join(root, 'ann_dir', split)
    os.makedirs(img_dir)
    os.makedirs(ann_dir)
    for i in track(range(count), f'rendering toy scenes ({split})'):
        image, label = render_toy_scene(
            numpy_rng(seed, 'toy_scenes', split, i), image_size)
        name = f'{i:04d}.png'
        _write_png(osp.join(img_dir, name), image[..., ::-1])
        _write_png(osp.join(ann_dir, name), label)


def _write_png(path: str, array: np.ndarray) -> None:
    if not cv2.imwrite(path, array):
        raise OSError(f'Could not write {path} (disk full or read-only?)')


def write_toy_scenes(data_root: str, image_size: int = 64,
                     num_train: int = 120, num_val: int = 40,
                     seed: int = 0) -> None:
    """Generate the toy dataset into ``data_root`` unless it is there.

    Args:
        data_root (str): target directory; gets ``img_dir/{train,val}``,
            ``ann_dir/{train,val}`` and the parameter marker.
        image_size (int): height and width of every scene (>= 32).
        num_train (int): number of training (pool) scenes.
        num_val (int): number of validation scenes.
        seed (int): seed of all scenes.

    Raises:
        ValueError: ``data_root`` holds scenes made with other parameters.
        FileExistsError: ``data_root`` is a non-empty directory that was not
            written by this function.
    """
    if num_train < 1 or num_val < 1:
        raise ValueError('toy scenes need num_train >= 1 and num_val >= 1, '
                         f'got {num_train} and {num_val}')
    params = toy_scenes_params(image_size, num_train, num_val, seed)
    if osp.isdir(data_root) and os.listdir(data_root):
        _check_params(data_root, params)
        return
    parent = osp.dirname(osp.abspath(data_root))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.toy_scenes-', dir=parent)
    try:
        _render_split(staging, 'train', num_train, image_size, seed)
        _render_split(staging, 'val', num_val, image_size, seed)
        with open(osp.join(staging, MARKER_NAME), 'w') as f:
            json.dump(params, f, indent=2, sort_keys=True)
        try:
            os.rename(staging, data_root)
        except OSError:
            # Another process finished first: use its copy if it matches.
            _check_params(data_root, params)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@DATASETS.register_module()
class ToyScenesDataset(ConvertedSegDataset):
    """Procedural street scenes with 6 classes, generated on first use.

    Classes are sky, road, building, vegetation, vehicle and person; colour
    alone does not separate them (see ``toy_scene_renderer``). Both splits
    are generated together; ``data_prefix`` picks one, as for the other
    converted datasets.

    Args:
        data_root (str): where the scenes live (generated if missing).
        image_size (int): height and width of the scenes. Defaults to 64.
        num_train (int): training scenes. Defaults to 120.
        num_val (int): validation scenes. Defaults to 40.
        seed (int): seed of the scenes. Defaults to 0.
        data_prefix (dict, optional): image and label directories below
            ``data_root``. Defaults to the train split.
        **kwargs: other :class:`ConvertedSegDataset` arguments (pipeline,
            test_mode, ...).
    """
    METAINFO = dict(classes=TOY_SCENES_CLASSES, palette=TOY_SCENES_PALETTE)
    #: Writes its own files on first use (no converter to run).
    GENERATES_DATA = True

    def __init__(self,
                 data_root: str = 'data/toy_scenes',
                 image_size: int = 64,
                 num_train: int = 120,
                 num_val: int = 40,
                 seed: int = 0,
                 data_prefix: Optional[dict] = None,
                 **kwargs: Any) -> None:
        write_toy_scenes(data_root, image_size, num_train, num_val, seed)
        super().__init__(
            data_root=data_root,
            data_prefix=data_prefix or dict(
                img_path='img_dir/train', seg_map_path='ann_dir/train'),
            **kwargs)
