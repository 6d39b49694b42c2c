# The toy scenes in the paper's regime, for label-efficiency benchmarks
# (benchmarks/bench_label_efficiency.py): a pool of N = 300 generated
# scenes, so that b = 0.1 N is 30 pixels a round (300 after 10 rounds),
# and M = 5 noise draws as in the paper. The scenes' content is the
# embedded default's; the small UNet is pretrained on this pool on first
# use (its own checkpoint). The noise draws are the same every round, so
# their features are computed once.
_base_ = ['./edald-2stage_adm64-t2b4_10r-b0.5n_toy-scenes-64x64.py']
toy_scenes = dict(
    type='ToyScenesDataset',
    data_root='data/toy_scenes_300',
    image_size=64,
    num_train=300,
    num_val=40,
    seed=0)
train_dataloader = dict(dataset=dict(dataset=toy_scenes))
val_dataloader = dict(dataset=toy_scenes)
test_dataloader = val_dataloader
toy_checkpoint = 'checkpoints/toy_scenes_300_ddpm_64px_c32.pt'
model = dict(backbone=dict(checkpoint=toy_checkpoint))
custom_hooks = [
    dict(
        type='DiffusionPretrainHook',
        checkpoint=toy_checkpoint,
        iterations=150,
        batch_size=4,
        lr=1e-3,
        max_timestep=400)
]
train_cfg = dict(
    budget=dict(per_image=0.1),
    noise_draws='per_run',
    selector=dict(stage2=dict(num_draws=5)))
