"""A work dir whose run waits for round 0's labels, made without training.

The annotation tools read three things of a stopped run: the config the
runner saved, the pending selection and its query file. They are written
here with the functions the loop writes them with, over 3 generated toy
scenes, without training a model.
"""
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np

from mmseg_al.annotation.saved_run import saved_pool
from mmseg_al.state import RunDir, write_queries
from helpers.toy_run import REPO

#: Flat pixels queried in every image (32x32): (x=5, y=1) and (x=20, y=9).
PIXELS = (37, 308)


def write_stopped_run(work_dir: str, data_root: str) -> Tuple[str, List]:
    """Write the run; its query file and ``(image id, pixel)`` pairs."""
    os.makedirs(work_dir)
    base = osp.join(REPO, 'configs', '_base_')
    with open(osp.join(work_dir, 'toy.py'), 'w', encoding='utf-8') as file:
        file.write(
            f"_base_ = [{osp.join(base, 'datasets', 'toy_scenes.py')!r}, "
            f"{osp.join(base, 'default_runtime.py')!r}]\n"
            f"toy = dict(type='ToyScenesDataset', data_root={data_root!r}, "
            'image_size=32, num_train=3, num_val=1, seed=0)\n'
            'train_dataloader = dict(dataset=dict(dataset=toy))\n'
            f'train_cfg = dict(budget=dict(pixels={3 * len(PIXELS)}))\n')
    pool = saved_pool(work_dir)
    shapes: Dict[str, Tuple[int, int]] = dict(zip(pool.image_ids,
                                                  pool.image_shapes))
    pairs = [(image_id, pixel) for image_id in pool.image_ids
             for pixel in PIXELS]
    pending = RunDir(work_dir).queries(0)
    pending.save([i for i, _ in pairs], np.array([p for _, p in pairs]),
                 np.zeros(len(pairs)))
    write_queries(pending.query_file, pairs, shapes, None, 0)
    return pending.query_file, pairs
