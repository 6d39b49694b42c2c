"""BatchNorm running statistics taken from the pool, not from the labels.

A head fitted on a few dozen labelled pixels would evaluate and select with
running statistics of those pixels alone, and every selector other than
random picks an unrepresentative set on purpose. The authors' loop and
LEDM avoid this by running every pixel of the training images through the
MLP; here the statistics are recomputed after the fit on a fixed, seeded
sample of pool pixels (their clean features, extracted once per run).
"""
from typing import Dict, List

import torch
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmseg_al.utils import torch_generator


def calibration_pixels(image_ids, image_shapes, count: int,
                       seed: int) -> Dict[int, Tensor]:
    """``ceil(count / N)`` distinct pixels of each of the ``N`` images,
    sorted, drawn under ``(seed, 'bn_calibration', image id)``: the same
    sample in every round and process of a run."""
    per_image = -(-count // len(image_ids))
    sample = {}
    for index, (image_id, (height, width)) in enumerate(
            zip(image_ids, image_shapes)):
        order = torch.randperm(
            height * width,
            generator=torch_generator(seed, 'bn_calibration', image_id))
        sample[index] = order[:per_image].sort().values
    return sample


def head_batch_norms(model) -> List[_BatchNorm]:
    """The BatchNorm layers of ``model``'s decode head that keep running
    statistics (none: nothing to calibrate)."""
    head = getattr(model, 'decode_head', model)
    return [m for m in head.modules()
            if isinstance(m, _BatchNorm) and m.track_running_stats]


@torch.no_grad()
def calibrate_batch_norm(model, features: Tensor) -> None:
    """Set each BatchNorm of the decode head that ``model.pixel_logits``
    runs to the mean and unbiased variance of its inputs on ``features``
    ``[n, D]`` (the frozen backbone's layers are never touched).

    One eval-mode pass: each layer takes its statistics just before it
    normalises, so a later layer sees inputs normalised with the new
    statistics of the earlier ones, as it will at inference.
    """
    def set_statistics(module: _BatchNorm, inputs) -> None:
        x = inputs[0]
        dims = [d for d in range(x.dim()) if d != 1]
        module.running_mean.copy_(x.mean(dims))
        module.running_var.copy_(x.var(dims))

    handles = [m.register_forward_pre_hook(set_statistics)
               for m in head_batch_norms(model)]
    was_training = model.training
    model.eval()
    try:
        model.pixel_logits(features)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)


__all__ = ['calibrate_batch_norm', 'calibration_pixels', 'head_batch_norms']
