"""Fixtures shared by the whole suite: CPU only, tiny models, no downloads."""
import pytest


@pytest.fixture(scope='session')
def tiny_unet_cfg():
    """UNet flags of the imagenet_256 architecture at reduced width.

    Same block structure (18 output blocks, so blocks 5, 8, 12, 17 exist),
    attention, resblock_updown and scale-shift norm; only the width is
    smaller. Inputs must be multiples of 32 (five downsamplings).
    """
    return dict(
        image_size=256,
        num_channels=32,
        num_res_blocks=2,
        num_head_channels=16,
        attention_resolutions='32,16,8',
        resblock_updown=True,
        use_scale_shift_norm=True,
        learn_sigma=True,
        class_cond=False,
        diffusion_steps=1000,
        noise_schedule='linear')


@pytest.fixture(autouse=True)
def isolated_default_scope():
    """Forget the registry scopes a test's runners made current.

    Every mmengine Runner makes its ``default_scope`` the current
    ``DefaultScope``; registry builds in later tests would silently look
    types up in that scope.
    """
    from mmengine.registry import DefaultScope
    before = set(DefaultScope._instance_dict)
    yield
    for name in set(DefaultScope._instance_dict) - before:
        del DefaultScope._instance_dict[name]
