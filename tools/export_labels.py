"""Export the pixels a run has labelled.

    python tools/export_labels.py WORK_DIR OUT.csv|OUT.json [--round K]
        [--label-maps DIR] [--config CFG]

``OUT`` gets one row per labelled pixel (image, x, y, class, round, score,
path), in the format of the query files. ``--label-maps DIR`` also writes
a sparse PNG label map per labelled image (unlabelled pixels = 255) and
``DIR/split.txt``, to train any mmseg model on just those pixels, and
prints the mmseg dataset config that reads them. The labels are those
saved after the run's latest round, or after round ``K``.
"""
import argparse
import os
import posixpath
import sys
from typing import List, Optional, Sequence


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export the pixels a run has labelled')
    parser.add_argument('work_dir', help='the run\'s work directory')
    parser.add_argument('out', help='the .csv or .json file to write')
    parser.add_argument('--round', type=int, default=None, dest='round_idx',
                        help='export the labels saved after this round '
                        '(default: the latest)')
    parser.add_argument('--label-maps', metavar='DIR',
                        help='also write sparse PNG label maps and a split '
                        'file here')
    parser.add_argument('--config', help='the run\'s config (default: the '
                        'one the runner saved in WORK_DIR)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mmseg_al.annotation.saved_run import load_labels
    from mmseg_al.state import StateFileError
    from mmseg_al.state.annotations import annotation_format
    from mmseg_al.state.label_maps import write_label_maps
    try:
        annotation_format(args.out)
        store, pool = load_labels(args.work_dir, args.config,
                                  args.round_idx)
    except (ValueError, FileNotFoundError, StateFileError) as exc:
        print(f'export_labels: {exc}', file=sys.stderr)
        return 1
    path = store.export(args.out, dict(zip(pool.image_ids,
                                           pool.image_paths)))
    images = len(store.labelled_image_ids())
    print(f'{store.num_labelled} labelled pixels of {images} images '
          f'written to {path}')
    if args.label_maps:
        try:
            written = write_label_maps(store, args.label_maps)
        except ValueError as exc:
            print(f'export_labels: {exc}', file=sys.stderr)
            return 1
        print(f'{len(written) - 1} label maps and {written[-1]} written')
        print(dataset_recipe(store.labelled_image_ids(), pool,
                             args.label_maps, written[-1]))
    return 0


def dataset_recipe(image_ids: Sequence[str], pool, maps_dir: str,
                   split_file: str) -> str:
    """The mmseg dataset config that trains on the exported maps."""
    suffixes = sorted({posixpath.splitext(i)[1] for i in image_ids})
    if len(suffixes) != 1:
        return (f'The labelled images have the suffixes {suffixes}; an '
                'mmseg dataset reads one img_suffix, so make one dataset '
                'per suffix')
    dataset = dict(
        type='BaseSegDataset',
        data_prefix=dict(img_path=os.path.abspath(pool.image_dir),
                         seg_map_path=os.path.abspath(maps_dir)),
        ann_file=os.path.abspath(split_file),
        img_suffix=suffixes[0], seg_map_suffix='.png',
        reduce_zero_label=False,
        metainfo=dict(classes=tuple(pool.metainfo['classes'])))
    return f'An mmseg dataset that trains on them:\ndataset = {dataset!r}'


if __name__ == '__main__':
    sys.exit(main())
