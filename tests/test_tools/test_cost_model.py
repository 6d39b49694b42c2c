"""tools/cost_model.py: the per-round quantities, from the formulas."""
from tools import cost_model


def test_camvid_quantities_from_the_formulas():
    cost = cost_model.run_cost('configs/edald/camvid.py', 367, 233)
    assert cost.budget == 37  # round(0.1 * 367)
    # Stage 1 clean + M = 5 draws + the independent draw, per pool image;
    # the new labels' features (the blocks of 8 images of 37 labelled
    # images at most); the evaluation; once, the calibration sample
    assert cost.selection_passes_per_image == 7
    assert cost.label_passes == 8 * 37
    assert cost.round_passes == 367 * 7 + 8 * 37 + 233
    assert cost.run_passes == (367 + 8 * 37 + 233 + 367) + \
        9 * cost.round_passes
    # features kept: round 0 runs Stage 1 and the evaluation, then only
    # the draws run (every round, or once when they are per run)
    assert cost.kept_round_passes == 367 * 6
    assert cost.kept_run_passes == (367 + 233 + 9 * 367 * 6,
                                    367 + 233 + 367 * 6)
    pixels = 367 * 10000 + 4800
    assert cost.kept_gb[:2] == (pixels * 6144 * 4 / 1e9,
                                pixels * 6144 * 4 * 6 / 1e9)
    # maps of 1024 x 32^2, 512 x 64^2, 256 x 128^2 and 256 x 256^2 at
    # 3 timesteps, for each evaluation image
    maps = 3 * (1024 * 32**2 + 512 * 64**2 + 256 * 128**2 + 256 * 256**2)
    assert cost.kept_gb[2] == 233 * maps * 4 / 1e9
    assert cost.candidate_mb == 10000 * 6144 * 4 / 1e6
    assert cost.request_gb == 8 * 10000 * 6144 * 4 / 1e9
    assert (cost.union, cost.kept) == (50 * 367, 25 * 367)
    assert cost.kernel_gb == 18350**2 * 4 / 1e9 and cost.parts == 1
    # 8 GPUs: 46 blocks of 8 images, the busiest rank has 6 of them
    assert cost.passes_per_rank(8) == 48 * 7 + 37 + 30
    assert cost.passes_per_rank(1) == cost.round_passes
    assert cost.run_passes_per_rank(1) == cost.run_passes


def test_union_kernel_is_split_into_parts_that_fit_4gb():
    cost = cost_model.run_cost('configs/edald/cityscapes.py', 2975, 500)
    assert cost.union == 148750 and cost.parts == 5
    assert cost.part_kernel_gb == 29750**2 * 4 / 1e9 < 4 * 2**30 / 1e9


def test_table_has_a_row_per_dataset():
    lines = list(cost_model.table(0.045, [1, 8]))
    assert len(lines) == 2 + len(cost_model.DATASETS)
    camvid = lines[2].split(' | ')
    assert camvid[3:6] == ['3,098', '29,145', '2.3']  # 3098 * 0.045 / 60


def test_kept_table_has_a_row_per_dataset():
    lines = list(cost_model.kept_table())
    assert len(lines) == 2 + len(cost_model.DATASETS)
    assert lines[2].split(' | ')[1:5] == ['3,098', '2,202', '20,418',
                                          '2,802']
