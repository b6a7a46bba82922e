"""The fast kernels equal the naive reference loops, forward and backward, in float32 and float64. The
kernels work on the engine's (D, H, W, N), the reference on (N, D, H, W): `fast` converts."""
import numpy as np
import pytest

from convviz.engine import kernels, reference
from convviz.engine.layers import to_engine, to_nchw


def fast(name, *args, **kwargs):
    """kernels.<name> on (N, D, H, W) arrays: the first argument converted in, the volume it gives (the
    output, or the input gradient) converted out."""
    result = getattr(kernels, name)(to_engine(args[0]), *args[1:], **kwargs)
    if isinstance(result, tuple):
        return (None if result[0] is None else to_nchw([result[0]]),) + result[1:]
    return to_nchw([result])

CONV_CASES = [  # (N, C, H, W), (K, F), stride, pad, dilation[, groups, bias]
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
    ((2, 2, 8, 8), (3, 3), 2, 1, 1),  # (8 - 3 + 2)/2 + 1 = 4.5: cropped to 4
    ((2, 3, 9, 8), (2, 1), 2, 0, 1),  # 1x1 stride 2 on an even width: the last column is never seen
    ((2, 4, 6, 6), (6, 3), 1, 1, 1, 2, True),
    ((2, 4, 6, 6), (4, 3), 1, 1, 1, 4, True),  # depthwise
    ((2, 6, 7, 7), (3, 3), 2, 1, 1, 3, False),  # depthwise with a stride
    ((2, 4, 9, 9), (8, 3), 2, 2, 2, 2, True),
    ((2, 4, 6, 6), (4, 3), 1, 2, 1, 2, False),
    ((2, 3, 6, 6), (4, 3), 1, 1, 1, 1, False),
    ((2, 3, 7, 7), (4, 3), 2, 0, 1, 1, False),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
@pytest.mark.parametrize("band_bytes", [None, 1], ids=["one-band", "band-per-row"])
def test_conv_matches_reference(case, dtype, band_bytes, monkeypatch):
    shape, (k, f), s, p, d, groups, bias = (case + (1, True))[:7]
    if band_bytes:
        monkeypatch.setattr(kernels, "GROUP_BYTES", band_bytes)
        monkeypatch.setattr(kernels, "ROW_BYTES", band_bytes)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((k, shape[1] // groups, f, f)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype) if bias else None
    got_out, fcache = fast("conv_forward", x, w, b, s, p, d, groups=groups)
    slow, scache = reference.conv_forward(x, w, b, s, p, d, groups=groups)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert got_out.dtype == dtype and got_out.shape == slow.shape
    np.testing.assert_allclose(got_out, slow, rtol=tol, atol=tol)
    dout = rng.standard_normal(got_out.shape).astype(dtype)
    got, want = fast("conv_backward", dout, fcache), reference.conv_backward(dout, scache)
    assert (got[2] is None) == (want[2] is None) == (not bias)
    for a, e in zip(got, want):
        if e is not None:
            assert a.dtype == dtype and a.shape == e.shape
            np.testing.assert_allclose(a, e, rtol=tol, atol=tol * 10)


def test_grouped_conv_is_separate_convs_stacked():
    """A conv with G groups equals G ordinary convs, each on its group's input slices, stacked along depth:
    the reference is checked against the ungrouped reference, so both cannot be wrong the same way."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 6, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    out, _ = reference.conv_forward(x, w, None, 1, 1, 1, groups=2)
    parts = [reference.conv_forward(x[:, 3 * g : 3 * g + 3], w[2 * g : 2 * g + 2], None, 1, 1, 1)[0] for g in (0, 1)]
    np.testing.assert_allclose(out, np.concatenate(parts, axis=1))


POOL_CASES = [  # (N, C, H, W), size, stride, pad[, ceil]
    ((2, 3, 8, 8), 2, 2, 0),
    ((2, 2, 7, 7), 3, 2, 0),
    ((1, 2, 5, 6), 2, 1, 0),
    ((2, 2, 5, 5), 3, 2, 1),
    ((2, 3, 4, 6), 2, 2, 1),
    ((1, 1, 9, 9), 3, 3, 0),
    ((3, 2, 6, 6), 3, 1, 1),
    ((2, 2, 7, 7), 2, 2, 0),  # crop: the last row and column are never seen
    ((2, 2, 8, 6), 3, 2, 1),  # crop on the height only
    ((2, 2, 7, 7), 2, 2, 0, True),  # ceil: a last window hanging one past the input
    ((2, 2, 6, 6), 3, 2, 1, True),  # ceil with padding: the last window hangs past the padded input
    ((1, 3, 8, 9), 3, 2, 0, True),
    ((2, 2, 5, 5), 3, 3, 1, True),  # the rule that drops a window starting in the right padding
    ((1, 2, 2, 2), 3, 2, 0, True),  # a window larger than the input
    ((2, 2, 8, 8), 2, 2, 0, True),  # nothing to round: the 2x2 fast path
]


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_pools_match_reference(kind, case):
    shape, f, s, p, ceil = (case + (False,))[:5]
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    got_out, fcache = fast(f"{kind}_forward", x, f, s, p, ceil)
    slow, scache = getattr(reference, f"{kind}_forward")(x, f, s, p, ceil)
    assert got_out.shape == slow.shape
    np.testing.assert_allclose(got_out, slow, rtol=1e-5, atol=1e-7)
    dout = rng.standard_normal(got_out.shape).astype(np.float32)
    got = fast(f"{kind}_backward", dout, fcache)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, getattr(reference, f"{kind}_backward")(dout, scache), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("f, s", [(2, 2), (3, 2), (2, 1)])
def test_maxpool_ties_send_the_gradient_to_the_first_maximum(f, s):
    """After a ReLU many windows are all zeros: the gradient goes to the first one only, as PyTorch."""
    x = np.zeros((1, 2, 5, 5) if f == 3 else (1, 2, 6, 6), np.float32)  # sizes the windows fit exactly
    x[0, 1, 1, 1] = 1.0
    out, fcache = fast("maxpool_forward", x, f, s, 0)
    dout = np.arange(1, out.size + 1, dtype=np.float32).reshape(out.shape)
    _, scache = reference.maxpool_forward(x, f, s, 0)
    np.testing.assert_array_equal(fast("maxpool_backward", dout, fcache), reference.maxpool_backward(dout, scache))


@pytest.mark.parametrize("size, f, s, p, want", [
    (7, 2, 2, 0, 4), (6, 3, 2, 1, 4), (5, 3, 3, 1, 2), (2, 3, 2, 0, 1), (8, 2, 2, 0, 4), (112, 3, 2, 0, 56),
])
def test_ceil_out_size_is_pytorchs(size, f, s, p, want):
    """Rounded up, except a last window that would start in the right padding: (5 + 2 - 3)/3 + 1 = 2.33
    rounds up to 3, but the third window would start at 6 >= 5 + 1, so 2."""
    assert kernels.out_size(size, f, s, p, ceil=True) == want


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_is_max_with_zero_in_place_on_bands_of_any_length(dtype):
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((4, 50)).astype(dtype)
    want = np.maximum(rows, 0)
    for c0, c1 in ((0, 7), (7, 50), (0, 50)):  # a short band, then longer ones: the zero row must grow
        part = rows[:, c0:c1]
        assert kernels.relu(part, part) is part
        np.testing.assert_array_equal(rows[:, c0:c1], want[:, c0:c1])
    out = np.full((4, 50), np.nan, dtype=dtype)
    kernels.relu(rng.standard_normal((4, 50)).astype(dtype) - 9, out)
    np.testing.assert_array_equal(out, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_sums_and_row_dots_match_numpy_on_strided_rows(dtype):
    rng = np.random.default_rng(4)
    a, b = (rng.standard_normal((5, 300)).astype(dtype) for _ in range(2))
    for width in (300, 40):  # the second reuses the longer row of ones
        np.testing.assert_allclose(kernels.row_sums(a[:, :width]), a[:, :width].astype(np.float64).sum(axis=1), rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(kernels.row_dots(a[:, :width], b[:, :width]),
                                   (a[:, :width].astype(np.float64) * b[:, :width]).sum(axis=1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(64, 3, 32, 32), (13, 10, 1, 1), (7, 2, 3, 5), (1, 1, 1, 1), (0, 3, 4, 4)])
def test_to_engine_moves_the_batch_axis_last_copied_in_blocks_of_images(shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out = to_engine(x)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, np.moveaxis(x, 0, -1))
    strided = np.random.default_rng(1).standard_normal((20, 3, 8, 8))[::2, :, 1:7]  # not contiguous
    np.testing.assert_array_equal(to_engine(strided), np.moveaxis(strided, 0, -1))
