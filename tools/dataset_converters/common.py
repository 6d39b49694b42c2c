"""What every dataset converter shares.

A converter lists the raw image/label pairs of its dataset, says how to read
one pair (mapping raw label ids onto the target class ids) and which geometry
brings it to 256x256. This module does the rest the same way for every
dataset: checking raw files, resizing and cropping, the conversion loop with
its progress bar, staged all-or-nothing output and the closing summary.
"""
import argparse
import shutil
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from multiprocessing import Pool
from pathlib import Path
from typing import (Any, Callable, Dict, Iterable, Iterator, Mapping,
                    Optional, Sequence, Tuple, Union)

import cv2
import numpy as np

from mmseg_al.utils.progress import track

#: Label value of void / unlabelled pixels in every converted label map.
VOID = 255
#: Side of the square images and labels every converter writes.
OUT_SIZE = 256
#: How many offending files or values an error message lists.
_MAX_LISTED = 5

PathLike = Union[str, Path]


class ConversionError(RuntimeError):
    """Raw input is missing or malformed.

    The message names the offending file, directory or value and says what
    was expected, so the user can fix the input and run again.
    """


@dataclass(frozen=True)
class Pair:
    """One raw image/label pair and where its converted files go.

    Args:
        split: Output split, e.g. ``'train'``.
        image: Raw image file.
        label: Raw label file.
        out_image: Converted image path, relative to the output root.
        out_label: Converted label path, relative to the output root.
    """
    split: str
    image: Path
    label: Path
    out_image: str
    out_label: str


#: Reads one pair: (BGR uint8 image, uint8 label of target ids / VOID).
ReadPair = Callable[[Pair], Tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Geometry:
    """How a raw image and its label become ``OUT_SIZE`` x ``OUT_SIZE``.

    Images are resized bilinearly, labels by pixel-centre nearest neighbour
    (``cv2.INTER_NEAREST_EXACT``: no half-pixel shift, so a label stays
    aligned with its image).

    Args:
        resize: ``(width, height)`` to resize to first, or None.
        shorter_side: Used when ``resize`` is None: resize keeping the aspect
            ratio so that the shorter side has this length.
        crop: ``(width, height)`` of a centre crop taken after resizing.
    """
    resize: Optional[Tuple[int, int]] = None
    shorter_side: Optional[int] = None
    crop: Optional[Tuple[int, int]] = None

    def apply(self, array: np.ndarray, is_label: bool) -> np.ndarray:
        """Resize then crop ``array`` (H x W or H x W x 3)."""
        height, width = array.shape[:2]
        size = self.resize
        if size is None and self.shorter_side is not None:
            scale = self.shorter_side / min(height, width)
            size = (round(width * scale), round(height * scale))
        if size is not None and size != (width, height):
            interpolation = (cv2.INTER_NEAREST_EXACT
                             if is_label else cv2.INTER_LINEAR)
            array = cv2.resize(array, size, interpolation=interpolation)
        if self.crop is not None:
            array = center_crop(array, self.crop)
        return array


def center_crop(array: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Crop the centre ``(width, height)`` of ``array`` (offsets rounded
    down)."""
    height, width = array.shape[:2]
    crop_width, crop_height = size
    if crop_width > width or crop_height > height:
        raise ValueError(f'cannot crop {crop_width}x{crop_height} out of '
                         f'{width}x{height}')
    top = (height - crop_height) // 2
    left = (width - crop_width) // 2
    return array[top:top + crop_height, left:left + crop_width]


def read_image(path: Path) -> np.ndarray:
    """Read a colour image as BGR uint8, ignoring EXIF orientation (labels
    are drawn on the stored pixel grid, not the displayed one)."""
    image = cv2.imread(str(path),
                       cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise ConversionError(f'cannot read image {path}: missing, '
                              'truncated or not an image file')
    return image


def read_label_png(path: Path) -> np.ndarray:
    """Read a single-channel label PNG with its stored values."""
    label = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if label is None:
        raise ConversionError(f'cannot read label {path}: missing, '
                              'truncated or not an image file')
    if label.ndim != 2:
        raise ConversionError(
            f'label {path} has {label.shape[2]} channels; expected a '
            'single-channel map of class ids (not a colour visualisation)')
    return label


def lookup_table(mapping: Mapping[int, int], num_raw_ids: int) -> np.ndarray:
    """Table from raw id to target id; raw ids absent from ``mapping`` map
    to ``VOID``.

    Args:
        mapping: Raw id -> target id for the kept classes.
        num_raw_ids: Raw ids ``0 .. num_raw_ids - 1`` are valid input.
    """
    table = np.full(num_raw_ids, VOID, dtype=np.uint8)
    for raw_id, target_id in mapping.items():
        table[raw_id] = target_id
    return table


def map_label(raw: np.ndarray, table: np.ndarray, path: Path) -> np.ndarray:
    """Map raw ids through ``table``; ids outside it are an error naming
    ``path``, never silently void."""
    if raw.size and (raw.min() < 0 or raw.max() >= len(table)):
        values = np.unique(raw)
        bad = values[(values < 0) | (values >= len(table))]
        raise ConversionError(
            f'label {path} has unexpected values '
            f'{bad[:_MAX_LISTED].tolist()}; expected raw ids 0..'
            f'{len(table) - 1}')
    return table[raw]


def read_png_pair(pair: Pair,
                  table: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Read a pair whose label is a PNG of raw ids, mapped through
    ``table`` (see :func:`lookup_table`); a :data:`ReadPair` once
    ``table`` is bound."""
    label = map_label(read_label_png(pair.label), table, pair.label)
    return read_image(pair.image), label


def require_dirs(root: Path, contents: Mapping[str, str],
                 dataset: str) -> None:
    """Fail unless every ``root/name`` directory exists.

    Args:
        root: The raw dataset root given by the user.
        contents: Sub-directory -> what it should contain.
        dataset: Dataset / layout name for the message.
    """
    if not root.is_dir():
        raise ConversionError(f'raw {dataset} root {root} is not a directory')
    missing = [f'{name}/ ({what})' for name, what in contents.items()
               if not (root / name).is_dir()]
    if missing:
        raise ConversionError(
            f'raw {dataset} root {root} lacks ' + ', '.join(missing) +
            '; see --help for the expected layout')


def require_files(paths: Iterable[Path], what: str) -> None:
    """Fail, listing a few of them, if any of ``paths`` is not a file."""
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise ConversionError(
            f'{len(missing)} {what} missing: ' +
            ', '.join(str(path) for path in missing[:_MAX_LISTED]))


def check_partners(label_of_image: Mapping[Path, Path],
                   labels_found: Iterable[Path], image_dir: Path) -> None:
    """Every image needs its label and every label file its image.

    Args:
        label_of_image: Image -> the label file it must have.
        labels_found: The label files present on disk.
        image_dir: Where the images of these labels should be.
    """
    no_label = [f'{image} (expected {label})'
                for image, label in label_of_image.items()
                if not label.is_file()]
    if no_label:
        raise ConversionError(
            f'{len(no_label)} images have no label: ' +
            ', '.join(no_label[:_MAX_LISTED]))
    orphans = sorted(set(labels_found) - set(label_of_image.values()))
    if orphans:
        raise ConversionError(
            f'{len(orphans)} labels have no image in {image_dir}: ' +
            ', '.join(str(path) for path in orphans[:_MAX_LISTED]))


def write_png(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as PNG, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), array):
        raise ConversionError(f'could not write {path}')


def _convert_pair(pair: Pair, read_pair: ReadPair, geometry: Geometry,
                  staging: Path) -> np.ndarray:
    """Convert one pair into ``staging``; returns its label histogram."""
    image, label = read_pair(pair)
    if image.shape[:2] != label.shape:
        raise ConversionError(
            f'image {pair.image} is {image.shape[1]}x{image.shape[0]} but '
            f'its label {pair.label} is {label.shape[1]}x{label.shape[0]}; '
            'an image and its label must have the same size')
    label = geometry.apply(label, is_label=True)
    write_png(staging / pair.out_image, geometry.apply(image, is_label=False))
    write_png(staging / pair.out_label, label)
    return np.bincount(label.ravel(), minlength=VOID + 1)


@contextmanager
def _mapper(nproc: int) -> Iterator[Callable]:
    """``map`` for one process, an unordered pool map for several."""
    if nproc <= 1:
        yield map
        return
    with Pool(nproc) as pool:
        yield partial(pool.imap_unordered, chunksize=4)


def _publish(staging: Path, out_dir: Path) -> None:
    """Move the complete ``staging`` tree to ``out_dir``, replacing a
    previous output only now that the new one is whole."""
    if out_dir.exists():
        retired = out_dir.with_name(out_dir.name + '.old')
        shutil.rmtree(retired, ignore_errors=True)
        out_dir.rename(retired)
        staging.rename(out_dir)
        shutil.rmtree(retired)
    else:
        staging.rename(out_dir)


def convert_pairs(pairs: Sequence[Pair], read_pair: ReadPair,
                  geometry: Geometry, out_dir: PathLike,
                  class_names: Sequence[str], nproc: int = 1,
                  overwrite: bool = False, desc: str = 'converting',
                  paper_images: Optional[Mapping[str, int]] = None
                  ) -> Dict[str, Any]:
    """Convert ``pairs`` into ``out_dir``, all or nothing.

    Files are written into ``OUT_DIR.tmp``, which becomes ``OUT_DIR`` only
    once every pair has been converted; on any error it is removed, so a
    directory named ``OUT_DIR`` is always a complete conversion.

    Args:
        pairs: What to convert.
        read_pair: Reads a pair as (BGR image, label of target ids / VOID).
            Must be picklable (a module-level function or a partial of
            one) when ``nproc > 1``.
        geometry: How both reach ``OUT_SIZE`` x ``OUT_SIZE``.
        out_dir: Output root.
        class_names: Target class names, in id order.
        nproc: Worker processes.
        overwrite: Replace an existing ``out_dir``; otherwise it is an error.
        desc: Progress bar label.
        paper_images: Images per split in the paper, shown beside the
            counts produced (raw releases differ in what they hold).

    Returns:
        The summary, see :func:`summarise`.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise ConversionError(f'output {out_dir} already exists; pass '
                              '--overwrite to replace it')
    staging = out_dir.with_name(out_dir.name + '.tmp')
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    convert_one = partial(_convert_pair, read_pair=read_pair,
                          geometry=geometry, staging=staging)
    histogram = np.zeros(VOID + 1, dtype=np.int64)
    try:
        with _mapper(nproc) as mapper:
            for counts in track(mapper(convert_one, pairs), desc,
                                total=len(pairs)):
                histogram += counts
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _publish(staging, out_dir)
    return summarise(pairs, histogram, class_names, out_dir, paper_images)


def summarise(pairs: Sequence[Pair], histogram: np.ndarray,
              class_names: Sequence[str], out_dir: Path,
              paper_images: Optional[Mapping[str, int]] = None
              ) -> Dict[str, Any]:
    """What a conversion produced.

    Returns:
        ``dict(out_dir=str, images={split: count}, paper_images={split:
        count}, class_pixels={name: count}, void_pixels=count)``, pixel
        counts over the written labels.
    """
    return dict(
        out_dir=str(out_dir),
        images=dict(Counter(pair.split for pair in pairs)),
        paper_images=dict(paper_images or {}),
        class_pixels={name: int(histogram[class_id])
                      for class_id, name in enumerate(class_names)},
        void_pixels=int(histogram[VOID]))


def format_summary(summary: Mapping[str, Any]) -> str:
    """Human-readable table of a :func:`summarise` result."""
    total = sum(summary['class_pixels'].values()) + summary['void_pixels']
    rows = list(summary['class_pixels'].items())
    rows.append(('(void 255)', summary['void_pixels']))
    width = max(len(name) for name, _ in rows)
    paper = summary['paper_images']
    lines = [f'wrote {summary["out_dir"]}',
             'images: ' + ', '.join(
                 f'{split} {count}' +
                 (f' (paper {paper[split]})' if split in paper else '')
                 for split, count in summary['images'].items()),
             'label pixels per class:']
    lines += [f'  {name:<{width}} {count:>12d} '
              f'{100 * count / max(total, 1):6.2f} %' for name, count in rows]
    return '\n'.join(lines)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'expected >= 1, got {value}')
    return value


def converter_parser(description: str,
                     default_out_dir: str) -> argparse.ArgumentParser:
    """The command line every converter shares.

    Args:
        description: The converter's module docstring (with its layout).
        default_out_dir: Output root used without ``-o``.
    """
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('raw_root', type=Path,
                        help='root of the raw dataset (layout above)')
    parser.add_argument('-o', '--out-dir', type=Path,
                        default=Path(default_out_dir),
                        help='output root (default: %(default)s)')
    parser.add_argument('--nproc', type=_positive_int, default=1,
                        help='worker processes (default: %(default)s)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing output root (swapped in '
                        'only once the new conversion is complete)')
    return parser


def run_cli(parser: argparse.ArgumentParser,
            convert: Callable[..., Dict[str, Any]],
            argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Parse ``argv``, call ``convert(**args)`` and print its summary; a
    :class:`ConversionError` exits with status 2 and its message."""
    args = parser.parse_args(argv)
    try:
        summary = convert(**vars(args))
    except ConversionError as err:
        parser.exit(2, f'{parser.prog}: error: {err}\n')
    print(format_summary(summary))
    return summary
