"""The web annotator: a small Starlette app over a pending round.

The page (static HTML, CSS and JavaScript shipped in ``static/``, no build
step, no network) shows one query at a time; the API behind it:

* ``GET /api/round``: the round, the classes with their colours, whether
  regions are proposed (``regions``) and every query (``id, image, x, y,
  width, height, class, guesses, region``);
* ``GET /api/image?id=IMAGE_ID``: the pool image as the model sees it, PNG;
  only images queried in this round, looked up by id (never a path);
* ``GET /api/regions/{id}``: with region expansion, the region proposed
  for a query, ``{"pixels": [flat pixel, ...]}``;
* ``PUT /api/answers/{id}`` with ``{"round": r, "class": c}`` (and, with
  region expansion, ``"region": "accept"`` or ``"pixel"``): store one
  answer (``c`` null clears it); 404 unknown query, 409 another round,
  422 invalid class or region choice, 400 malformed body (``r`` not an
  integer, JSON nested too deeply, ...).

With a token every request must carry it: ``?token=`` (the page then
keeps it in a cookie), or an ``X-Token`` header. A request whose ``Host``
header is a name the server was not told about is refused (DNS rebinding:
a page of another site whose name now points at this machine).

Starlette is an optional dependency (``pip install mmseg-al[annotate]``),
imported only when an app is built.
"""
import ipaddress
import json
import os
import secrets
from typing import Callable, Dict, List, Optional, Sequence

import cv2
import numpy as np

from .round_answers import AnswerError, RoundAnswers

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          'static')
TOKEN_COOKIE = 'mmseg_al_token'
INSTALL_HINT = 'pip install mmseg-al[annotate]'


def require_annotate_extra() -> None:
    """Fail clearly when the optional server libraries are missing."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f'The web annotator needs Starlette and uvicorn ({exc}); '
            f'install them with: {INSTALL_HINT}') from None


def class_table(metainfo: dict, num_classes: int) -> List[dict]:
    """``[{id, name, color}]`` of the dataset's classes, colours as
    ``#rrggbb`` from its (RGB) palette."""
    names: Sequence[str] = metainfo['classes']
    palette = metainfo['palette']
    if len(names) != num_classes or len(palette) < num_classes:
        raise ValueError(
            f'the dataset lists {len(names)} classes and {len(palette)} '
            f'colours for a {num_classes}-class model')
    return [dict(id=i, name=str(names[i]),
                 color='#{:02x}{:02x}{:02x}'.format(*palette[i]))
            for i in range(num_classes)]


def image_png(images, image_id: str) -> bytes:
    """The pool image ``image_id`` as the model sees it, PNG-encoded."""
    bgr = np.ascontiguousarray(images.rgb(image_id)[..., ::-1])
    ok, data = cv2.imencode('.png', bgr)
    if not ok:
        raise OSError(f'could not encode image {image_id!r} as PNG')
    return data.tobytes()


def build_app(answers: RoundAnswers, token: Optional[str] = None,
              allowed_hosts: Optional[Sequence[str]] = None,
              on_answer: Optional[Callable[[int], None]] = None):
    """The ASGI app annotating ``answers``' round.

    Args:
        answers: the pending round's answers.
        token: required on every request when given.
        allowed_hosts: host names accepted in the ``Host`` header besides
            IP addresses (see :class:`HostCheck`); None accepts any.
        on_answer: called with the number of answered queries after each
            stored answer.

    Returns:
        A Starlette application.
    """
    require_annotate_extra()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    queries = answers.queries
    classes = class_table(queries.images.metainfo, queries.num_classes)
    round_images = set(queries.image_ids)
    pngs: Dict[str, bytes] = {}

    def error(message: str, status: int) -> JSONResponse:
        return JSONResponse({'error': message}, status_code=status)

    async def index(request: Request) -> Response:
        response = FileResponse(os.path.join(STATIC_DIR, 'index.html'))
        if token is not None:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True,
                                samesite='strict')
        return response

    def round_info(request: Request) -> JSONResponse:
        return JSONResponse(dict(
            round=answers.round_idx, classes=classes,
            ignore_index=queries.ignore_index,
            regions=queries.regions is not None,
            queries=answers.queries_view()))

    def region(request: Request) -> JSONResponse:
        query_id = request.path_params['query_id']
        if queries.regions is None:
            return error(f'round {answers.round_idx} proposes no regions '
                         '(train_cfg.expansion is off)', 404)
        if not 0 <= query_id < len(queries.regions):
            return error(f'unknown query id {query_id}: round '
                         f'{answers.round_idx} has the queries 0 .. '
                         f'{len(queries.regions) - 1}', 404)
        return JSONResponse(dict(
            pixels=queries.regions[query_id].tolist()))

    def image(request: Request) -> Response:
        image_id = request.query_params.get('id')
        if image_id not in round_images:
            return error(f'image {image_id!r} is not queried in round '
                         f'{answers.round_idx}', 404)
        if image_id not in pngs:
            pngs[image_id] = image_png(queries.images, image_id)
        return Response(pngs[image_id], media_type='image/png',
                        headers={'Cache-Control': 'private, max-age=3600'})

    async def answer(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
            if not isinstance(body, dict) or not {'round', 'class'} <= set(
                    body) <= {'round', 'class', 'region'}:
                raise ValueError
        except (ValueError, RecursionError):  # RecursionError: too deep
            return error('expected a JSON object {"round": r, "class": c} '
                         '(c null to clear the answer), with "region": '
                         '"accept" or "pixel" when regions are proposed',
                         400)
        try:
            answered = await run_in_threadpool(
                answers.answer, request.path_params['query_id'],
                body['class'], body['round'], body.get('region'))
        except AnswerError as exc:
            return error(str(exc), exc.status)
        if on_answer is not None:
            on_answer(answered)
        return JSONResponse(dict(answered=answered, total=len(answers)))

    middleware = []
    if allowed_hosts is not None:
        middleware.append(Middleware(HostCheck, names=allowed_hosts))
    if token is not None:
        middleware.append(Middleware(TokenCheck, token=token))
    return Starlette(routes=[
        Route('/', index),
        Route('/api/round', round_info),
        Route('/api/image', image),
        Route('/api/regions/{query_id:int}', region),
        Route('/api/answers/{query_id:int}', answer, methods=['PUT']),
        Mount('/static', StaticFiles(directory=STATIC_DIR)),
    ], middleware=middleware)


def _host_name(host: str) -> str:
    """The name or address of a ``Host`` header, without port or
    brackets."""
    if host.startswith('['):
        return host[1:].partition(']')[0]
    return host.rpartition(':')[0] if ':' in host else host


class HostCheck:
    """ASGI middleware: refuse (400) a ``Host`` header naming another site.

    A page of another site whose name the attacker points at this machine
    (DNS rebinding) sends that name, never an IP address: addresses pass,
    names must be listed.

    Args:
        app: the wrapped ASGI app.
        names: the host names of this server.
    """

    def __init__(self, app, names: Sequence[str]) -> None:
        self.app = app
        self.names = {name.lower() for name in names}

    async def __call__(self, scope, receive, send) -> None:
        if scope['type'] == 'http':
            from starlette.datastructures import Headers
            from starlette.responses import PlainTextResponse
            name = _host_name(Headers(scope=scope).get('host', '')).lower()
            try:
                ipaddress.ip_address(name)
            except ValueError:
                if name not in self.names:
                    response = PlainTextResponse(
                        f'this server does not answer to the host name '
                        f'{name!r}: open the URL it printed, or allow the '
                        'name with allowed_hosts=[...] / --allowed-host',
                        status_code=400)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class TokenCheck:
    """ASGI middleware: refuse (401) any request without the token.

    Args:
        app: the wrapped ASGI app.
        token: the secret, taken from ``?token=``, the ``X-Token`` header
            or the page's cookie.
    """

    def __init__(self, app, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope, receive, send) -> None:
        if scope['type'] == 'http':
            from starlette.requests import Request
            from starlette.responses import PlainTextResponse
            request = Request(scope)
            given = (request.query_params.get('token')
                     or request.headers.get('x-token')
                     or request.cookies.get(TOKEN_COOKIE) or '')
            if not secrets.compare_digest(given.encode(),
                                          self.token.encode()):
                response = PlainTextResponse(
                    'missing or wrong token: open the URL with ?token=... '
                    'that the annotation server printed', status_code=401)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
