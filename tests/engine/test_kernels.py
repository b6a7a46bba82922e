"""The fast kernels equal the naive reference loops, forward and backward, in float32 and float64."""
import numpy as np
import pytest

from convviz.engine import kernels, reference

CONV_CASES = [  # (N, C, H, W), (K, F), stride, pad, dilation
    ((2, 3, 8, 8), (4, 3), 1, 1, 1),
    ((3, 2, 9, 7), (3, 3), 2, 1, 1),
    ((2, 2, 9, 9), (2, 3), 1, 2, 2),
    ((2, 3, 10, 10), (2, 2), 2, 1, 2),
    ((1, 4, 6, 6), (5, 1), 1, 0, 1),
    ((2, 3, 8, 8), (4, 5), 1, 2, 1),
    ((2, 2, 5, 5), (3, 3), 1, 0, 1),
    ((9, 3, 6, 6), (2, 3), 1, 1, 1),
    ((2, 2, 5, 5), (2, 2), 1, 3, 1),
    ((2, 2, 7, 7), (2, 3), 3, 1, 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, kf, s, p, d", CONV_CASES)
@pytest.mark.parametrize("group_bytes", [kernels.GROUP_BYTES, 1], ids=["one-group", "group-per-image"])
def test_conv_matches_reference(shape, kf, s, p, d, dtype, group_bytes, monkeypatch):
    monkeypatch.setattr(kernels, "GROUP_BYTES", group_bytes)
    rng = np.random.default_rng(0)
    k, f = kf
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((k, shape[1], f, f)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    fast, fcache = kernels.conv_forward(x, w, b, s, p, d)
    slow, scache = reference.conv_forward(x, w, b, s, p, d)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert fast.dtype == dtype and fast.shape == slow.shape
    np.testing.assert_allclose(fast, slow, rtol=tol, atol=tol)
    dout = rng.standard_normal(fast.shape).astype(dtype)
    for got, want in zip(kernels.conv_backward(dout, fcache), reference.conv_backward(dout, scache)):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 10)


POOL_CASES = [  # (N, C, H, W), size, stride, pad
    ((2, 3, 8, 8), 2, 2, 0),
    ((2, 2, 7, 7), 3, 2, 0),
    ((1, 2, 5, 6), 2, 1, 0),
    ((2, 2, 5, 5), 3, 2, 1),
    ((2, 3, 4, 6), 2, 2, 1),
    ((1, 1, 9, 9), 3, 3, 0),
    ((3, 2, 6, 6), 3, 1, 1),
]


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
@pytest.mark.parametrize("shape, f, s, p", POOL_CASES)
def test_pools_match_reference(kind, shape, f, s, p):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    fast, fcache = getattr(kernels, f"{kind}_forward")(x, f, s, p)
    slow, scache = getattr(reference, f"{kind}_forward")(x, f, s, p)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-7)
    dout = rng.standard_normal(fast.shape).astype(np.float32)
    got = getattr(kernels, f"{kind}_backward")(dout, fcache)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, getattr(reference, f"{kind}_backward")(dout, scache), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("f, s", [(2, 2), (3, 2), (2, 1)])
def test_maxpool_ties_send_the_gradient_to_the_first_maximum(f, s):
    """After a ReLU many windows are all zeros: the gradient goes to the first one only, as PyTorch."""
    x = np.zeros((1, 2, 5, 5) if f == 3 else (1, 2, 6, 6), np.float32)  # sizes the windows fit exactly
    x[0, 1, 1, 1] = 1.0
    out, fcache = kernels.maxpool_forward(x, f, s, 0)
    dout = np.arange(1, out.size + 1, dtype=np.float32).reshape(out.shape)
    _, scache = reference.maxpool_forward(x, f, s, 0)
    np.testing.assert_array_equal(kernels.maxpool_backward(dout, fcache), reference.maxpool_backward(dout, scache))
