"""The parts of guided_diffusion (OpenAI's diffusion UNet) this package uses.

Only ``script_util`` and ``unet`` are imported (``dist_util`` needs MPI).
Importing them makes guided_diffusion warn that it uses deprecated
``torch.cuda.amp`` decorators, on every run and with nothing for our users
to change; those warnings, and only those, are silenced here.
"""
import warnings

with warnings.catch_warnings():
    warnings.filterwarnings('ignore', category=FutureWarning,
                            module='guided_diffusion')
    from guided_diffusion.script_util import (  # noqa: F401
        add_dict_to_argparser, args_to_dict, create_model_and_diffusion,
        model_and_diffusion_defaults)
    from guided_diffusion.unet import (  # noqa: F401
        QKVAttention, QKVAttentionLegacy, timestep_embedding)
