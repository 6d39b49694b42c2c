"""Convert the bedroom scenes of ADE20K to ADE-Bed, 256x256 mmseg layout.

Expected RAW_ROOT (ADEChallengeData2016.zip):
  images/{training,validation}/ADE_*.jpg
  annotations/{training,validation}/ADE_*.png   ids 0..150, 0 = other
  objectInfo150.csv     columns Idx,Ratio,Train,Val,Name ('floor;flooring')
  sceneCategories.txt   lines 'ADE_train_00000001 airport_terminal'
Only scene 'bedroom' is kept: training/ -> train, validation/ -> test (the
paper reports 964 / 650; the summary prints what was produced).
The 150 classes map by name onto the 30 bedroom classes, everything else
(and 0) to 255: a bedroom class takes the ADE class whose first name (before
';') equals it, or, if none does, the single class listing it as a synonym.
So 'coffee;table;...' stays void rather than becoming 'table'.
Shorter side to 256 (bilinear images, nearest labels), then centre crop
256x256.
"""
import csv
import sys
from functools import partial
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

if not __package__:  # run as a script: make ``tools`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmseg_al.datasets.metainfo import ADE_BED_CLASSES  # noqa: E402
from tools.dataset_converters.common import (  # noqa: E402
    OUT_SIZE, ConversionError, Geometry, Pair, PathLike, convert_pairs,
    converter_parser, lookup_table, read_png_pair,
    require_dirs, require_files, run_cli)

NUM_ADE_CLASSES = 150
SCENE = 'bedroom'
#: Image name prefix -> (raw split folder, output split).
SPLITS = {'ADE_train_': ('training', 'train'),
          'ADE_val_': ('validation', 'test')}
#: Images per split in the paper, printed beside the counts produced.
PAPER_IMAGES = {'train': 964, 'test': 650}
GEOMETRY = Geometry(shorter_side=OUT_SIZE, crop=(OUT_SIZE, OUT_SIZE))


def read_class_names(csv_path: Path) -> Dict[int, List[str]]:
    """ADE class index (1..150) -> its names, first name first."""
    names = {}
    with open(csv_path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        if not {'Idx', 'Name'} <= set(reader.fieldnames or ()):
            raise ConversionError(
                f'{csv_path} must start with a header naming the Idx and '
                f'Name columns; found {reader.fieldnames}')
        for line_no, row in enumerate(reader, start=2):
            try:
                index = int(row['Idx'])
            except (TypeError, ValueError):
                raise ConversionError(f'{csv_path}:{line_no}: Idx '
                                      f'{row["Idx"]!r} is not an integer'
                                      ) from None
            if not 1 <= index <= NUM_ADE_CLASSES or index in names:
                raise ConversionError(
                    f'{csv_path}:{line_no}: Idx {index} is out of 1..'
                    f'{NUM_ADE_CLASSES} or repeated')
            names[index] = [name.strip() for name in
                            (row['Name'] or '').split(';')]
    if len(names) != NUM_ADE_CLASSES:
        raise ConversionError(f'{csv_path} lists {len(names)} classes; '
                              f'expected Idx 1..{NUM_ADE_CLASSES}')
    return names


def bedroom_table(class_names: Mapping[int, Sequence[str]]) -> np.ndarray:
    """ADE id (0..150) -> bedroom class id, 255 for the other classes.

    Args:
        class_names: ADE class index -> names, as from
            :func:`read_class_names`.
    """
    mapping = {}
    for bedroom_id, name in enumerate(ADE_BED_CLASSES):
        matches = ([i for i, names in class_names.items()
                    if names[0] == name]
                   or [i for i, names in class_names.items()
                       if name in names[1:]])
        if len(matches) != 1:
            raise ConversionError(
                f'bedroom class {name!r} matches ADE classes {matches} of '
                'objectInfo150.csv; expected exactly one (by first name, '
                'else by synonym)')
        if matches[0] in mapping:
            raise ConversionError(
                f'ADE class {matches[0]} {class_names[matches[0]]} matches '
                f'both {ADE_BED_CLASSES[mapping[matches[0]]]!r} and {name!r}')
        mapping[matches[0]] = bedroom_id
    return lookup_table(mapping, num_raw_ids=NUM_ADE_CLASSES + 1)


def read_scene_images(scene_path: Path, scene: str = SCENE) -> List[str]:
    """Names of the images of ``scene``, in file order."""
    images = []
    with open(scene_path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise ConversionError(
                    f'{scene_path}:{line_no}: expected "IMAGE_NAME SCENE", '
                    f'got {line.strip()!r}')
            if fields[1] == scene:
                images.append(fields[0])
    return images


def find_pairs(raw_root: Path, scene_images: Sequence[str]) -> List[Pair]:
    """Pairs of the given images, split by their name prefix."""
    pairs = []
    for name in scene_images:
        split = next((value for prefix, value in SPLITS.items()
                      if name.startswith(prefix)), None)
        if split is None:
            raise ConversionError(
                f'sceneCategories.txt names image {name!r}, which starts '
                f'with none of {list(SPLITS)}')
        raw_split, out_split = split
        pairs.append(
            Pair(out_split, raw_root / 'images' / raw_split / f'{name}.jpg',
                 raw_root / 'annotations' / raw_split / f'{name}.png',
                 f'img_dir/{out_split}/{name}.png',
                 f'ann_dir/{out_split}/{name}.png'))
    for raw_split, out_split in SPLITS.values():
        if not any(pair.split == out_split for pair in pairs):
            raise ConversionError(
                f'sceneCategories.txt lists no {SCENE!r} image of '
                f'{raw_split}/')
    require_files((pair.image for pair in pairs), f'{SCENE} images')
    require_files((pair.label for pair in pairs), f'{SCENE} annotations')
    return pairs


def convert(raw_root: PathLike, out_dir: PathLike = 'data/ade_bed',
            nproc: int = 1, overwrite: bool = False) -> Dict[str, Any]:
    """Convert ADE20K bedrooms; see the module docstring for the layouts.

    Args:
        raw_root: The ``ADEChallengeData2016/`` folder.
        out_dir, nproc, overwrite: As for :func:`.common.convert_pairs`.

    Returns:
        The summary of :func:`.common.summarise`.
    """
    raw_root = Path(raw_root)
    require_dirs(raw_root, {
        f'{top}/{raw_split}': f'{raw_split} {what}'
        for raw_split, _ in SPLITS.values()
        for top, what in (('images', 'ADE_*.jpg'),
                          ('annotations', 'ADE_*.png'))
    }, 'ADE20K (ADEChallengeData2016)')
    csv_path = raw_root / 'objectInfo150.csv'
    scene_path = raw_root / 'sceneCategories.txt'
    require_files([csv_path, scene_path], 'ADE20K index files')
    table = bedroom_table(read_class_names(csv_path))
    pairs = find_pairs(raw_root, read_scene_images(scene_path))
    return convert_pairs(pairs, partial(read_png_pair, table=table), GEOMETRY,
                         out_dir, ADE_BED_CLASSES, nproc=nproc,
                         overwrite=overwrite,
                         paper_images=PAPER_IMAGES, desc='ADE-Bed')


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Command line entry point; returns the printed summary."""
    return run_cli(converter_parser(__doc__, 'data/ade_bed'), convert, argv)


if __name__ == '__main__':
    main()
