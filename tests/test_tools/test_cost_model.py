"""tools/cost_model.py: the per-round quantities, from the formulas."""
from tools import cost_model


def test_camvid_quantities_from_the_formulas():
    cost = cost_model.run_cost('configs/edald/camvid.py', 367, 233)
    assert cost.budget == 37  # round(0.1 * 367)
    # Stage 1 clean + M = 5 draws + the independent draw, per pool image;
    # the new labels' features; the evaluation
    assert cost.selection_passes_per_image == 7
    assert cost.round_passes == 367 * 7 + 37 + 233
    assert cost.run_passes == (367 + 37 + 233) + 9 * cost.round_passes
    assert cost.candidate_mb == 10000 * 6144 * 4 / 1e6
    assert cost.request_gb == 8 * 10000 * 6144 * 4 / 1e9
    assert (cost.union, cost.kept) == (50 * 367, 25 * 367)
    assert cost.kernel_gb == 18350**2 * 4 / 1e9 and cost.parts == 1
    # 8 GPUs: 46 blocks of 8 images, the busiest rank has 6 of them
    assert cost.passes_per_rank(8) == 48 * 7 + 5 + 30
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
    assert camvid[3:6] == ['2,839', '26,188', '2.1']  # 2839 * 0.045 / 60
