"""Helpers to talk to a run (or tool) serving the web annotator."""
import os.path as osp
import socket
import threading

import cv2
import httpx2 as httpx

#: Longest wait for a run or a page to get somewhere, in seconds.
PATIENCE = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def ground_truth(data_root, image_id, x, y) -> int:
    label = cv2.imread(osp.join(data_root, 'ann_dir', 'train', image_id),
                       cv2.IMREAD_UNCHANGED)
    return int(label[y, x])


def serving_round(url, round_idx, alive):
    """The round info once the server (a run or a tool, alive while
    ``alive()``) serves ``round_idx``."""
    event = threading.Event()
    while alive():
        try:
            info = httpx.get(url + 'api/round').json()
            if info['round'] == round_idx:
                return info
        except httpx.TransportError:
            pass
        event.wait(0.2)
    raise AssertionError(f'the run ended before serving round {round_idx}')
