"""Export the pixels a run has labelled.

    python tools/export_labels.py WORK_DIR OUT.csv|OUT.json [--round K]
        [--label-maps DIR [--clicks-only]] [--config CFG]

``OUT`` gets one row per click (image, x, y, class, round, score, path),
in the format of the query files. ``--label-maps DIR`` (a new or empty
folder, or an earlier export) also writes a sparse PNG label map per
labelled image (unlabelled pixels = 255) and ``DIR/split.txt``, to train
any mmseg model on just those pixels, and prints the mmseg dataset config
that reads them. With region expansion the maps hold the clicks and their
expanded pixels (``--clicks-only``: the clicks alone). The labels are those
saved after the run's latest round, or after round ``K``. Neither may lie
in the run's ``al_state/`` or ``queries/`` or replace its records: the tool
refuses before writing anything.
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
    parser.add_argument('--clicks-only', action='store_true',
                        help='label maps of the clicks alone, without the '
                        'expanded pixels of region expansion')
    parser.add_argument('--config', help='the run\'s config (default: the '
                        'one the runner saved in WORK_DIR)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mmseg_al.annotation.saved_run import load_labels
    from mmseg_al.state import StateFileError
    from mmseg_al.state.annotations import annotation_format
    from mmseg_al.state.label_maps import write_label_maps
    written: List[str] = []
    try:
        annotation_format(args.out)
        check_outside_run(args.work_dir, args.out)
        if args.label_maps:
            check_outside_run(args.work_dir, args.label_maps)
        if os.path.isdir(args.out):
            raise ValueError(f'{args.out} is a folder; name the .csv or '
                             '.json file to write')
        store, pool = load_labels(args.work_dir, args.config,
                                  args.round_idx)
        if args.label_maps:  # first: it refuses before writing anything
            written = write_label_maps(store, args.label_maps,
                                       args.clicks_only)
        path = store.export(args.out, dict(zip(pool.image_ids,
                                               pool.image_paths)))
    except (ValueError, OSError, StateFileError) as exc:
        print(f'export_labels: {exc}', file=sys.stderr)
        return 1
    images = len(store.labelled_image_ids())
    print(f'{store.num_clicks} labelled pixels of {images} images '
          f'written to {path}')
    if args.label_maps:
        print(f'{len(written) - 1} label maps and {written[-1]} written')
        if store.num_expanded and not args.clicks_only:
            print(f'The label maps also hold {store.num_expanded} expanded '
                  'pixels (the clicks\' accepted regions; --clicks-only '
                  'leaves them out)')
        print(dataset_recipe(store.labelled_image_ids(), pool,
                             args.label_maps, written[-1]))
    return 0


def check_outside_run(work_dir: str, path: str) -> None:
    """Refuse an output in the run's state or query folders or on one of
    its records, symlinks resolved: an export must not replace them."""
    from mmseg_al.state import RunDir
    run_dir = RunDir(work_dir)
    real = os.path.realpath(path)
    for record in run_dir.records():
        kept = os.path.realpath(record)
        if os.path.commonpath([real, kept]) == kept:
            raise ValueError(
                f'{path} is {"" if real == kept else "inside "}{kept}, '
                'which the run keeps for itself; export outside its '
                f'{RunDir.STATE_DIR}/ and {RunDir.QUERY_DIR}/ folders and '
                'records')


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
