"""Normalisation, the validation split, minibatches and augmentation."""
import json

import numpy as np
import pytest

from convviz.data import DataError, Normalizer, augment, load_cifar10, minibatches, split_validation


@pytest.fixture(scope="module")
def images(sample_dir) -> np.ndarray:
    return load_cifar10(sample_dir).train_images


def test_normalizer_fit_matches_float64_statistics(images):
    norm = Normalizer.fit(images)
    x = images.astype(np.float64)
    np.testing.assert_allclose(norm.mean, x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(norm.std, x.std(axis=(0, 2, 3)), rtol=1e-10)
    out = norm.apply(images[:200])
    assert out.dtype == np.float32 and out.shape == (200, 3, 32, 32)
    expected = (x[:200] - norm.mean[:, None, None]) / norm.std[:, None, None]
    np.testing.assert_allclose(out, expected, atol=1e-5)
    full = norm.apply(images)
    np.testing.assert_allclose(full.mean(axis=(0, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(full.std(axis=(0, 2, 3), dtype=np.float64), 1, atol=1e-4)


def test_normalizer_fit_on_indices_equals_fit_on_the_gathered_images(images):
    idx = np.sort(np.random.default_rng(0).permutation(len(images))[:1000])
    on_indices, gathered = Normalizer.fit(images, idx, chunk=96), Normalizer.fit(images[idx])
    np.testing.assert_array_equal(on_indices.mean, gathered.mean)  # exact sums: the same numbers
    np.testing.assert_array_equal(on_indices.std, gathered.std)
    assert not np.array_equal(on_indices.mean, Normalizer.fit(images).mean)
    with pytest.raises(DataError, match="0 indices"):
        Normalizer.fit(images, idx[:0])


def test_normalizer_round_trips_through_json(images):
    norm = Normalizer.fit(images[:500])
    again = Normalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
    np.testing.assert_array_equal(again.mean, norm.mean)
    np.testing.assert_array_equal(again.apply(images[:3]), norm.apply(images[:3]))


def test_constant_channel_of_a_large_set_gets_exactly_std_one():
    images = np.full((3000, 3, 8, 8), 201, np.uint8)
    images[0, 2, 0, 0] = 200
    norm = Normalizer.fit(images)
    assert norm.std[0] == 1 and norm.std[1] == 1 and 0 < norm.std[2] < 0.1


def test_constant_channel_gets_std_one():
    images = np.zeros((4, 3, 2, 2), np.uint8)
    images[:, 1] = 7
    images[1, 2] = 255
    norm = Normalizer.fit(images)
    assert norm.std[0] == 1 and norm.std[1] == 1 and norm.mean[1] == 7 and norm.std[2] > 0
    assert np.all(np.isfinite(norm.apply(images)))


@pytest.mark.parametrize("d", [{}, {"mean": [1, 2, 3]}, {"mean": [1, 2], "std": [1, 2, 3]},
                               {"mean": [0, 0, 0], "std": [1, 0, 1]}, {"mean": ["a"], "std": [1]}, None])
def test_normalizer_from_bad_dict_is_a_data_error(d):
    with pytest.raises(DataError, match="normaliser"):
        Normalizer.from_dict(d)


def test_normalizer_rejects_wrong_shapes():
    norm = Normalizer([1, 2, 3], [1, 1, 1])
    with pytest.raises(DataError, match=r"\(n, 3, H, W\)"):
        norm.apply(np.zeros((2, 1, 32, 32), np.uint8))
    with pytest.raises(DataError, match="uint8"):
        Normalizer.fit(np.zeros((2, 3, 4, 4), np.float32))


def test_split_validation_is_deterministic_disjoint_and_complete():
    train, val = split_validation(1000, 100, seed=3)
    assert len(val) == 100 and len(train) == 900
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(1000))
    again = split_validation(1000, 100, seed=3)
    assert np.array_equal(again[1], val) and np.array_equal(again[0], train)
    assert not np.array_equal(split_validation(1000, 100, seed=4)[1], val)
    assert len(split_validation(10, 0, seed=0)[1]) == 0


@pytest.mark.parametrize("val_size", [-1, 10, 11])
def test_split_validation_rejects_impossible_sizes(val_size):
    with pytest.raises(DataError, match="cannot be held out of 10"):
        split_validation(10, val_size, seed=0)


def test_minibatches_cover_every_index_once_and_shuffle_by_seed():
    idx = np.arange(100, 203)
    batches = list(minibatches(idx, 10, np.random.default_rng(1)))
    assert [len(b) for b in batches] == [10] * 10 + [3]
    assert np.array_equal(np.sort(np.concatenate(batches)), idx)
    assert not np.array_equal(np.concatenate(batches), idx)
    same = list(minibatches(idx, 10, np.random.default_rng(1)))
    assert all(np.array_equal(a, b) for a, b in zip(batches, same))
    assert np.array_equal(np.concatenate(list(minibatches(idx, 10))), idx)
    with pytest.raises(DataError, match="batch size"):
        list(minibatches(idx, 0))


def test_augment_crops_from_the_zero_padded_image_and_flips(images):
    rng = np.random.default_rng(0)
    batch = images[:64]
    out = augment(batch, rng, pad=4)
    assert out.dtype == np.uint8 and out.shape == batch.shape
    padded = np.pad(batch, ((0, 0), (0, 0), (4, 4), (4, 4)))
    flips = 0
    for k in range(len(batch)):
        windows = [(dy, dx, f) for dy in range(9) for dx in range(9) for f in (False, True)
                   if np.array_equal(out[k], (lambda w: w[..., ::-1] if f else w)(padded[k, :, dy:dy + 32, dx:dx + 32]))]
        assert windows, f"image {k} is not a (flipped) crop of the padded image"
        flips += all(f for _, _, f in windows)
    assert 10 < flips < 54  # about half flipped
    assert not np.array_equal(out, batch)


def test_augment_is_reproducible_and_can_only_flip(images):
    a = augment(images[:8], np.random.default_rng(5))
    b = augment(images[:8], np.random.default_rng(5))
    assert np.array_equal(a, b)
    flipped = augment(images[:32], np.random.default_rng(2), pad=0)
    for k in range(32):
        assert np.array_equal(flipped[k], images[k]) or np.array_equal(flipped[k], images[k, :, :, ::-1])
    assert np.array_equal(augment(images[:4], np.random.default_rng(0), pad=0, flip=False), images[:4])
