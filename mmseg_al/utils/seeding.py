"""Reproducible randomness keyed by what it is for, not by call order.

Every random choice of a run (a diffusion noise, a candidate subset, an MC
dropout mask, a Gumbel perturbation) is drawn from a generator seeded by a
tuple such as ``(seed, 'noise', round, image_id, draw)``. A resumed run, or
one that visits images in another order, therefore makes the same choices.
"""
import hashlib
from typing import Union

import numpy as np
import torch

Key = Union[int, str, None]


def derive_seed(*keys: Key) -> int:
    """Hash ``keys`` to a 63-bit seed (stable across processes/platforms)."""
    text = '\x1f'.join(repr(k) for k in keys)
    digest = hashlib.sha256(text.encode('utf-8')).digest()
    return int.from_bytes(digest[:8], 'little') & ((1 << 63) - 1)


def torch_generator(*keys: Key, device: Union[str, torch.device] = 'cpu'
                    ) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded by :func:`derive_seed`."""
    gen = torch.Generator(device=device)
    gen.manual_seed(derive_seed(*keys))
    return gen


def numpy_rng(*keys: Key) -> np.random.Generator:
    """A ``numpy.random.Generator`` seeded by :func:`derive_seed`."""
    return np.random.default_rng(derive_seed(*keys))
