"""Serve the web annotator until a round is fully answered.

uvicorn runs in a background thread so that the caller (the loop's
:class:`~mmseg_al.annotation.WebOracle`, or ``tools/annotate.py``) can log
the progress and stop the server once the last query is answered.
"""
import ipaddress
import logging
import secrets
import socket
import threading
import time
from typing import List, Optional, Sequence, Tuple

from .round_answers import RoundAnswers
from .web_app import build_app

#: Progress is logged every this many answers (and at the last one).
LOG_EVERY = 10


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def server_token(host: str,
                 token: Optional[str]) -> Tuple[Optional[str], bool]:
    """The token to require and whether it was generated here.

    A loopback server needs none; any other host gets a random token when
    none is given, since the page must never be open to the network. An
    empty token counts as none: ``--token "$TOKEN"`` with the variable
    unset must not open the server.
    """
    if token:
        return token, False
    if is_loopback(host):
        return None, False
    return secrets.token_urlsafe(16), True


def server_names(host: str, extra: Sequence[str] = ()) -> List[str]:
    """The host names a server bound to ``host`` answers to (IP addresses
    always pass the check): ``localhost``, the bind name, this machine's
    names when it listens beyond loopback, and ``extra`` (a DNS alias, a
    proxy's name)."""
    names = ['localhost', host]
    if not is_loopback(host):
        names += [socket.gethostname(), socket.getfqdn()]
    return list(dict.fromkeys(names + list(extra)))


class AnnotationServer:
    """The annotator of one round, served from a background thread.

    Args:
        answers: the pending round's answers.
        host: interface to bind; anything but loopback requires a token.
        port: TCP port (0: any free port).
        token: secret every request must carry (generated for a
            non-loopback host when None or empty).
        logger: where the URL and the progress go.
        allowed_hosts: more host names the page may be opened by (see
            :func:`server_names`).
    """

    def __init__(self, answers: RoundAnswers, host: str = '127.0.0.1',
                 port: int = 8765, token: Optional[str] = None,
                 logger: Optional[logging.Logger] = None,
                 allowed_hosts: Sequence[str] = ()) -> None:
        import uvicorn  # the caller checked the extra (build_app)
        self.answers = answers
        self.host = host
        self.token, self.generated_token = server_token(host, token)
        self.logger = logger or logging.getLogger(__name__)
        self.done = threading.Event()
        self._logged = 0
        app = build_app(answers, self.token,
                        server_names(host, allowed_hosts), self._on_answer)
        self._server = uvicorn.Server(uvicorn.Config(
            app, host=host, port=port, log_level='warning',
            access_log=False))
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        return self._server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        """The page's address (with the token); a wildcard bind address is
        replaced by this machine's name."""
        host = socket.gethostname() if self.host in ('0.0.0.0', '::') \
            else self.host
        host = f'[{host}]' if ':' in host else host
        query = '' if self.token is None else f'?token={self.token}'
        return f'http://{host}:{self.port}/{query}'

    def _on_answer(self, answered: int) -> None:
        total = len(self.answers)
        if answered >= total or answered - self._logged >= LOG_EVERY:
            self._logged = answered
            self.logger.info(f'Round {self.answers.round_idx}: {answered} '
                             f'of {total} queries answered')
        if answered >= total:
            self.done.set()

    def start(self) -> None:
        """Bind and serve; OSError when the port cannot be bound."""
        self._thread = threading.Thread(target=self._run,
                                        name='annotation-server',
                                        daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise OSError(
                    f'the annotation server could not listen on '
                    f'{self.host}:{self._server.config.port} (port in use? '
                    'choose another with port=... / --port)')
            time.sleep(0.05)

    def _run(self) -> None:
        try:
            self._server.run()
        except SystemExit:  # uvicorn's way to fail a bind, seen by start()
            pass

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join()

    def serve_until_answered(self) -> None:
        """Serve, log the URL, and return once every query is answered
        (at once if it already is); the server is stopped on return."""
        answered = self.answers.num_answered()
        if answered >= len(self.answers):
            return
        self.start()
        try:
            if self.generated_token:
                self.logger.warning(
                    f'Serving on {self.host}, beyond this machine: every '
                    f'request must carry the token {self.token}')
            self.logger.info(
                f'Round {self.answers.round_idx}: annotate {len(self.answers)}'
                f' pixels ({answered} answered) at {self.url}')
            self.done.wait()
        finally:
            self.stop()
