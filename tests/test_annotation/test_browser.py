"""A person's round in a real browser: headless Chromium drives a toy run.

Round 0 of a 2-round toy run with ``WebOracle`` is answered through the
HTTP API, round 1 by keyboard on the page, as a person would; the run must
then finish with exactly the pressed classes stored. The page is saved as
a screenshot; with ``MMSEG_AL_SCREENSHOT=PATH`` it is also copied there
(the README's picture: ``docs/images/annotator.png``). With region
expansion, the person accepts one proposed region and rejects another,
and the label state must hold exactly the accepted one.

Needs Chromium and its driver (Debian: ``apt-get install chromium
chromium-driver``, done by ``.ci/run``) and Selenium (the ``tests`` extra).
"""
import glob
import json
import os
import os.path as osp
import shutil
import threading

import numpy as np
import pytest

from helpers.toy_run import al_train_main, write_toy_config

httpx = pytest.importorskip('httpx2', reason='needs the tests extra')
pytest.importorskip('uvicorn', reason='needs pip install mmseg-al[annotate]')
webdriver = pytest.importorskip('selenium.webdriver',
                                reason='needs selenium (the tests extra)')
from .live_run import (PATIENCE, free_port, ground_truth,  # noqa: E402
                       serving_round)

CLASS_KEYS = '1234567890'  # app.js: the keys of classes 0..9
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
CHROMEDRIVER = shutil.which('chromedriver')
CHROMIUM_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu',
                  '--disable-quic', '--no-first-run',
                  '--disable-background-networking',
                  '--disable-component-update', '--disable-sync',
                  '--window-size=1280,780')


@pytest.fixture
def browser(tmp_path):
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip('no Chromium browser and driver here; install them '
                    'with apt-get install chromium chromium-driver')
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + (f'--user-data-dir={tmp_path / "chrome"}', ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def start_web_run(tmp_path, tiny_unet_cfg, extra=''):
    """A toy run with WebOracle in a thread, round 0 answered through the
    API from the ground truth; ``(url, run, status, data_root, work)``
    once it serves round 1."""
    port = free_port()
    data_root = str(tmp_path / 'data')
    cfg = write_toy_config(
        tmp_path / 'toy.py', data_root, tiny_unet_cfg,
        extra=f"train_cfg.update(oracle=dict(type='WebOracle', port={port}))"
        '\n' + extra)
    work = str(tmp_path / 'work')
    status = []
    run = threading.Thread(
        target=lambda: status.append(al_train_main([cfg, '--work-dir', work])),
        daemon=True)
    run.start()
    url = f'http://127.0.0.1:{port}/'

    info = serving_round(url, 0, run.is_alive)  # round 0 through the API
    for query in info['queries']:
        cls = ground_truth(data_root, query['image'], query['x'], query['y'])
        assert httpx.put(f'{url}api/answers/{query["id"]}', json={
            'round': 0, 'class': cls}).status_code == 200
    return url, run, status, data_root, work


def test_a_round_answered_by_keyboard_in_the_browser(tmp_path, tiny_unet_cfg,
                                                     browser):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    url, run, status, data_root, work = start_web_run(tmp_path,
                                                      tiny_unet_cfg)
    info = serving_round(url, 1, run.is_alive)
    queries = info['queries']
    assert all(len(q['guesses']) == 3 for q in queries)
    pressed = [ground_truth(data_root, q['image'], q['x'], q['y'])
               for q in queries]
    pressed[-1] = info['ignore_index']  # "can't tell"
    browser.get(url)
    wait = WebDriverWait(browser, PATIENCE)

    def status_text():
        return browser.find_element('id', 'status').text

    def press(key, then_query):
        browser.find_element('tag name', 'body').send_keys(key)
        wait.until(lambda _: status_text().startswith(
            f'Query {then_query + 1} of {len(queries)}'))

    wait.until(lambda _: status_text().startswith('Query 1 of '))
    assert browser.find_element('id', 'guesses').text.startswith(
        'Model guesses: ')
    wrong = CLASS_KEYS[(pressed[0] + 1) % 6]
    press(wrong, 1)
    press(Keys.BACK_SPACE, 0)  # undo goes back to the query, unanswered
    assert status_text().endswith('answer: —')
    for query_id, cls in enumerate(pressed[:-1]):
        press(Keys.SPACE if cls == info['ignore_index'] else CLASS_KEYS[cls],
              query_id + 1)
    assert browser.find_element('id', 'progress-text').text == \
        f'{len(queries) - 1} / {len(queries)}'
    screenshot = str(tmp_path / 'annotator.png')
    assert browser.save_screenshot(screenshot)
    if os.environ.get('MMSEG_AL_SCREENSHOT'):
        shutil.copyfile(screenshot, os.environ['MMSEG_AL_SCREENSHOT'])
    browser.find_element('tag name', 'body').send_keys(Keys.SPACE)
    wait.until(lambda _: 'are answered' in browser.find_element(
        'id', 'message').text)

    run.join(PATIENCE)
    assert status == [0]
    state = np.load(osp.join(work, 'al_state', 'round_01.npz'))
    stored = {(str(i), int(p)): int(c) for i, p, c, r in zip(
        state['image_ids'], state['pixels'], state['classes'],
        state['rounds']) if r == 1}
    assert [stored[(q['image'], q['y'] * q['width'] + q['x'])]
            for q in queries] == pressed
    with open(osp.join(work, 'metrics.json'), encoding='utf-8') as file:
        assert len(json.load(file)['rounds']) == 2
    log, = glob.glob(osp.join(work, '*', '*.log'))
    with open(log, encoding='utf-8') as file:
        text = file.read()
    for line in (f'Round 1: annotate {len(queries)} pixels (0 answered) at '
                 f'{url}', f'Round 1: {len(queries)} of {len(queries)} '
                 'queries answered'):
        assert line in text


def test_a_region_accepted_and_one_rejected_in_the_browser(
        tmp_path, tiny_unet_cfg, browser):
    """With SuperpixelExpansion, a picked class shows the proposed region;
    Enter accepts it, Escape keeps the pixel: the label state holds
    exactly the accepted region's pixels, as expanded pixels of its
    click."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    from mmseg_al.annotation import expand_clicks
    url, run, status, data_root, work = start_web_run(
        tmp_path, tiny_unet_cfg, "train_cfg.update(expansion=dict(type="
        "'SuperpixelExpansion', params=dict(n_segments=16)))\n")
    info = serving_round(url, 1, run.is_alive)
    assert info['regions'] is True
    queries = info['queries']
    truth = [ground_truth(data_root, q['image'], q['x'], q['y'])
             for q in queries]
    browser.get(url)
    wait = WebDriverWait(browser, PATIENCE)
    body = browser.find_element('tag name', 'body')

    def status_text():
        return browser.find_element('id', 'status').text

    def drawn_region():
        return browser.find_element('id', 'full').get_attribute(
            'data-region')

    wait.until(lambda _: status_text().startswith('Query 1 of '))
    choices = ['accept', 'pixel'] + [None] * (len(queries) - 2)
    for query_id, choice in enumerate(choices):
        if choice is None:  # void: stored at once, never expands
            body.send_keys(Keys.SPACE)
        else:
            body.send_keys(CLASS_KEYS[truth[query_id]])
            # the region is drawn in the picked class, the choice asked
            wait.until(lambda _: drawn_region() == str(truth[query_id]))
            assert browser.find_element('id', 'region-choice').is_displayed()
            assert status_text().endswith('answer: —')
            body.send_keys(Keys.ENTER if choice == 'accept' else Keys.ESCAPE)
        if query_id + 1 < len(queries):
            wait.until(lambda _: status_text().startswith(
                f'Query {query_id + 2} of'))
    wait.until(lambda _: 'are answered' in browser.find_element(
        'id', 'message').text)
    saved = json.loads(open(osp.join(work, 'queries', 'round_01.json'),
                            encoding='utf-8').read())
    assert [row.get('region') for row in saved] == choices

    run.join(PATIENCE)
    assert status == [0]
    with np.load(osp.join(work, 'queries', 'round_01_regions.npz')) as data:
        regions = np.split(data['pixels'], np.cumsum(data['sizes'])[:-1])
    state = np.load(osp.join(work, 'al_state', 'round_01.npz'))
    image_ids = [str(i) for i in state['image_ids']]
    this_round = state['rounds'] == 1
    expanded = state['expanded'] & this_round
    clicks = [(q['image'], q['y'] * q['width'] + q['x']) for q in queries]
    classes = truth[:2] + [info['ignore_index']] * (len(queries) - 2)
    stored = {(i, int(p)): int(c) for i, p, c, e in zip(
        image_ids, state['pixels'], state['classes'], expanded) if not e}
    assert [stored[click] for click in clicks] == classes

    def labelled_before(image_id):  # earlier rounds and this round's clicks
        return np.array([int(p) for i, p, e in zip(
            image_ids, state['pixels'], expanded) if i == image_id and not e])

    reference = expand_clicks([i for i, _ in clicks],
                              np.array([p for _, p in clicks]),
                              np.array(classes), regions,
                              np.array([c == 'accept' for c in choices]),
                              labelled_before)
    assert sorted(zip(np.array(image_ids)[expanded].tolist(),
                      state['pixels'][expanded].tolist(),
                      state['sources'][expanded].tolist())) == sorted(
        zip(reference.image_ids, reference.pixels.tolist(),
            reference.sources.tolist()))
    # only the accepted click expanded, into its own region
    assert set(state['sources'][expanded].tolist()) == {clicks[0][1]}
    assert expanded.sum() > 0
    assert set(state['pixels'][expanded].tolist()) <= set(
        regions[0].tolist())
