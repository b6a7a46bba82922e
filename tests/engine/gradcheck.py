"""Centred finite differences in float64: the gradient checker the layer tests share, and layer calls
on (N, D, H, W) arrays (the engine's layers work on (D, H, W, N))."""
import numpy as np

from convviz.engine import LAYER_TYPES, Volume
from convviz.engine.layers import Context, to_engine, to_nchw

H = 1e-6


def forward(t, hp, params, buffers, x, ctx):
    """Layer t's forward on x (N, D, H, W) -> (out (N, D', H', W'), cache)."""
    out, cache = t.forward(hp, params, buffers, to_engine(x), ctx)
    return to_nchw([out]), cache


def backward(t, hp, params, dout, cache):
    """Layer t's backward for dout (N, D', H', W') -> (dx (N, D, H, W) or None, grads)."""
    dx, grads = t.backward(hp, params, to_engine(dout), cache)
    return (None if dx is None else to_nchw([dx])), grads


def numeric_gradient(f, a: np.ndarray) -> np.ndarray:
    """Centred differences of the scalar f() with respect to every entry of a (changed in place)."""
    grad = np.zeros_like(a)
    flat, gflat = a.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + H
        up = f()
        flat[k] = old - H
        down = f()
        flat[k] = old
        gflat[k] = (up - down) / (2 * H)
    return grad


def assert_close(analytic, numeric, what):
    scale = max(np.abs(numeric).max(), 1e-3)
    err = np.abs(analytic - numeric).max() / scale
    assert err < 1e-6, f"{what}: relative error {err:.2e}"


def distinct_values(rng, shape):
    """Random values at least 1e-3 apart and away from 0, so max pools and ReLUs have no ties or kinks
    within the finite-difference step."""
    n = int(np.prod(shape))
    v = (rng.permutation(n) - n / 2 + 0.5) * 1e-2 + rng.uniform(-2e-3, 2e-3, n)
    return v.reshape(shape)


def check_layer(name, given, shape, train=True, seed=0, x=None, buffers=None, rng_seed=None):
    """Check a layer's dx and parameter gradients for the loss sum(out * g), g random."""
    t = LAYER_TYPES[name]
    hp = t.resolve(given)
    rng = np.random.default_rng(seed)
    n, d, h, w = shape
    vol = Volume(w, h, d)
    out_vol = t.output_volume(hp, vol)
    params = {k: rng.standard_normal(s) for k, s in t.param_shapes(hp, vol).items()}
    if buffers is None:
        buffers = {k: np.zeros(s) for k, s in t.buffer_shapes(hp, vol).items()}
    x = rng.standard_normal(shape) if x is None else x

    def ctx():
        return Context(train=train, rng=np.random.default_rng(rng_seed) if rng_seed is not None else None)

    out, cache = forward(t, hp, params, buffers, x, ctx())
    assert out.shape == (n, out_vol.depth, out_vol.height, out_vol.width)
    assert out.dtype == np.float64
    g = rng.standard_normal(out.shape)
    dx, grads = backward(t, hp, params, g, cache)
    assert set(grads) == set(params)

    def loss():
        y, _ = forward(t, hp, params, buffers, x, ctx())
        return float((y * g).sum())

    assert_close(dx, numeric_gradient(loss, x), f"{name} dx")
    for k, p in params.items():
        assert grads[k].shape == p.shape
        assert_close(grads[k], numeric_gradient(loss, p), f"{name} d{k}")
    return out, dx
