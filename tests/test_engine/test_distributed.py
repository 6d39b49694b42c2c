"""With several ranks, each extracts features of its share of the images and
all ranks end up with every image's features (gloo, 2 CPU processes)."""
import pickle

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mmseg_al.engine import FeatureCache, PoolSelectionContext
from mmseg_al.state import LabelStore
from .point_model import FakePool, PointModel

REQUEST = {i: torch.tensor([i, 2 * i + 1]) for i in range(5)}


def extract(batch_size=2):
    pool, model = FakePool(num_images=5), PointModel()
    store = LabelStore(pool.image_ids, pool.image_shapes, model.num_classes)
    context = PoolSelectionContext(pool, model, store, FeatureCache(), 1,
                                   seed=0, has_model=True,
                                   feature_batch_size=batch_size)
    return context.features(REQUEST, draw=0), model.backbone_calls


def rank_main(rank, world_size, init_file, out_prefix):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=world_size)
    try:
        feats, calls = extract()
        with open(f'{out_prefix}{rank}.pkl', 'wb') as file:
            pickle.dump((feats, calls), file)
    finally:
        dist.destroy_process_group()


def test_images_are_sharded_and_gathered(tmp_path):
    prefix = str(tmp_path / 'rank')
    # fork: the children reuse the imported modules instead of re-importing
    mp.start_processes(rank_main, args=(2, str(tmp_path / 'init'), prefix),
                       nprocs=2, start_method='fork')
    expected, _ = extract()
    shares = []
    for rank in range(2):
        with open(f'{prefix}{rank}.pkl', 'rb') as file:
            feats, calls = pickle.load(file)
        assert list(feats) == list(REQUEST)
        for i in REQUEST:
            torch.testing.assert_close(feats[i], expected[i])
        shares.append([image for call in calls for image in call])
    assert shares == [['train/0000.png', 'train/0002.png', 'train/0004.png'],
                      ['train/0001.png', 'train/0003.png']]
