"""Load guided-diffusion UNet weights; explain why a checkpoint does not fit.

A checkpoint only fits a UNet built with the same architecture flags, and a
wrong flag shows up as a long list of cryptic key or shape mismatches. The
loader here turns those into one error that names the file, the first
offending keys and the flag most likely to be wrong.
"""
import os.path as osp
from typing import Dict, Iterable, Mapping, Sequence, Tuple

import torch
from torch import nn

#: How many offending keys an error message lists per kind.
MAX_LISTED_KEYS = 5

#: (substring of an offending key, flag that most likely explains it), in
#: order of precedence: a wrong width (stem keys) explains everything else.
KEY_HINTS: Sequence[Tuple[str, str]] = (
    ('label_emb', 'class_cond'),
    ('time_embed', 'num_channels'),
    ('input_blocks.0.0.', 'num_channels'),
    ('out.2.', 'learn_sigma (6 output channels with it, 3 without)'),
    ('qkv', 'attention_resolutions'),
    ('proj_out', 'attention_resolutions'),
    ('.op.', 'resblock_updown (plain Downsample convs vs. ResBlocks)'),
    ('.conv.', 'resblock_updown (plain Upsample convs vs. ResBlocks)'),
    ('emb_layers', 'use_scale_shift_norm (doubles the emb_layers width)'),
)

UNCHECKABLE_FLAGS_NOTE = (
    'dropout, num_heads and num_head_channels are not stored in a state dict '
    'and cannot be checked here: take them from the model card.')


def _first(keys: Sequence[str]) -> str:
    listed = ', '.join(keys[:MAX_LISTED_KEYS])
    more = len(keys) - MAX_LISTED_KEYS
    return listed + (f' (+{more} more)' if more > 0 else '')


def _num_blocks(keys: Iterable[str], prefix: str) -> int:
    indices = [int(k.split('.')[1]) for k in keys if k.startswith(prefix)]
    return 1 + max(indices, default=-1)


def likely_wrong_flag(expected: Iterable[str], found: Iterable[str],
                      offending: Sequence[str]) -> str:
    """The flag that most likely explains why ``found`` keys (the file) do
    not fit ``expected`` keys (the model), given the ``offending`` keys."""
    expected, found = list(expected), list(found)
    for prefix in ('input_blocks.', 'output_blocks.'):
        in_model = _num_blocks(expected, prefix)
        in_file = _num_blocks(found, prefix)
        if in_model != in_file:
            return (f'num_res_blocks, channel_mult or image_size (the file '
                    f'has {in_file} {prefix[:-1]}, the model {in_model})')
    for pattern, flag in KEY_HINTS:
        if any(pattern in key for key in offending):
            return flag
    return ('one of image_size, num_channels, num_res_blocks, channel_mult, '
            'attention_resolutions, learn_sigma, use_scale_shift_norm, '
            'resblock_updown')


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
        flag = likely_wrong_flag(expected, state,
                                 mis_shaped + missing + unexpected)
        raise ValueError(
            f'Diffusion checkpoint {path!r} does not fit the UNet built from '
            f'backbone.unet: {"; ".join(problems)}. Likely wrong flag: '
            f'{flag}. Note: {UNCHECKABLE_FLAGS_NOTE}')
    unet.load_state_dict(state)
