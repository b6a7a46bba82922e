"""Fast NCHW kernels: convolution as im2col + one GEMM per batch chunk, pooling as loops over
the F*F window offsets (each a whole-volume vector operation). `reference.py` holds the naive
loops these are tested against.

Shapes: x (N, C, H, W); conv weight (K, C, F, F); outputs (N, K, Ho, Wo) with
Ho = (H + 2P - D(F-1) - 1) / S + 1 (callers have checked it is a whole number).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .threads import batch_chunks, run_chunks


def out_size(size: int, f: int, s: int, p: int, d: int = 1) -> int:
    return (size + 2 * p - d * (f - 1) - 1) // s + 1


def pad_hw(x: np.ndarray, p: int, value: float = 0.0) -> np.ndarray:
    """Pad the two spatial axes of (N, C, H, W) by p on each side."""
    if p == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=value)


def window(xp: np.ndarray, i: int, j: int, s: int, ho: int, wo: int) -> np.ndarray:
    """The view xp[:, :, i + s*a, j + s*b] for a < ho, b < wo: (N, C, ho, wo)."""
    return xp[:, :, i : i + s * (ho - 1) + 1 : s, j : j + s * (wo - 1) + 1 : s]


def im2col(xp: np.ndarray, f: int, s: int, d: int, ho: int, wo: int) -> np.ndarray:
    """Padded (N, C, Hp, Wp) -> columns (C*F*F, N*ho*wo), rows ordered like weight[k].ravel()."""
    n, c = xp.shape[:2]
    sn, sc, sh, sw = xp.strides
    view = as_strided(xp, (c, f, f, n, ho, wo), (sc, sh * d, sw * d, sn, sh * s, sw * s), writeable=False)
    return np.ascontiguousarray(view).reshape(c * f * f, n * ho * wo)


def col2im(cols: np.ndarray, shape: tuple, f: int, s: int, d: int, p: int, ho: int, wo: int) -> np.ndarray:
    """Adjoint of im2col: columns (C*F*F, N*ho*wo) summed back into an unpadded (N, C, H, W)."""
    n, c, h, w = shape
    dxp = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=cols.dtype)
    cols = cols.reshape(c, f, f, n, ho, wo)
    for i in range(f):
        for j in range(f):
            window(dxp, i * d, j * d, s, ho, wo)[...] += cols[:, i, j].transpose(1, 0, 2, 3)
    return dxp[:, :, p : p + h, p : p + w] if p else dxp


def conv_forward(x, w, b, s: int, p: int, d: int):
    """x (N, C, H, W), w (K, C, F, F), b (K,) -> out (N, K, Ho, Wo), cache."""
    n, c, h, wd = x.shape
    k, _, f, _ = w.shape
    ho, wo = out_size(h, f, s, p, d), out_size(wd, f, s, p, d)
    w2 = w.reshape(k, -1)
    out = np.empty((n, k, ho, wo), dtype=x.dtype)
    chunks = batch_chunks(n)

    def run(sl: slice):
        cols = im2col(pad_hw(x[sl], p), f, s, d, ho, wo)
        y = (w2 @ cols).reshape(k, sl.stop - sl.start, ho, wo)
        out[sl] = y.transpose(1, 0, 2, 3)
        return cols

    cols = run_chunks(run, chunks)
    out += b.reshape(1, k, 1, 1)
    return out, (x.shape, w, s, p, d, ho, wo, chunks, cols)


def conv_backward(dout, cache):
    """dout (N, K, Ho, Wo) -> dx (N, C, H, W), dw (K, C, F, F), db (K,)."""
    shape, w, s, p, d, ho, wo, chunks, cols = cache
    k, c, f, _ = w.shape
    w2 = w.reshape(k, -1)
    dx = np.empty(shape, dtype=dout.dtype)

    def run(item):
        sl, cols_sl = item
        dy = dout[sl].transpose(1, 0, 2, 3).reshape(k, -1)
        dx[sl] = col2im(w2.T @ dy, (sl.stop - sl.start,) + tuple(shape[1:]), f, s, d, p, ho, wo)
        return dy @ cols_sl.T

    dws = run_chunks(run, list(zip(chunks, cols)))
    dw = np.sum(dws, axis=0).reshape(w.shape) if len(dws) > 1 else dws[0].reshape(w.shape)
    return dx, dw, dout.sum(axis=(0, 2, 3))


def maxpool_forward(x, f: int, s: int, p: int):
    """x (N, C, H, W) -> out (N, C, Ho, Wo), cache; padding never wins (it is -inf)."""
    ho, wo = out_size(x.shape[2], f, s, p), out_size(x.shape[3], f, s, p)
    xp = pad_hw(x, p, -np.inf)
    out = window(xp, 0, 0, s, ho, wo).copy()
    arg = np.zeros(out.shape, dtype=np.int16)
    for k in range(1, f * f):
        cand = window(xp, k // f, k % f, s, ho, wo)
        better = cand > out  # strict: ties keep the first maximum, as PyTorch does
        np.copyto(out, cand, where=better)
        arg[better] = k
    return out, (x.shape, f, s, p, arg)


def maxpool_backward(dout, cache):
    """dout (N, C, Ho, Wo) -> dx (N, C, H, W): each gradient goes to its window's maximum."""
    shape, f, s, p, arg = cache
    n, c, h, w = shape
    ho, wo = dout.shape[2:]
    if s == f and p == 0 and h == f * ho and w == f * wo:  # tiling windows: one scatter
        dx = np.zeros((n, c, ho, wo, f * f), dtype=dout.dtype)
        np.put_along_axis(dx, arg[..., None].astype(np.intp), dout[..., None], axis=-1)
        return dx.reshape(n, c, ho, wo, f, f).transpose(0, 1, 2, 4, 3, 5).reshape(shape)
    dxp = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=dout.dtype)
    for k in range(f * f):
        window(dxp, k // f, k % f, s, ho, wo)[...] += np.where(arg == k, dout, 0)
    return dxp[:, :, p : p + h, p : p + w] if p else dxp


def avgpool_forward(x, f: int, s: int, p: int):
    """x (N, C, H, W) -> out (N, C, Ho, Wo); zero padding counts in the average (PyTorch default)."""
    ho, wo = out_size(x.shape[2], f, s, p), out_size(x.shape[3], f, s, p)
    xp = pad_hw(x, p)
    out = np.zeros((x.shape[0], x.shape[1], ho, wo), dtype=x.dtype)
    for k in range(f * f):
        out += window(xp, k // f, k % f, s, ho, wo)
    out /= f * f
    return out, (x.shape, f, s, p)


def avgpool_backward(dout, cache):
    """dout (N, C, Ho, Wo) -> dx (N, C, H, W)."""
    shape, f, s, p = cache
    n, c, h, w = shape
    ho, wo = dout.shape[2:]
    dxp = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=dout.dtype)
    share = dout / (f * f)
    for k in range(f * f):
        window(dxp, k // f, k % f, s, ho, wo)[...] += share
    return dxp[:, :, p : p + h, p : p + w] if p else dxp
