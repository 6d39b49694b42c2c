"""Answer a stopped run's pending round in Label Studio.

    python tools/label_studio.py export WORK_DIR OUT_DIR [--config CFG]
        [--url-prefix PREFIX]
    python tools/label_studio.py import WORK_DIR EXPORT.json [--config CFG]
        [--require-agreement]

``export`` writes a Label Studio project for the round a run with
``oracle=dict(type='FileOracle')`` stopped on: ``config.xml`` (the classes
as keypoint labels), ``tasks.json`` (one task per image, its queried
pixels as pre-annotated points), ``images/`` and ``README.txt`` (how to
serve the images). ``import`` reads the project's JSON (or JSON-MIN)
export back into the round's query file, all or nothing, with the work
dir locked as a run locks it; then continue the run with
``python tools/al_train.py CONFIG --work-dir WORK_DIR --resume``.

With several annotators per task the latest annotation wins (by
``updated_at``, then ``created_at``, then id); ``--require-agreement``
makes any disagreement an error.

Exit status: 0 on success; 1 when the export is refused (every problem is
listed with its task, nothing is imported) or on other errors.
"""
import argparse
import sys
from typing import List, Optional


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Label Studio round trip of a run\'s pending round')
    commands = parser.add_subparsers(dest='command', required=True)
    export = commands.add_parser('export', help='write a Label Studio '
                                 'project for the pending round')
    export.add_argument('work_dir', help='the stopped run\'s work directory')
    export.add_argument('out_dir', help='where the project files go')
    export.add_argument(
        '--url-prefix', default=None,
        help='prepended to the image file names in the tasks (default: '
        'Label Studio\'s local files, /data/local-files/?d=images/)')
    imported = commands.add_parser('import', help='read a Label Studio JSON '
                                   'export back into the round\'s answers')
    imported.add_argument('work_dir', help='the stopped run\'s work '
                          'directory')
    imported.add_argument('export', help='the project exported as JSON or '
                          'JSON-MIN')
    imported.add_argument('--require-agreement', action='store_true',
                          help='refuse pixels that several annotations '
                          'label differently')
    for sub in (export, imported):
        sub.add_argument('--config', help='the run\'s config (default: the '
                         'one the runner saved in WORK_DIR)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mmseg_al.state.work_dir_lock import WorkDirLockedError
    try:
        return run_export(args) if args.command == 'export' else \
            run_import(args)
    except (OSError, ValueError, WorkDirLockedError) as exc:
        print(f'label_studio: {exc}', file=sys.stderr)
        return 1


def run_export(args: argparse.Namespace) -> int:
    from mmseg_al.annotation import label_studio
    from mmseg_al.annotation.round_answers import RoundAnswers
    from mmseg_al.annotation.saved_run import load_pending_round
    answers = RoundAnswers(load_pending_round(args.work_dir, args.config))
    written = label_studio.export_project(
        answers, args.out_dir,
        args.url_prefix or label_studio.LOCAL_FILES_PREFIX)
    print(f'Round {answers.round_idx}: {len(answers)} pixels exported; '
          f'see {written[-1]} for the next steps')
    return 0


def run_import(args: argparse.Namespace) -> int:
    from mmseg_al.annotation.label_studio import import_answers
    from mmseg_al.annotation.saved_run import pending_answers
    with pending_answers(args.work_dir, args.config) as answers:
        stored = import_answers(args.export, answers, args.require_agreement)
        answers.classes()  # validates the whole file as the run will
    print(f'Round {answers.round_idx}: {stored} answers stored in '
          f'{answers.path}. Continue the run with python tools/al_train.py '
          f'CONFIG --work-dir {args.work_dir} --resume')
    return 0


if __name__ == '__main__':
    sys.exit(main())
