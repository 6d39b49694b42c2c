"""A person answers each round in the browser, while the run waits."""
from typing import Optional, Sequence

import numpy as np
from mmengine.dist import barrier, is_main_process
from mmengine.logging import MMLogger

from .query_round import QueryRound
from mmseg_al.registry import TASK_UTILS
from .round_answers import RoundAnswers
from .web_app import require_annotate_extra


@TASK_UTILS.register_module()
class WebOracle:
    """Serve the round's queries in the web annotator; continue when done.

    The URL and the progress go to the log. Answers are stored one by one
    in the round's query file (see :class:`RoundAnswers`), so a closed
    browser or an interrupted run loses none: ``--resume`` serves the same
    round again with its answers. Needs ``pip install mmseg-al[annotate]``.

    In a distributed run the main rank serves and the other ranks wait at a
    barrier, whose timeout (the process group's, 30 minutes by default)
    must outlast the annotation; for long sessions stop the run with
    ``FileOracle`` and answer with ``tools/annotate.py`` instead.

    Args:
        host: interface to bind. Anything but loopback (the default)
            requires a token.
        port: TCP port (0: any free port, as logged).
        token: secret every request must carry; for a non-loopback host a
            random one is generated (and logged) when None or empty.
        allowed_hosts: host names, besides this machine's, that the page
            may be opened by (a DNS alias, a proxy); IP addresses always
            may.
    """

    wants_guesses = True

    def __init__(self, host: str = '127.0.0.1', port: int = 8765,
                 token: Optional[str] = None,
                 allowed_hosts: Sequence[str] = ()) -> None:
        require_annotate_extra()
        self.host = host
        self.port = port
        self.token = token
        self.allowed_hosts = list(allowed_hosts)

    def annotate(self, queries: QueryRound) -> np.ndarray:
        """Classes ``[n]`` int64 of the queried pixels, in query order."""
        from .annotation_server import AnnotationServer
        answers = RoundAnswers(queries)
        if is_main_process():
            AnnotationServer(answers, self.host, self.port, self.token,
                             MMLogger.get_current_instance(),
                             self.allowed_hosts).serve_until_answered()
        barrier()  # the other ranks read the answers once they are all in
        return answers.classes()

    def accepted_regions(self, queries: QueryRound) -> np.ndarray:
        """The regions the person accepted in the page (``'accept'``)."""
        return RoundAnswers(queries).accepted_regions()
