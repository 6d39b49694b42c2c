"""SparsePixelSegmentor: pixel API, labelled-pixel loss, predict."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.evaluation import IoUMetric
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmseg_al.datasets.image_ids import image_id_of
from .conftest import NUM_CLASSES, SIZE, random_images


def sample(labels, **metainfo):
    """A data sample whose label map is void except at ``labels``
    (``{(y, x): class}``)."""
    label_map = torch.full((1, SIZE, SIZE), 255, dtype=torch.long)
    for (y, x), cls in labels.items():
        label_map[0, y, x] = cls
    shape = (SIZE, SIZE)
    data_sample = SegDataSample(
        metainfo=dict(ori_shape=shape, img_shape=shape, pad_shape=shape,
                      **metainfo))
    data_sample.gt_sem_seg = PixelData(data=label_map)
    return data_sample


@pytest.fixture
def model(tiny_segmentor_cfg):
    torch.manual_seed(0)
    return MODELS.build(tiny_segmentor_cfg)


def test_builds_from_config_with_the_backbone_feature_dim(model):
    assert model.feature_dim == 768
    assert model.decode_head.in_channels == 768
    assert model.num_classes == NUM_CLASSES


def test_in_channels_mismatch_and_slide_mode_are_rejected(tiny_segmentor_cfg):
    cfg = dict(tiny_segmentor_cfg,
               decode_head=dict(tiny_segmentor_cfg['decode_head'],
                                in_channels=100))
    with pytest.raises(ValueError, match='in_channels=100.*768-d'):
        MODELS.build(cfg)
    cfg = dict(tiny_segmentor_cfg,
               test_cfg=dict(mode='slide', crop_size=(16, 16),
                             stride=(8, 8)))
    with pytest.raises(ValueError, match="mode must be 'whole'"):
        MODELS.build(cfg)


def test_pixel_features_equal_the_dense_normalised_reference(model):
    inputs, ids = random_images(), ['a', 'b']
    points = [torch.tensor([0, 33, 1023, 500]), torch.tensor([7, 64])]
    features = model.pixel_features(inputs, ids, points)
    maps = model.backbone(inputs, ids)
    dense = F.normalize(torch.cat([
        F.interpolate(m, size=(SIZE, SIZE), mode='bilinear',
                      align_corners=False) for m in maps
    ], dim=1), dim=1)
    for image, (pixels, ours) in enumerate(zip(points, features)):
        expected = dense[image].flatten(1)[:, pixels].t()
        assert ours.shape == (len(pixels), 768)
        assert (ours - expected).abs().max() < 1e-5


def test_pixel_features_draws(model):
    inputs, points = random_images(1), [torch.arange(0, 1024, 97)]

    def features(**kwargs):
        return model.pixel_features(inputs, ['a'], points, **kwargs)[0]

    clean = features()
    assert torch.equal(clean, features())
    draw = features(draw=0)
    assert torch.equal(draw, features(draw=0))
    for other in (clean, features(draw=1), features(draw=0, round_idx=1)):
        assert not torch.allclose(draw, other)


def test_pixel_features_reject_pixels_outside_the_image(model):
    with pytest.raises(IndexError, match="image 'a'.*1024"):
        model.pixel_features(random_images(1), ['a'], [torch.tensor([1024])])


def test_pixel_logits_with_reproducible_mc_dropout(model):
    model.eval()
    features = torch.randn(6, 768)
    torch.testing.assert_close(model.pixel_logits(features),
                               model.decode_head.forward_pixels(features))

    def mc(seed):
        return model.pixel_logits(
            features, mc_dropout=True,
            generator=torch.Generator().manual_seed(seed))

    assert torch.equal(mc(3), mc(3))
    assert not torch.allclose(mc(3), mc(4))


def test_loss_pixels_is_the_configured_loss_on_the_labelled_pixels(
        model):
    model.train()
    model.decode_head.dropout_ratio = 0.0  # deterministic training forward
    inputs = random_images()
    pixels = [torch.tensor([0, 5 * SIZE + 9, 31 * SIZE + 31]),
              torch.tensor([12 * SIZE + 3, 20 * SIZE + 30])]
    features = torch.cat(model.pixel_features(
        inputs, ['train/a.png', 'b.png'], pixels))
    labels = torch.tensor([1, 2, 3, 0, 2])
    losses = model.loss_pixels(features, labels)
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg'}
    logits = model.decode_head.forward_pixels(features)
    torch.testing.assert_close(losses['decode.loss_ce'],
                               F.cross_entropy(logits, labels))
    losses['decode.loss_ce'].backward()
    assert model.decode_head.fc1.weight.grad is not None
    assert all(p.grad is None for p in model.backbone.parameters())


def test_loss_pixels_without_labelled_pixels_is_zero(model):
    model.train()
    losses = model.loss_pixels(torch.zeros(0, model.feature_dim),
                               torch.zeros(0, dtype=torch.long))
    assert float(losses['decode.loss_ce']) == 0.0


def test_image_batches_are_not_a_training_path(model):
    with pytest.raises(NotImplementedError, match='ActiveLearningLoop'):
        model.loss(random_images(1), [sample({(3, 4): 1})])


def test_noise_follows_the_run_seed_unless_fixed(model):
    model.backbone.noise_seed = None
    model.seed_noise(7)
    assert model.backbone.noise_seed == 7
    model.seed_noise(8)  # fixed now: a config value is never overridden
    assert model.backbone.noise_seed == 7


def test_reset_head_reinitialises(model):
    with torch.no_grad():
        model.decode_head.fc1.bias.fill_(1.0)
    model.decode_head.bn1.running_mean.fill_(3.0)
    before = model.decode_head.fc1.weight.clone()
    model.reset_head()
    assert torch.count_nonzero(model.decode_head.fc1.bias) == 0
    assert torch.count_nonzero(model.decode_head.bn1.running_mean) == 0
    assert not torch.equal(before, model.decode_head.fc1.weight)


def test_predict_through_mmseg_and_iou_metric(model):
    model.eval()
    gen = torch.Generator().manual_seed(5)
    raw = [torch.randint(0, 256, (3, SIZE, SIZE), generator=gen,
                         dtype=torch.uint8) for _ in range(2)]
    samples = [
        sample({(y, x): (x // 8) % NUM_CLASSES
                for y in range(SIZE) for x in range(SIZE)},
               img_path=f'/data/{name}.png') for name in ('a', 'b')
    ]
    results = model.test_step(dict(inputs=raw, data_samples=samples))
    assert [tuple(r.pred_sem_seg.data.shape) for r in results] == [
        (1, SIZE, SIZE)] * 2

    inputs = model.data_preprocessor(dict(inputs=raw), False)['inputs']
    every_pixel = torch.arange(SIZE * SIZE)
    features = model.pixel_features(inputs, ['a.png', 'b.png'],
                                    [every_pixel, every_pixel])
    for result, feats in zip(results, features):
        expected = model.pixel_logits(feats).t().reshape(-1, SIZE, SIZE)
        assert (result.seg_logits.data - expected).abs().max() < 1e-4

    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = dict(classes=[f'c{i}' for i in range(NUM_CLASSES)])
    metric.process({}, [r.to_dict() for r in results])
    scores = metric.compute_metrics(metric.results)
    assert 0.0 <= scores['mIoU'] <= 100.0


def test_dense_modes_need_image_ids(model):
    with pytest.raises(ValueError, match='needs data_samples'):
        model(random_images(1), None, mode='tensor')
    no_id = SegDataSample(metainfo=dict(ori_shape=(SIZE, SIZE)))
    with pytest.raises(KeyError, match="'image_id' \\(or 'img_path'\\)"):
        model(random_images(1), [no_id], mode='tensor')


def test_image_id_does_not_depend_on_where_the_data_lives():
    assert image_id_of(dict(image_id='train/a.png', img_path='/x/a.png')) \
        == 'train/a.png'
    assert image_id_of(dict(img_path='/mnt/one/data/camvid/test/a.png')) \
        == image_id_of(dict(img_path='data/camvid/test/a.png')) == 'a.png'


def ensemble_model(tiny_segmentor_cfg):
    torch.manual_seed(0)
    return MODELS.build(dict(
        tiny_segmentor_cfg,
        decode_head=dict(type='PixelMLPEnsembleHead',
                         num_classes=NUM_CLASSES, num_models=3)))


def test_ensemble_head_gives_member_logits_and_predicts_by_vote(
        tiny_segmentor_cfg):
    model = ensemble_model(tiny_segmentor_cfg).eval()
    assert model.decode_head.in_channels == 768
    features = torch.randn(10, 768)
    members = model.pixel_member_logits(features)
    assert members.shape == (3, 10, NUM_CLASSES)
    votes = model.pixel_logits(features).argmax(-1)
    majority = torch.mode(members.argmax(-1), dim=0).values  # no 3-way tie
    has_majority = (members.argmax(-1) == majority).sum(0) >= 2
    assert torch.equal(votes[has_majority], majority[has_majority])


def test_member_logits_need_an_ensemble_head(model):
    with pytest.raises(TypeError, match='decode_head PixelMLPHead is not an '
                       'ensemble.*PixelMLPEnsembleHead'):
        model.pixel_member_logits(torch.randn(2, 768))


def test_ensemble_loss_pixels_train_every_member_on_its_batch(
        tiny_segmentor_cfg):
    model = ensemble_model(tiny_segmentor_cfg).train()
    features = torch.randn(3, 4, 768)
    labels = torch.tensor([[1, 2, 0, 3], [0, 0, 1, 1], [3, 2, 1, 255]])
    losses = model.loss_pixels(features, labels)
    members = model.decode_head.members
    expected = sum(
        F.cross_entropy(member.forward_pixels(f), lab, ignore_index=255)
        for member, f, lab in zip(members, features, labels))
    torch.testing.assert_close(losses['decode.loss_ce'], expected)
    losses['decode.loss_ce'].backward()
    assert all(member.fc1.weight.grad is not None for member in members)


def test_kept_dense_maps_serve_the_same_batch_again(model, monkeypatch):
    """Evaluation batches seen before reuse their backbone maps (only the
    head runs again); another file, flip or size is a new batch; past the
    budget nothing more is kept."""
    model.eval()
    raw = [torch.full((3, SIZE, SIZE), 7, dtype=torch.uint8)]

    def predict(**metainfo):
        samples = [sample({}, img_path='/data/a.png', **metainfo)]
        return model.test_step(dict(inputs=raw, data_samples=samples))[0]

    calls = []
    extract = model.extract_feat
    monkeypatch.setattr(model, 'extract_feat', lambda *args, **kw: (
        calls.append(1), extract(*args, **kw))[1])
    first = predict()
    model.keep_dense_maps(2**30)
    predict()
    again = predict()
    assert len(calls) == 2 and model.dense_passes == 2
    assert torch.equal(first.seg_logits.data, again.seg_logits.data)
    predict(flip=True, flip_direction='horizontal')  # another view
    assert len(calls) == 3
    model.keep_dense_maps(0)  # nothing fits
    predict()
    predict()
    assert len(calls) == 5 and model.dense_passes == 5
