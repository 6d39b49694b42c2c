"""Convert Pascal-Context to Pascal-Context-33, 256x256 mmseg layout.

Expected RAW_ROOT (VOC2012 with the Pascal-Context label maps added):
  JPEGImages/*.jpg      VOC2012 images
  trainval/*.mat        Pascal-Context label maps, key 'LabelMap', original
                        ids 0..459 (other folder: --labels-dir)
  train.txt, val.txt    image ids, one a line, 4998 / 5105 (other folder:
                        --splits-dir)
The 33 classes keep the order of mmseg_al.datasets.metainfo
.PASCAL_CONTEXT_33 (aeroplane 2 -> 0, bicycle 23 -> 1, ..., ceiling 68 ->
32); all other ids become 255. Images (bilinear) and labels (nearest) are
resized to 256x256 without cropping.
"""
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import scipy.io
from scipy.io.matlab import MatReadError

if not __package__:  # run as a script: make ``tools`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmseg_al.datasets.metainfo import (  # noqa: E402
    PASCAL_CONTEXT_33_CLASSES, PASCAL_CONTEXT_33_SOURCE_IDS)
from tools.dataset_converters.common import (  # noqa: E402
    OUT_SIZE, ConversionError, Geometry, Pair, PathLike, convert_pairs,
    converter_parser, lookup_table, map_label, read_image, require_dirs,
    require_files, run_cli)

SPLITS = ('train', 'val')
MAT_KEY = 'LabelMap'
NUM_SOURCE_IDS = 460
LABEL_TABLE = lookup_table(
    {source: target
     for target, source in enumerate(PASCAL_CONTEXT_33_SOURCE_IDS)},
    num_raw_ids=NUM_SOURCE_IDS)
#: Images per split in the paper, printed beside the counts produced.
PAPER_IMAGES = {'train': 4998, 'val': 5105}
GEOMETRY = Geometry(resize=(OUT_SIZE, OUT_SIZE))


def read_ids(list_path: Path) -> List[str]:
    """Image ids of a split list, one a line."""
    ids = [line.strip() for line in
           list_path.read_text(encoding='utf-8').splitlines()
           if line.strip()]
    if not ids:
        raise ConversionError(f'split list {list_path} names no image')
    return ids


def read_label_mat(path: Path) -> np.ndarray:
    """The ``LabelMap`` integer array of a Pascal-Context ``.mat`` file."""
    try:
        contents = scipy.io.loadmat(str(path))
    except (MatReadError, ValueError, NotImplementedError, OSError) as err:
        raise ConversionError(
            f'cannot read label map {path}: {err}') from err
    if MAT_KEY not in contents:
        keys = sorted(key for key in contents if not key.startswith('__'))
        raise ConversionError(f'{path} has no {MAT_KEY!r} variable; found '
                              f'{keys}')
    label = contents[MAT_KEY]
    if label.ndim != 2 or not np.issubdtype(label.dtype, np.integer):
        raise ConversionError(
            f'{MAT_KEY} of {path} is a {label.ndim}-d {label.dtype} array; '
            'expected a 2-d integer map of Pascal-Context ids')
    return label


def find_pairs(raw_root: Path, labels_dir: Path,
               splits_dir: Path) -> List[Pair]:
    """Pairs of the images named by ``train.txt`` and ``val.txt``."""
    lists = [splits_dir / f'{split}.txt' for split in SPLITS]
    require_files(lists, 'split lists (image ids, one a line)')
    pairs = [
        Pair(split, raw_root / 'JPEGImages' / f'{image_id}.jpg',
             labels_dir / f'{image_id}.mat', f'img_dir/{split}/{image_id}.png',
             f'ann_dir/{split}/{image_id}.png')
        for split, list_path in zip(SPLITS, lists)
        for image_id in read_ids(list_path)
    ]
    require_files((pair.image for pair in pairs), 'listed images')
    require_files((pair.label for pair in pairs), 'listed label maps')
    return pairs


def read_pair(pair: Pair) -> Tuple[np.ndarray, np.ndarray]:
    """Read a Pascal-Context pair with its label in our 33 ids."""
    label = map_label(read_label_mat(pair.label), LABEL_TABLE, pair.label)
    return read_image(pair.image), label


def convert(raw_root: PathLike, out_dir: PathLike = 'data/pascal_context_33',
            labels_dir: Optional[PathLike] = None,
            splits_dir: Optional[PathLike] = None, nproc: int = 1,
            overwrite: bool = False) -> Dict[str, Any]:
    """Convert Pascal-Context-33; see the module docstring for the layouts.

    Args:
        raw_root: VOC2012 folder holding ``JPEGImages/``.
        labels_dir: Folder of the ``.mat`` label maps (default
            ``raw_root/trainval``).
        splits_dir: Folder of ``train.txt`` and ``val.txt`` (default
            ``raw_root``).
        out_dir, nproc, overwrite: As for :func:`.common.convert_pairs`.

    Returns:
        The summary of :func:`.common.summarise`.
    """
    raw_root = Path(raw_root)
    labels_dir = Path(labels_dir) if labels_dir else raw_root / 'trainval'
    require_dirs(raw_root, {'JPEGImages': 'VOC2012 *.jpg images'},
                 'Pascal-Context')
    if not labels_dir.is_dir():
        raise ConversionError(
            f'label map folder {labels_dir} (Pascal-Context *.mat files) '
            'does not exist; give it with --labels-dir')
    pairs = find_pairs(raw_root, labels_dir,
                       Path(splits_dir) if splits_dir else raw_root)
    return convert_pairs(pairs, read_pair, GEOMETRY, out_dir,
                         PASCAL_CONTEXT_33_CLASSES, nproc=nproc,
                         overwrite=overwrite,
                         paper_images=PAPER_IMAGES, desc='Pascal-Context-33')


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Command line entry point; returns the printed summary."""
    parser = converter_parser(__doc__, 'data/pascal_context_33')
    parser.add_argument('--labels-dir', type=Path,
                        help='folder of the *.mat label maps (default: '
                        'RAW_ROOT/trainval)')
    parser.add_argument('--splits-dir', type=Path,
                        help='folder of train.txt and val.txt (default: '
                        'RAW_ROOT)')
    return run_cli(parser, convert, argv)


if __name__ == '__main__':
    main()
