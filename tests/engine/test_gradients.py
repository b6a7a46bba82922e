"""Every layer's backward against centred finite differences, in float64, on small random shapes."""
import numpy as np
import pytest

from convviz.engine import LAYER_TYPES
from convviz.engine.layers import Context, softmax_cross_entropy

from .gradcheck import assert_close, backward, check_layer, distinct_values, forward, numeric_gradient


@pytest.mark.parametrize("given, shape", [
    ({"filters": 3, "size": 3}, (2, 2, 5, 5)),
    ({"filters": 2, "size": 3, "stride": 2, "pad": 1}, (2, 3, 7, 7)),
    ({"filters": 2, "size": 3, "dilation": 2, "pad": 2}, (2, 2, 6, 6)),
    ({"filters": 2, "size": 2, "stride": 2, "dilation": 2, "pad": 1}, (1, 2, 7, 9)),
    ({"filters": 4, "size": 1}, (3, 3, 2, 3)),
    ({"filters": 2, "size": 5, "pad": 2}, (2, 2, 4, 4)),
    ({"filters": 4, "size": 3, "pad": 1, "groups": 2}, (2, 4, 5, 5)),
    ({"filters": 6, "size": 3, "stride": 2, "groups": 2, "fit": "crop"}, (2, 4, 6, 6)),
    ({"filters": 3, "size": 3, "pad": 1, "groups": 3}, (2, 3, 5, 5)),  # depthwise
    ({"filters": 6, "size": 3, "stride": 2, "pad": 1, "groups": 3, "bias": False}, (2, 3, 7, 7)),  # depthwise x2
    ({"filters": 2, "size": 3, "bias": False}, (2, 2, 5, 5)),
    ({"filters": 2, "size": 3, "stride": 2, "pad": 1, "fit": "crop"}, (2, 2, 6, 6)),
    ({"filters": 3, "size": 1, "stride": 2, "fit": "crop", "bias": False}, (2, 2, 6, 5)),
])
def test_conv(given, shape):
    check_layer("conv", given, shape)


@pytest.mark.parametrize("name", ["maxpool", "avgpool"])
@pytest.mark.parametrize("given, shape", [
    ({"size": 2}, (2, 3, 4, 6)),
    ({"size": 3, "stride": 2}, (2, 2, 7, 7)),
    ({"size": 2, "stride": 1}, (1, 2, 4, 5)),
    ({"size": 3, "stride": 2, "pad": 1}, (2, 2, 5, 5)),
    ({"size": 2, "stride": 2, "pad": 1}, (1, 3, 4, 6)),
    ({"size": 2, "fit": "crop"}, (2, 2, 5, 7)),
    ({"size": 3, "stride": 2, "pad": 1, "fit": "crop"}, (2, 2, 6, 6)),
    ({"size": 2, "fit": "pad"}, (2, 2, 5, 7)),
    ({"size": 3, "stride": 2, "pad": 1, "fit": "pad"}, (1, 2, 6, 8)),
    ({"size": 3, "stride": 3, "pad": 1, "fit": "pad"}, (1, 2, 5, 7)),
])
def test_pools(name, given, shape):
    rng = np.random.default_rng(1)
    check_layer(name, given, shape, x=distinct_values(rng, shape))


def test_globalavgpool():
    out, _ = check_layer("globalavgpool", {}, (2, 3, 4, 5))
    assert out.shape == (2, 3, 1, 1)


@pytest.mark.parametrize("given", [
    {"size": 5, "alpha": 0.5, "beta": 0.75, "k": 1.0},
    {"size": 2, "alpha": 0.9, "beta": 1.5, "k": 2.0},
    {"size": 1, "alpha": 0.3, "beta": 0.5, "k": 0.5},
    {"size": 9, "alpha": 1.0, "beta": 0.75, "k": 1.0},  # wider than the depth
    {"size": 15, "alpha": 1.0, "beta": 0.75, "k": 1.0},  # more than twice the depth
], ids=lambda g: f"size{g['size']}")
def test_lrn(given):
    check_layer("lrn", given, (2, 6, 2, 3))


@pytest.mark.parametrize("name, given", [
    ("relu", {}), ("leakyrelu", {"slope": 0.1}), ("tanh", {}), ("sigmoid", {}), ("softmax", {}),
])
def test_elementwise_and_softmax(name, given):
    shape = (3, 4, 1, 1) if name == "softmax" else (2, 3, 3, 4)
    check_layer(name, given, shape, x=distinct_values(np.random.default_rng(2), shape))


def test_dropout_with_a_fixed_mask():
    shape = (4, 3, 3, 3)
    out, dx = check_layer("dropout", {"rate": 0.4}, shape, rng_seed=7)
    x = np.random.default_rng(0).standard_normal(shape)
    t = LAYER_TYPES["dropout"]
    kept, _ = forward(t, t.resolve({"rate": 0.4}), {}, {}, x, Context(train=True, rng=np.random.default_rng(7)))
    dropped = kept == 0
    assert 0.2 < dropped.mean() < 0.6
    np.testing.assert_allclose(kept[~dropped], x[~dropped] / 0.6)
    evaluated, _ = forward(t, t.resolve({"rate": 0.4}), {}, {}, x, Context(train=False))
    np.testing.assert_array_equal(evaluated, x)


@pytest.mark.parametrize("shape", [(4, 3, 3, 2), (5, 6, 1, 1)], ids=["per-channel", "after-fc"])
def test_batchnorm_training(shape):
    check_layer("batchnorm", {}, shape)


@pytest.mark.parametrize("shape", [(4, 3, 3, 2), (5, 6, 1, 1)], ids=["per-channel", "after-fc"])
def test_batchnorm_evaluation(shape):
    rng = np.random.default_rng(3)
    buffers = {"running_mean": rng.standard_normal(shape[1]), "running_var": rng.uniform(0.5, 2, shape[1])}
    out, _ = check_layer("batchnorm", {}, shape, train=False, buffers=buffers)


def test_batchnorm_normalises_and_tracks_running_statistics():
    t = LAYER_TYPES["batchnorm"]
    hp = t.resolve({"momentum": 0.1})
    rng = np.random.default_rng(4)
    x = rng.normal(3.0, 2.0, (8, 2, 3, 3))
    params = {"weight": np.ones(2), "bias": np.zeros(2)}
    buffers = {"running_mean": np.zeros(2), "running_var": np.ones(2)}
    out, _ = forward(t, hp, params, buffers, x, Context(train=True))
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-4)
    np.testing.assert_allclose(buffers["running_mean"], 0.1 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(buffers["running_var"], 0.9 + 0.1 * x.var(axis=(0, 2, 3), ddof=1))


def test_fc():
    check_layer("fc", {"units": 4}, (3, 2, 3, 2))
    check_layer("fc", {"units": 3}, (2, 5, 1, 1))


def test_softmax_cross_entropy():
    rng = np.random.default_rng(5)
    logits, y = rng.standard_normal((4, 5)), np.array([0, 3, 4, 3])
    loss, dlogits, p = softmax_cross_entropy(logits, y)
    np.testing.assert_allclose(p.sum(axis=1), 1)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(4), y])))
    assert_close(dlogits, numeric_gradient(lambda: softmax_cross_entropy(logits, y)[0], logits), "cross-entropy")


def test_gradient_check_can_fail():
    """The checker catches a wrong backward (here: ReLU's gradient scaled by 2)."""
    t = LAYER_TYPES["relu"]
    x = distinct_values(np.random.default_rng(6), (2, 2, 2, 2))
    out, cache = forward(t, {}, {}, {}, x, Context(train=True))
    g = np.ones_like(out)
    wrong = 2 * backward(t, {}, {}, g, cache)[0]
    with pytest.raises(AssertionError):
        assert_close(wrong, numeric_gradient(lambda: float(forward(t, {}, {}, {}, x, Context(True))[0].sum()), x), "relu")
