"""The web annotator's HTTP API (Starlette's TestClient) and its server."""
import logging
import socket
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

from mmengine.logging import MMLogger

from mmseg_al.annotation import RoundAnswers, WebOracle
from mmseg_al.annotation.annotation_server import (AnnotationServer,
                                                   server_token)
from mmseg_al.annotation.web_app import build_app, require_annotate_extra
from mmseg_al.annotation import FileOracle
from .conftest import (PAIRS, ROUND, NamedPool, fill_classes, make_round,
                       saved_state)
from .live_run import free_port

pytest.importorskip('starlette', reason='needs pip install mmseg-al[annotate]')
httpx = pytest.importorskip('httpx2', reason='TestClient needs httpx2')
from starlette.testclient import TestClient  # noqa: E402

CLASSES = [2, 255, 0, 1]
BAD_BODY = ('expected a JSON object {"round": r, "class": c} (c null to '
            'clear the answer), with "region": "accept" or "pixel" when '
            'regions are proposed')


def client_for(queries, **kwargs):
    return TestClient(build_app(RoundAnswers(queries), **kwargs))


def test_a_round_answered_through_the_api_equals_file_oracle(tmp_path):
    by_web = make_round(tmp_path / 'web')
    client = client_for(by_web)
    for query_id, cls in enumerate(CLASSES):
        response = client.put(f'/api/answers/{query_id}',
                              json={'round': ROUND, 'class': cls})
        assert response.status_code == 200
        assert response.json() == {'answered': query_id + 1, 'total': 4}
    by_hand = make_round(tmp_path / 'hand')
    fill_classes(by_hand.query_file, CLASSES)
    file_classes = FileOracle().annotate(by_hand)
    web_classes = RoundAnswers(by_web).classes()
    assert web_classes.tolist() == file_classes.tolist() == CLASSES
    np.testing.assert_equal(saved_state(tmp_path / 'a', by_web, web_classes),
                            saved_state(tmp_path / 'b', by_hand, file_classes))


def test_round_info_lists_classes_queries_and_guesses(tmp_path):
    guesses = [[(1, 0.5), (0, 0.25), (2, 0.25)]] * 4
    info = client_for(make_round(tmp_path, guesses=guesses)).get(
        '/api/round').json()
    assert info['round'] == ROUND and info['ignore_index'] == 255
    assert info['classes'] == [
        {'id': 0, 'name': 'sky', 'color': '#4682b4'},
        {'id': 1, 'name': 'road', 'color': '#804080'},
        {'id': 2, 'name': 'car', 'color': '#00008e'}]
    assert info['queries'][3] == {
        'id': 3,
        'image': 'train/0001.png',
        'x': 4,
        'y': 3,
        'width': 5,
        'height': 4,
        'class': None,
        'guesses': [[1, 0.5], [0, 0.25], [2, 0.25]],
        'region': None
    }


def test_images_are_served_by_id_from_the_round_only(tmp_path):
    pool = NamedPool(num_images=4)
    client = client_for(make_round(tmp_path, pool))
    response = client.get('/api/image', params={'id': 'train/0002.png'})
    assert response.headers['content-type'] == 'image/png'
    decoded = cv2.imdecode(np.frombuffer(response.content, np.uint8),
                           cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(decoded, pool.images[2].transpose(1, 2, 0))
    for image_id in ('train/0003.png', '../../etc/passwd', None):
        response = client.get('/api/image', params={'id': image_id} if
                              image_id else None)
        assert response.status_code == 404
        assert response.json() == {'error': f'image {image_id!r} is not '
                                   'queried in round 2'}
    assert client.get('/static/../web_app.py').status_code == 404
    assert client.get('/static/app.js').status_code == 200
    assert '<canvas id="zoom"' in client.get('/').text


@pytest.mark.parametrize('path,body,status,error', [
    ('/api/answers/9', {'round': ROUND, 'class': 0}, 404,
     'unknown query id 9: round 2 has the queries 0 .. 3'),
    ('/api/answers/0', {'round': ROUND, 'class': 7}, 422,
     'class 7 is neither a class id in [0, 3) nor the void value 255'),
    ('/api/answers/0', {'round': 1, 'class': 0}, 409,
     'the answer is for round 1, but round 2 is being annotated; reload the '
     'page'),
    ('/api/answers/0', {'class': 0}, 400,
     BAD_BODY),
    ('/api/answers/0', [ROUND, 0], 400,
     BAD_BODY),
    ('/api/answers/0', {'round': ROUND, 'class': 0, 'extra': 1}, 400,
     BAD_BODY),
    ('/api/answers/0', {'round': ROUND, 'class': 0, 'region': 'yes'}, 422,
     "region 'yes' is none of ['accept', 'pixel']"),
    ('/api/answers/0', {'round': True, 'class': 0}, 400,
     'round True is not an integer'),
    ('/api/answers/0', {'round': float(ROUND), 'class': 0}, 400,
     'round 2.0 is not an integer'),
])
def test_bad_answers_get_clear_errors(pending, path, body, status, error):
    client = client_for(pending)
    before = open(pending.query_file).read()
    response = client.put(path, json=body)
    assert response.status_code == status
    assert response.json() == {'error': error}
    assert open(pending.query_file).read() == before


def test_a_body_nested_too_deeply_is_a_bad_request(pending):
    response = client_for(pending).put(
        '/api/answers/0', content='[' * 100000 + ']' * 100000,
        headers={'Content-Type': 'application/json'})
    assert response.status_code == 400
    assert response.json()['error'].startswith('expected a JSON object')


def test_every_request_must_carry_the_token(pending):
    client = client_for(pending, token='s3cret')
    for path in ('/', '/api/round', '/static/app.js',
                 '/api/image?id=train/0000.png'):
        response = client.get(path)
        assert response.status_code == 401 and 'wrong token' in response.text
    assert client.get('/api/round?token=guess').status_code == 401
    assert client.put('/api/answers/0', json={'round': ROUND, 'class': 1},
                      headers={'X-Token': 'guess'}).status_code == 401
    assert RoundAnswers(pending).num_answered() == 0
    assert client.put('/api/answers/0', json={'round': ROUND, 'class': 1},
                      headers={'X-Token': 's3cret'}).status_code == 200
    # the page is opened with ?token=, then its cookie carries it
    assert client.get('/?token=s3cret').status_code == 200
    assert client.get('/api/round').status_code == 200


def test_a_loopback_server_refuses_foreign_host_names(pending):
    client = client_for(pending, allowed_hosts=['127.0.0.1', 'localhost'])
    assert client.get('/api/round').status_code == 400  # Host: testserver
    assert client.get('/api/round', headers={'Host': 'localhost:8765'}
                      ).status_code == 200


def test_only_loopback_servers_go_without_token():
    assert server_token('127.0.0.1', None) == (None, False)
    assert server_token('::1', None) == (None, False)
    assert server_token('localhost', '') == (None, False)
    assert server_token('0.0.0.0', 'given') == ('given', False)
    for missing in (None, ''):  # '': --token "$TOKEN" with TOKEN unset
        token, generated = server_token('0.0.0.0', missing)
        assert generated and len(token) >= 20


def get_round(port, host=None, token=None):
    headers = {'Host': host} if host else {}
    if token:
        headers['X-Token'] = token
    return httpx.get(f'http://127.0.0.1:{port}/api/round', headers=headers)


@pytest.mark.parametrize('token', [None, ''])
def test_a_server_beyond_this_machine_needs_token_and_host_name(pending,
                                                                token):
    server = AnnotationServer(RoundAnswers(pending), host='0.0.0.0', port=0,
                              token=token, allowed_hosts=['alias.lan'])
    server.start()
    try:
        assert server.url == (f'http://{socket.gethostname()}:{server.port}'
                              f'/?token={server.token}')
        assert server.generated_token
        assert get_round(server.port).status_code == 401
        for name in (socket.gethostname(), socket.getfqdn(), '10.1.2.3',
                     '[::1]', 'localhost', 'alias.lan'):
            response = get_round(server.port, f'{name}:{server.port}',
                                 server.token)
            assert response.json()['round'] == ROUND
        # another site's name pointed at this machine (DNS rebinding)
        response = get_round(server.port, 'rebound.example', server.token)
        assert response.status_code == 400
        assert "host name 'rebound.example'" in response.text
    finally:
        server.stop()
    assert RoundAnswers(pending).num_answered() == 0


def test_a_loopback_server_checks_the_host_name_too(pending):
    server = AnnotationServer(RoundAnswers(pending), port=0, token='')
    server.start()
    try:
        assert server.token is None
        assert get_round(server.port).json()['round'] == ROUND
        assert get_round(server.port, f'localhost:{server.port}'
                         ).status_code == 200
        assert get_round(server.port, 'rebound.example').status_code == 400
    finally:
        server.stop()


class Remember(logging.Handler):
    """Keeps the messages logged."""

    def __init__(self) -> None:
        super().__init__()
        self.messages = []

    def emit(self, record) -> None:
        self.messages.append(record.getMessage())


def test_web_oracle_with_an_empty_token_serves_behind_one(pending):
    port = free_port()
    oracle = WebOracle(host='0.0.0.0', port=port, token='')
    logger = MMLogger.get_current_instance()
    log = Remember()
    logger.addHandler(log)
    classes = []
    try:
        serving = threading.Thread(
            target=lambda: classes.append(oracle.annotate(pending)))
        serving.start()
        warning = []
        while serving.is_alive() and not warning:
            serving.join(0.05)
            warning = [m for m in log.messages
                       if 'every request must carry the token' in m]
        token = warning[0].rsplit(' ', 1)[1]
        assert get_round(port).status_code == 401
        assert get_round(port, 'rebound.example', token).status_code == 400
        for query_id, cls in enumerate(CLASSES):
            assert httpx.put(
                f'http://127.0.0.1:{port}/api/answers/{query_id}',
                json={'round': ROUND, 'class': cls},
                headers={'X-Token': token}).status_code == 200
        serving.join()
    finally:
        logger.removeHandler(log)
    assert classes[0].tolist() == CLASSES


def test_the_server_returns_once_two_tabs_have_answered_everything(pending):
    answers = RoundAnswers(pending)
    server = AnnotationServer(answers, port=0)
    serving = threading.Thread(target=server.serve_until_answered)
    serving.start()
    while not (server._server.started or not serving.is_alive()):
        server.done.wait(0.05)
    url = f'http://127.0.0.1:{server.port}'

    def tab(query_ids):
        with httpx.Client(base_url=url) as browser:
            for query_id in query_ids:
                assert browser.put(f'/api/answers/{query_id}', json={
                    'round': ROUND, 'class': CLASSES[query_id]}
                ).status_code == 200

    tabs = [threading.Thread(target=tab, args=(ids, ))
            for ids in ([0, 2], [1, 3])]
    for thread in tabs:
        thread.start()
    for thread in tabs + [serving]:
        thread.join()
    assert answers.classes().tolist() == CLASSES
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + '/api/round')


def test_a_busy_port_is_named(pending):
    first = AnnotationServer(RoundAnswers(pending), port=0)
    first.start()
    try:
        second = AnnotationServer(RoundAnswers(pending), port=first.port)
        with pytest.raises(OSError, match=f'could not listen on 127.0.0.1:'
                           f'{first.port} \\(port in use'):
            second.start()
    finally:
        first.stop()


def test_the_server_libraries_are_optional(monkeypatch):
    code = ('import sys, mmseg_al; print(sorted(m for m in sys.modules if '
            'm.split(".")[0] in ("starlette", "uvicorn", "fastapi")))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == '[]'
    monkeypatch.setitem(sys.modules, 'uvicorn', None)
    with pytest.raises(ImportError, match=r'install them with: pip install '
                       r'mmseg-al\[annotate\]'):
        require_annotate_extra()


def test_pairs_are_the_fixture_queries(pending):
    assert pending.pairs == PAIRS


def test_proposed_regions_are_served_and_choices_saved(pending):
    assert client_for(pending).get('/api/round').json()['regions'] is False
    assert client_for(pending).get('/api/regions/0').status_code == 404
    pending.regions = [np.array([6, 7, 8]), np.array([0]), np.array([1, 2]),
                       np.array([14, 19])]
    client = client_for(pending)
    assert client.get('/api/round').json()['regions'] is True
    assert client.get('/api/regions/3').json() == {'pixels': [14, 19]}
    assert client.get('/api/regions/4').json() == {
        'error': 'unknown query id 4: round 2 has the queries 0 .. 3'}
    for query_id, region in enumerate(['accept', 'pixel', None, 'accept']):
        assert client.put(f'/api/answers/{query_id}', json={
            'round': ROUND, 'class': CLASSES[query_id],
            'region': region}).status_code == 200
    assert [q['region'] for q in client.get('/api/round').json()[
        'queries']] == ['accept', 'pixel', None, 'accept']
    assert RoundAnswers(pending).accepted_regions().tolist() == [
        True, False, False, True]
