"""With several ranks, each runs the backbone on its own blocks of images
only, selections and the labelled set equal one process's, and the trained
head is rank 0's everywhere (gloo, 2 CPU processes)."""
import pickle

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mmseg_al.engine import PoolFeatures, PoolSelectionContext
from mmseg_al.engine.training.head_trainer import broadcast_trained_state
from mmseg_al.selection import build_selector
from mmseg_al.state import LabelStore
from helpers.pixel_model import FakePool, PixelModel

SELECTOR = dict(
    type='TwoStageSelector',
    stage1=dict(type='LocalGlobalCandidates', candidates_per_image=12,
                local_budget=3),
    stage2=dict(type='ScoreRanking', score='edald', num_draws=2))


def run(batch_size=2):
    """Labelled set and a two-stage selection on 5 images; the images of
    every backbone call."""
    torch.manual_seed(0)  # the same head on every rank
    pool, model = FakePool(num_images=5), PixelModel()
    model.eval()
    store = LabelStore(pool.image_ids, pool.image_shapes, model.num_classes)
    store.add('train/0001.png', [3, 7], [2, 0], round_idx=0)
    store.add('train/0003.png', [5], [1], round_idx=0)
    features = PoolFeatures(pool, model, batch_size)
    context = PoolSelectionContext(features, store, 1, seed=0,
                                   has_model=True)
    labelled = features.labelled(store)
    selection = build_selector(SELECTOR).select(context, 4)
    picks = (selection.image_index, selection.pixels, selection.scores)
    return labelled, picks, model.backbone_calls


def head_after_broadcast(rank):
    """A head that differs by rank, and a frozen layer, after the
    broadcast."""
    model = PixelModel()
    with torch.no_grad():
        for tensor in (*model.head.parameters(), *model.head.buffers()):
            tensor.fill_(rank + 1)
    model.head[0].weight.requires_grad_(False)  # stands for the UNet
    broadcast_trained_state(model)
    return {name: tensor.clone() for name, tensor in
            model.head.state_dict().items()}


def rank_main(rank, world_size, init_file, out_prefix):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=world_size)
    try:
        with open(f'{out_prefix}{rank}.pkl', 'wb') as file:
            pickle.dump((run(), head_after_broadcast(rank)), file)
    finally:
        dist.destroy_process_group()


def test_ranks_work_on_their_blocks_and_agree_with_one_process(tmp_path):
    prefix = str(tmp_path / 'rank')
    # fork: the children reuse the imported modules instead of re-importing
    mp.start_processes(rank_main, args=(2, str(tmp_path / 'init'), prefix),
                       nprocs=2, start_method='fork')
    labelled, picks, _ = run()
    images = []
    for rank in range(2):
        with open(f'{prefix}{rank}.pkl', 'rb') as file:
            (rank_labelled, rank_picks, calls), head = pickle.load(file)
        for name, tensor in head.items():  # rank 0's, but frozen weights
            fill = rank + 1 if name == '0.weight' else 1
            assert torch.all(tensor == fill), name
        for got, expected in zip((*rank_labelled, *rank_picks),
                                 (*labelled, *picks)):
            torch.testing.assert_close(got, expected, rtol=0, atol=0)
        images.append({image for call in calls for image in call})
    # blocks of 2 images dealt in turn: {0, 1, 4} and {2, 3}
    assert images == [{'train/0000.png', 'train/0001.png', 'train/0004.png'},
                      {'train/0002.png', 'train/0003.png'}]
