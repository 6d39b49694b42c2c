"""Load guided-diffusion UNet weights and explain why a checkpoint does not fit.

A checkpoint only fits a UNet built with the same architecture flags, and a
wrong flag shows up as a long list of cryptic key or shape mismatches. The
loader here turns those into one error that names the file, the first
offending keys and the flag most likely to be wrong.
"""
import os.path as osp
from typing import Dict, List, Mapping, Sequence, Tuple

import torch
from torch import nn

#: How many offending keys an error message lists per kind.
MAX_LISTED_KEYS = 5

#: (substring of an offending key, flag that most likely explains it), most
#: specific first.
KEY_HINTS: Sequence[Tuple[str, str]] = (
    ('label_emb', 'class_cond'),
    ('out.2.', 'learn_sigma (6 output channels with it, 3 without)'),
    ('emb_layers', 'use_scale_shift_norm (doubles the emb_layers width)'),
    ('.op.', 'resblock_updown (plain Downsample convs vs. ResBlocks)'),
    ('.conv.', 'resblock_updown (plain Upsample convs vs. ResBlocks)'),
    ('qkv', 'attention_resolutions'),
    ('proj_out', 'attention_resolutions'),
    ('time_embed', 'num_channels'),
    ('input_blocks.0.0.', 'num_channels'),
)

UNCHECKABLE_FLAGS_NOTE = (
    'dropout, num_heads and num_head_channels are not stored in a state dict '
    'and cannot be checked here: take them from the model card.')


def _first(keys: Sequence[str]) -> str:
    listed = ', '.join(keys[:MAX_LISTED_KEYS])
    more = len(keys) - MAX_LISTED_KEYS
    return listed + (f' (+{more} more)' if more > 0 else '')


def likely_wrong_flags(keys: Sequence[str]) -> List[str]:
    """Flags that most likely explain mismatches at ``keys``, in order.

    Falls back to the block-structure flags when no key is recognised.
    """
    flags: List[str] = []
    for key in keys:
        for pattern, flag in KEY_HINTS:
            if pattern in key:
                if flag not in flags:
                    flags.append(flag)
                break
    return flags or [
        'num_res_blocks / channel_mult / image_size (different number or '
        'width of blocks)'
    ]


def read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Read a plain state dict with ``torch.load(weights_only=True)``.

    Args:
        path (str): the checkpoint file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file cannot be read safely or is not a mapping from
            parameter names to tensors.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'Diffusion checkpoint {path!r} does not exist. Put the '
            'guided-diffusion weights there (e.g. '
            'checkpoints/256x256_diffusion_uncond.pt) or set '
            'backbone.checkpoint=None to use random weights.')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:
        raise ValueError(
            f'Diffusion checkpoint {path!r} cannot be read with '
            f'torch.load(weights_only=True): {exc}. Expected a plain UNet '
            'state dict such as the released guided-diffusion .pt files.'
        ) from exc
    if not isinstance(state, Mapping) or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        top = (list(state)[:MAX_LISTED_KEYS]
               if isinstance(state, Mapping) else type(state).__name__)
        raise ValueError(
            f'Diffusion checkpoint {path!r} is not a state dict of tensors '
            f'(found {top}). If it is a training checkpoint, save its '
            "UNet weights alone: torch.save(ckpt['state_dict'], path).")
    return dict(state)


def load_unet_checkpoint(unet: nn.Module, path: str) -> None:
    """Load the state dict at ``path`` into ``unet``, strictly.

    Args:
        unet (nn.Module): a guided-diffusion ``UNetModel``.
        path (str): a plain state dict saved by ``torch.save``.

    Raises:
        FileNotFoundError, ValueError: see :func:`read_state_dict`; also a
            ValueError naming the first missing, unexpected and mis-shaped
            keys and the likely wrong flag when the architecture differs.
    """
    state = read_state_dict(path)
    expected = unet.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mis_shaped = [
        k for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or mis_shaped:
        problems = []
        if missing:
            problems.append(f'missing keys: {_first(missing)}')
        if unexpected:
            problems.append(f'unexpected keys: {_first(unexpected)}')
        if mis_shaped:
            shapes = [
                f'{k} {tuple(state[k].shape)} in file vs '
                f'{tuple(expected[k].shape)} in model'
                for k in mis_shaped
            ]
            problems.append(f'shape mismatches: {_first(shapes)}')
        flags = likely_wrong_flags(mis_shaped + missing + unexpected)
        raise ValueError(
            f'Diffusion checkpoint {path!r} does not fit the UNet built from '
            f'backbone.unet: {"; ".join(problems)}. Likely wrong flag: '
            f'{", ".join(flags)}. Note: {UNCHECKABLE_FLAGS_NOTE}')
    unet.load_state_dict(state)
