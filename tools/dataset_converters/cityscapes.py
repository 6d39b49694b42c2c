"""Convert Cityscapes (gtFine) to 256x256 mmseg layout.

Expected RAW_ROOT (leftImg8bit_trainvaltest.zip + gtFine_trainvaltest.zip):
  leftImg8bit/{train,val}/CITY/STEM_leftImg8bit.png   2975 / 500 images
  gtFine/{train,val}/CITY/STEM_gtFine_labelIds.png    label ids 0..33
Output (mmseg's CityscapesDataset suffixes):
  leftImg8bit/{train,val}/CITY/STEM_leftImg8bit.png
  gtFine/{train,val}/CITY/STEM_gtFine_labelTrainIds.png
Label ids become the 19 train ids (cityscapesscripts.helpers.labels), all
other ids 255. Images (bilinear) and labels (nearest) are resized to
512x256, then centre-cropped to 256x256. Image and label are paired by
CITY/STEM; an image without its label, or a label without its image, is an
error naming it.
"""
import sys
from functools import partial
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from cityscapesscripts.helpers.labels import labels as CITYSCAPES_LABELS

if not __package__:  # run as a script: make ``tools`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmseg.datasets import CityscapesDataset  # noqa: E402
from tools.dataset_converters.common import (  # noqa: E402
    OUT_SIZE, ConversionError, Geometry, Pair, PathLike, check_partners,
    convert_pairs, converter_parser, lookup_table, read_png_pair,
    require_dirs, run_cli)

SPLITS = ('train', 'val')
IMAGE_SUFFIX = '_leftImg8bit.png'
RAW_LABEL_SUFFIX = '_gtFine_labelIds.png'
OUT_LABEL_SUFFIX = '_gtFine_labelTrainIds.png'
CLASSES = CityscapesDataset.METAINFO['classes']
#: Label id -> train id for the 19 evaluated classes; ids 0..33 are valid.
LABEL_TABLE = lookup_table(
    {label.id: label.trainId for label in CITYSCAPES_LABELS
     if label.id >= 0 and 0 <= label.trainId < len(CLASSES)},
    num_raw_ids=max(label.id for label in CITYSCAPES_LABELS) + 1)
#: Images per split in the paper, printed beside the counts produced.
PAPER_IMAGES = {'train': 2975, 'val': 500}
GEOMETRY = Geometry(resize=(2 * OUT_SIZE, OUT_SIZE),
                    crop=(OUT_SIZE, OUT_SIZE))


def find_pairs(raw_root: Path) -> List[Pair]:
    """List the train and val pairs, matched by CITY/STEM."""
    require_dirs(raw_root, {
        f'{top}/{split}': f'{what} of CITY/ folders'
        for split in SPLITS
        for top, what in (('leftImg8bit', f'{split} images'),
                          ('gtFine', f'{split} *{RAW_LABEL_SUFFIX}'))
    }, 'Cityscapes')
    pairs = []
    for split in SPLITS:
        image_dir = raw_root / 'leftImg8bit' / split
        label_dir = raw_root / 'gtFine' / split
        images = sorted(image_dir.glob(f'*/*{IMAGE_SUFFIX}'))
        if not images:
            raise ConversionError(f'no CITY/*{IMAGE_SUFFIX} images in '
                                  f'{image_dir}')
        label_of_image = {
            image: label_dir / (_city_stem(image) + RAW_LABEL_SUFFIX)
            for image in images
        }
        check_partners(label_of_image,
                       label_dir.glob(f'*/*{RAW_LABEL_SUFFIX}'), image_dir)
        pairs += [
            Pair(split, image, label,
                 f'leftImg8bit/{split}/{_city_stem(image)}{IMAGE_SUFFIX}',
                 f'gtFine/{split}/{_city_stem(image)}{OUT_LABEL_SUFFIX}')
            for image, label in label_of_image.items()
        ]
    return pairs


def _city_stem(image: Path) -> str:
    """``CITY/STEM`` of a ``CITY/STEM_leftImg8bit.png`` image."""
    return f'{image.parent.name}/{image.name[:-len(IMAGE_SUFFIX)]}'


def convert(raw_root: PathLike, out_dir: PathLike = 'data/cityscapes_256',
            nproc: int = 1, overwrite: bool = False) -> Dict[str, Any]:
    """Convert Cityscapes; see the module docstring for the layouts.

    Args:
        raw_root: Folder holding ``leftImg8bit/`` and ``gtFine/``.
        out_dir, nproc, overwrite: As for :func:`.common.convert_pairs`.

    Returns:
        The summary of :func:`.common.summarise`.
    """
    return convert_pairs(find_pairs(Path(raw_root)),
                         partial(read_png_pair, table=LABEL_TABLE),
                         GEOMETRY, out_dir, CLASSES, nproc=nproc,
                         overwrite=overwrite,
                         paper_images=PAPER_IMAGES, desc='Cityscapes')


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Command line entry point; returns the printed summary."""
    return run_cli(converter_parser(__doc__, 'data/cityscapes_256'), convert,
                   argv)


if __name__ == '__main__':
    main()
