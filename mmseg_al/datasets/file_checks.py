"""Checks of dataset files, with errors that name the files and the fix.

A missing dataset or a wrong label file must stop a run before anything is
trained on it or written to the label store, and the error must say which
directory or file to fix.
"""
from typing import Optional, Tuple

import numpy as np
from mmengine import fileio
from mmengine.dataset import BaseDataset
from PIL import Image

#: Pillow modes of single-channel 8-bit label maps.
LABEL_MODES = ('L', 'P')


def read_image_header(path: str,
                      backend_args: Optional[dict] = None
                      ) -> Tuple[Tuple[int, int], str]:
    """``((H, W), pillow mode)`` of an image file whose every byte was
    checked, so that a truncated or corrupt file fails here, naming itself,
    and not in the middle of a round.

    Pillow's ``verify`` reads the whole file and checks its structure (for
    PNG every chunk's CRC, up to the end marker, which OpenCV's decoder
    insists on too) without decoding pixels: about 20 times faster than a
    decode of a 960x720 PNG, so large datasets still start quickly.

    Args:
        path (str): file path or URI understood by ``mmengine.fileio``.
        backend_args (dict, optional): arguments of the file backend.

    Raises:
        ValueError: the file is not a complete image.
    """
    with fileio.get_local_path(path, backend_args=backend_args) as local:
        try:
            with Image.open(local) as image:
                width, height = image.size
                mode = image.mode
                image.verify()
        except (OSError, SyntaxError) as exc:  # how Pillow says "broken"
            raise ValueError(
                f'Image file {path} is truncated or corrupt ({exc}); convert '
                'it again or remove it from the dataset.') from None
    return (height, width), mode


def check_label_file(img_path: str, seg_map_path: str,
                     backend_args: Optional[dict] = None) -> Tuple[int, int]:
    """Check that a label file exists, is single-channel and fits its image.

    Args:
        img_path (str): the image file.
        seg_map_path (str): its label map.
        backend_args (dict, optional): arguments of the file backend.

    Returns:
        tuple: ``(H, W)`` of the image.

    Raises:
        FileNotFoundError: the label file is missing.
        ValueError: the label map is not single-channel or its size differs
            from the image's.
    """
    if not fileio.exists(seg_map_path, backend_args=backend_args):
        raise FileNotFoundError(
            f'Label file {seg_map_path} of image {img_path} does not exist. '
            'Every image needs a label map with the same name in the '
            'annotation directory (re-run the dataset converter).')
    image_shape, _ = read_image_header(img_path, backend_args)
    label_shape, mode = read_image_header(seg_map_path, backend_args)
    if mode not in LABEL_MODES:
        raise ValueError(
            f'Label file {seg_map_path} has Pillow mode {mode!r}; expected a '
            'single-channel 8-bit PNG (mode L or P) of class ids.')
    if label_shape != image_shape:
        raise ValueError(
            f'Image {img_path} is {image_shape[0]}x{image_shape[1]} (HxW) but '
            f'its label file {seg_map_path} is '
            f'{label_shape[0]}x{label_shape[1]}; they must be the same size.')
    return image_shape


def check_label_values(label: np.ndarray, num_classes: int, ignore_index: int,
                       source: str) -> None:
    """Raise if ``label`` holds ids outside ``[0, num_classes)`` + ignore.

    Args:
        label (np.ndarray): integer label map of any shape.
        num_classes (int): number of classes of the dataset.
        ignore_index (int): the void id, allowed anywhere.
        source (str): where the labels came from, starting the error
            message (e.g. ``'Label file data/x.png'``).
    """
    values = np.unique(label)
    bad = values[((values < 0) | (values >= num_classes))
                 & (values != ignore_index)]
    if bad.size:
        raise ValueError(
            f'{source} contains class ids {bad.tolist()} outside '
            f'[0, {num_classes}) and not the ignore index {ignore_index}. '
            'Map unknown classes to the ignore index when converting.')


def has_images(dataset: BaseDataset) -> bool:
    """Whether the dataset's image directory holds at least one image,
    looking no further than the first match."""
    try:
        first = next(
            iter(
                fileio.list_dir_or_file(
                    dataset.data_prefix.get('img_path', ''),
                    list_dir=False,
                    suffix=getattr(dataset, 'img_suffix', None),
                    recursive=True,
                    backend_args=getattr(dataset, 'backend_args', None))),
            None)
    except FileNotFoundError:
        return False
    return first is not None


def no_images_error(dataset: BaseDataset) -> FileNotFoundError:
    """The error for a dataset without images: names the directory and the
    converter that writes it (see :func:`converter_of`)."""
    from .sources import converter_of
    converter = converter_of(type(dataset).__name__) or (
        'tools/dataset_converters/<dataset>.py')
    return FileNotFoundError(
        f'{type(dataset).__name__} found no images ending in '
        f"{getattr(dataset, 'img_suffix', '')!r} under "
        f"{dataset.data_prefix.get('img_path', '')!r}. Convert the raw "
        f'dataset first (python {converter} RAW_ROOT -o '
        f'{dataset.data_root}) and point data_root at its output.')
