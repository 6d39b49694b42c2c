"""Every ground-truth pixel streamed to the head, a group of images at a
time: each epoch covers each non-void pixel once per member, with its
clean feature and class, and holds one group's features at once."""
import weakref

import numpy as np
import pytest
import torch

from mmseg_al.engine import PoolFeatures
from mmseg_al.engine.training.ground_truth_pixels import (
    ImageGroupSampler, check_images_per_group, ground_truth_pixel_loader)
from mmseg_al.engine.training.pixel_batches import batch_indices
from mmseg_al.utils import torch_generator
from helpers.pixel_model import FakePool, PixelModel, rgb_at


def streamed(num_images=5, images_per_group=2, batch_size=8, members=1,
             feature_batch_size=2):
    pool, model = FakePool(num_images=num_images), PixelModel()
    pool.labels[3] = 255  # an image without any usable pixel
    features = PoolFeatures(pool, model, feature_batch_size)
    loader = ground_truth_pixel_loader(features, images_per_group,
                                       batch_size, seed=7,
                                       num_members=members)
    return loader, pool, model


def test_groups_are_shuffled_per_epoch_and_skip_empty_images():
    sampler = ImageGroupSampler([3, 0, 5, 2, 4], 2, 4, seed=7)
    order = torch.randperm(5, generator=torch_generator(7, 'image_groups', 0))
    images = [i for i in order.tolist() if i != 1]
    assert sampler.groups == [tuple(images[:2]), tuple(images[2:])]
    sampler.set_epoch(1)
    assert sampler.groups != [tuple(images[:2]), tuple(images[2:])]
    assert sorted(i for g in sampler.groups for i in g) == [0, 2, 3, 4]


def test_batches_of_a_group_are_its_seeded_shuffle():
    sampler = ImageGroupSampler([3, 5, 2], 2, 4, seed=7, num_members=2)
    keys = list(sampler)
    assert len(sampler) == len(keys)
    for index, group in enumerate(sampler.groups):
        num = sum([3, 5, 2][i] for i in group)
        batches = [b for g, b in keys if g == group]
        for member in range(2):
            expected = batch_indices(num, 4, torch_generator(
                7, 'group_batches', 0, index, member))
            assert [b[member].tolist() for b in batches] == [
                e.tolist() for e in expected]


@pytest.mark.parametrize('per_group,per_call', [(2, 2), (3, 2), (2, 4)])
def test_every_non_void_pixel_comes_once_with_its_feature_and_class(
        per_group, per_call):
    loader, pool, model = streamed(images_per_group=per_group,
                                   feature_batch_size=per_call)
    expected = {}
    for image in range(5):
        label = pool.labels[image].reshape(-1)
        for pixel in np.flatnonzero(label != 255):
            feature = rgb_at(pool, image, [pixel])[0]
            expected[tuple(feature.tolist())] = int(label[pixel])
    assert len(loader.dataset) == len(expected) == 4 * 19
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)
        model.backbone_calls.clear()
        seen = [(tuple(f), int(c)) for batch in loader
                for f, c in zip(batch['inputs'].tolist(),
                                batch['data_samples'].tolist())]
        assert len(seen) == len(expected)
        for feature, cls in seen:
            match = next(k for k in expected
                         if np.allclose(k, feature, atol=1e-6))
            assert expected[match] == cls
        assert len({k for k, _ in seen}) == len(expected)
        # one backbone pass per image and epoch, in calls of at most
        # per_call images of one group
        calls = [tuple(sorted(call)) for call in model.backbone_calls]
        assert calls == [
            tuple(sorted(pool.image_ids[i] for i in group[s:s + per_call]))
            for group in loader.sampler.groups
            for s in range(0, len(group), per_call)]


def test_a_group_is_extracted_after_the_previous_one_is_dropped():
    loader, _, _ = streamed(images_per_group=2)
    dataset, context = loader.dataset, loader.dataset.pool_features
    held, extract = [], context.features

    def features(request):
        # every buffer filled before is gone when extraction starts
        assert [ref() for ref in held] == [None] * len(held)
        return extract(request)

    context.features = features
    for group, index in loader.sampler:
        if group != dataset._group:
            dataset[(group, index)]
            held.append(weakref.ref(dataset._features))
        else:
            dataset[(group, index)]
    assert len(held) == len(loader.sampler.groups) == 2
    dataset.release()
    assert held[-1]() is None


def test_ensemble_batches_are_member_by_pixel():
    loader, _, _ = streamed(members=3, batch_size=8)
    batch = next(iter(loader))
    assert batch['inputs'].shape == (3, 8, 3)
    assert batch['data_samples'].shape == (3, 8)


@pytest.mark.parametrize('value', [0, 1.5, True])
def test_bad_group_size_is_named(value):
    with pytest.raises(ValueError, match='train_cfg.images_per_group must '
                       f'be an integer >= 1, got {value!r}'):
        check_images_per_group(value)
    assert check_images_per_group(3) == 3
