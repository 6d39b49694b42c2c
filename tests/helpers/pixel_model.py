"""Small stand-ins for the pool dataset and a pixel-API segmentor.

The segmentor's "backbone" returns the preprocessed RGB values at a pixel
(plus ``0.01 * (draw + 1)`` for stochastic draw ``draw``), so expected
features are easy to write down, and it counts its calls.
"""
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmseg.models import SegDataPreProcessor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import add_prefix

from mmseg_al.models.decode_heads.pixel_losses import pixel_losses


class FakePool:
    """``PixelSparseDataset``'s pool API over random images and labels."""

    ignore_index = 255

    def __init__(self, num_images=3, height=4, width=5, num_classes=3,
                 seed=0):
        rng = np.random.default_rng(seed)
        self.image_ids = [f'train/{i:04d}.png' for i in range(num_images)]
        self.image_shapes = [(height, width)] * num_images
        self.images = rng.integers(0, 256, (num_images, 3, height, width),
                                   dtype=np.uint8)
        self.labels = rng.integers(0, num_classes, (num_images, height, width)
                                   ).astype(np.uint8)
        self.labels[:, 0, 0] = 255  # a void pixel in every image

    def index_of(self, image_id):
        return self.image_ids.index(image_id)

    def pool_item(self, index):
        sample = SegDataSample(metainfo=dict(image_id=self.image_ids[index]))
        return dict(inputs=torch.from_numpy(self.images[index]),
                    data_samples=sample)

    def ground_truth(self, index):
        return self.labels[index]


class PixelModel(BaseModel):
    """Point API with the preprocessed pixel colour as the feature; it is
    its own decode head (``loss_decode``, ``ignore_index``)."""

    def __init__(self, num_classes=3, dropout=0.5, loss_decode=None):
        super().__init__(data_preprocessor=SegDataPreProcessor(
            mean=[127.5] * 3, std=[127.5] * 3, bgr_to_rgb=True))
        self.loss_decode = MODELS.build(loss_decode or dict(
            type='CrossEntropyLoss', avg_non_ignore=True))
        self.ignore_index = 255
        self.num_classes = num_classes
        self.feature_dim = 3
        self.head = nn.Sequential(nn.Linear(3, 8), nn.ReLU(),
                                  nn.BatchNorm1d(8), nn.Linear(8, num_classes))
        self.dropout = dropout
        self.backbone_calls: List[List[str]] = []

    def pixel_features(self, inputs, image_ids: Sequence[str], points,
                       draw: Optional[int] = None, round_idx: int = 0):
        self.backbone_calls.append(list(image_ids))
        offset = 0.0 if draw is None else 0.01 * (draw + 1) + round_idx
        return [inputs[b].flatten(1)[:, p].T + offset
                for b, p in enumerate(points)]

    def pixel_logits(self, features, mc_dropout=False, generator=None):
        if mc_dropout:
            keep = torch.rand(features.shape, generator=generator) >= \
                self.dropout
            features = features * keep / (1 - self.dropout)
        return self.head(features)

    def loss_pixels(self, features, labels, weights=None):
        return add_prefix(
            pixel_losses(self, self.pixel_logits(features), labels, weights),
            'decode')

    def reset_head(self):
        for module in self.head:
            if hasattr(module, 'reset_parameters'):
                module.reset_parameters()

    def seed_noise(self, seed):
        self.noise_seed = seed

    def forward(self, inputs, data_samples=None, mode='tensor'):
        raise NotImplementedError('trained through loss_pixels only')


def rgb_at(pool, image, pixels):
    """The features :class:`PixelModel` gives at ``pixels`` of ``image``:
    the preprocessed colour (BGR file -> RGB, scaled to [-1, 1])."""
    image = torch.from_numpy(pool.images[image][::-1].copy()).float()
    return (image.flatten(1)[:, pixels].T - 127.5) / 127.5
