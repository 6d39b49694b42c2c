"""Datasets of the paper, the built-in toy scenes and the active-learning
pool wrapper; importing this module registers them in mmseg's DATASETS."""
from .ade_bed import ADEBedDataset
from .camvid import CamVidDataset
from .converted import ConvertedSegDataset
from .file_checks import (check_label_file, check_label_values, has_images,
                          no_images_error, read_image_header)
from .pascal_context import PascalContext33Dataset
from .pixel_sparse import PixelSparseDataset
from .sources import converter_of, generates_its_data
from .toy_scene_renderer import render_toy_scene
from .toy_scenes import ToyScenesDataset, write_toy_scenes

__all__ = [
    'ADEBedDataset', 'CamVidDataset', 'ConvertedSegDataset',
    'PascalContext33Dataset', 'PixelSparseDataset',
    'ToyScenesDataset', 'check_label_file', 'check_label_values',
    'converter_of', 'generates_its_data',
    'has_images', 'no_images_error', 'read_image_header', 'render_toy_scene',
    'write_toy_scenes'
]
