"""Tiny datasets in the converted layout, written into pytest's tmp dirs."""
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]


def write_pair(root: str, split: str, name: str, label: np.ndarray,
               image_shape: Optional[Tuple[int, int]] = None) -> None:
    """Write ``img_dir/split/name`` (random RGB) and ``ann_dir/split/name``."""
    height, width = image_shape or label.shape[:2]
    image = np.random.default_rng(len(name)).integers(
        0, 256, (height, width, 3), dtype=np.uint8)
    for sub, array in (('img_dir', image), ('ann_dir', label)):
        os.makedirs(osp.join(root, sub, split), exist_ok=True)
        assert cv2.imwrite(osp.join(root, sub, split, name), array)


def random_labels(num_classes: int, shape: Tuple[int, int],
                  seed: int) -> np.ndarray:
    """uint8 labels in ``[0, num_classes)`` with about 10 % void (255)."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, num_classes, shape).astype(np.uint8)
    label[rng.random(shape) < 0.1] = 255
    return label


def write_split(root: str, split: str, names: Sequence[str], num_classes: int,
                shape: Tuple[int, int] = (8, 12)) -> None:
    for seed, name in enumerate(names):
        write_pair(root, split, name, random_labels(num_classes, shape, seed))
