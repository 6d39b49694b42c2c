"""Answer the pending round of a stopped run in the web annotator.

    python tools/annotate.py WORK_DIR [--config CFG] [--host 127.0.0.1]
        [--port 8765] [--token TOKEN] [--allowed-host NAME ...]

A run with ``oracle=dict(type='FileOracle')`` stops after selecting a
round's pixels. This serves that round in the browser (open the printed
URL); every answer is saved at once into the round's query file, so the
page can be closed and reopened at any time. When the last pixel is
answered the server stops, and the run continues with
``python tools/al_train.py CONFIG --work-dir WORK_DIR --resume``. While it
serves, the work dir is locked like a running run's: a second annotator,
a Label Studio import or the run itself is refused, naming this process.

Binding any other host than 127.0.0.1 requires a token: give one with
``--token`` or use the generated one printed at start (an empty
``--token`` counts as none). The page then opens by this machine's name or
any of its IP addresses; other names (a DNS alias, a proxy) need
``--allowed-host``. Needs ``pip install mmseg-al[annotate]``.

Exit status: 0 when every pixel is answered; 1 on errors (the message
names the file or the process in the way).
"""
import argparse
import logging
import sys
from typing import List, Optional


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Serve the pending round of a run in the web annotator')
    parser.add_argument('work_dir', help='the stopped run\'s work directory')
    parser.add_argument('--config', help='the run\'s config (default: the '
                        'one the runner saved in WORK_DIR)')
    parser.add_argument('--host', default='127.0.0.1',
                        help='interface to bind (default: this machine '
                        'only); any other needs a token')
    parser.add_argument('--port', type=int, default=8765, help='TCP port')
    parser.add_argument('--token', help='secret every request must carry '
                        '(generated for a non-local host when omitted or '
                        'empty)')
    parser.add_argument('--allowed-host', action='append', default=[],
                        metavar='NAME', help='another host name the page '
                        'is opened by (repeatable)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mmseg_al.annotation.annotation_server import AnnotationServer
    from mmseg_al.annotation.saved_run import pending_answers
    from mmseg_al.annotation.web_app import require_annotate_extra
    from mmseg_al.state.work_dir_lock import WorkDirLockedError
    require_annotate_extra()
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    try:
        with pending_answers(args.work_dir, args.config) as answers:
            AnnotationServer(answers, args.host, args.port, args.token,
                             logging.getLogger('annotate'),
                             args.allowed_host).serve_until_answered()
            answers.classes()  # validates the whole file as the run will
    except (OSError, ValueError, WorkDirLockedError) as exc:
        print(f'annotate: {exc}', file=sys.stderr)
        return 1
    print(f'Round {answers.round_idx}: all {len(answers)} pixels are '
          f'answered in {answers.path}. Continue the run with '
          f'python tools/al_train.py CONFIG --work-dir {args.work_dir} '
          '--resume')
    return 0


if __name__ == '__main__':
    sys.exit(main())
