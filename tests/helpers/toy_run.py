"""A tiny active-learning job: config writer and in-process entry point."""
import importlib.util
import os.path as osp
import textwrap

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def tool_main(name: str, argv) -> int:
    """Run ``tools/<name>.py`` in this process; returns its exit status."""
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def al_train_main(argv) -> int:
    """Run ``tools/al_train.py`` in this process; returns its exit status."""
    return tool_main('al_train', argv)


def write_toy_config(path, data_root, unet, extra: str = '') -> str:
    """A 2-round run on 4 generated 32x32 scenes with a tiny random UNet.

    Args:
        path: the config file to write.
        data_root: where ToyScenes generates its images.
        unet: UNet flags (the ``tiny_unet_cfg`` fixture).
        extra: config lines appended (overrides).
    """
    base = osp.join(REPO, 'configs', '_base_')
    text = textwrap.dedent(f'''\
        _base_ = [
            {osp.join(base, 'datasets', 'toy_scenes.py')!r},
            {osp.join(base, 'models', 'edald_imagenet256.py')!r},
            {osp.join(base, 'schedules', 'al_10rounds.py')!r},
            {osp.join(base, 'default_runtime.py')!r},
        ]
        toy = dict(type='ToyScenesDataset', data_root={str(data_root)!r},
                   image_size=32, num_train=4, num_val=2, seed=0)
        train_dataloader = dict(dataset=dict(dataset=toy))
        val_dataloader = dict(dataset=toy)
        test_dataloader = val_dataloader
        model = dict(
            backbone=dict(unet={dict(unet)!r}, checkpoint=None,
                          steps=(50, ), blocks=(5, 8, 12, 17)),
            decode_head=dict(num_classes=6))
        train_cfg = dict(
            rounds=2, budget=dict(per_image=None, pixels=5),
            stage1=dict(candidates_per_image=64, local_budget=4),
            selector=dict(stage2=dict(num_draws=2)),
            head_training=dict(max_epochs=4), feature_batch_size=3)
        default_hooks = dict(query_overlays=dict(max_images=2))
        ''') + extra
    with open(path, 'w', encoding='utf-8') as file:
        file.write(text)
    return str(path)


def outcomes(rounds):
    """``metrics.json`` entries without what a run spent on them (seconds,
    UNet passes), which a resumed or sharded run does not repeat."""
    return [{k: v for k, v in entry.items()
             if k not in ('seconds', 'unet_passes')} for entry in rounds]
