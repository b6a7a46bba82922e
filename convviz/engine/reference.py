"""Naive loop kernels: slow, obviously right, the test oracle for `kernels.py` (same signatures)."""
from __future__ import annotations

import numpy as np

from .kernels import out_size, pad_hw


def conv_forward(x, w, b, s: int, p: int, d: int):
    n, c, h, wd = x.shape
    k, _, f, _ = w.shape
    ho, wo = out_size(h, f, s, p, d), out_size(wd, f, s, p, d)
    xp = pad_hw(x, p)
    out = np.zeros((n, k, ho, wo), dtype=x.dtype)
    span = d * (f - 1) + 1
    for a in range(ho):
        for bb in range(wo):
            patch = xp[:, :, a * s : a * s + span : d, bb * s : bb * s + span : d]  # (N, C, F, F)
            for kk in range(k):
                out[:, kk, a, bb] = (patch * w[kk]).sum(axis=(1, 2, 3)) + b[kk]
    return out, (x, w, s, p, d)


def conv_backward(dout, cache):
    x, w, s, p, d = cache
    f = w.shape[2]
    xp = pad_hw(x, p)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    span = d * (f - 1) + 1
    for a in range(dout.shape[2]):
        for bb in range(dout.shape[3]):
            rows, cols = slice(a * s, a * s + span, d), slice(bb * s, bb * s + span, d)
            for kk in range(w.shape[0]):
                g = dout[:, kk, a, bb][:, None, None, None]
                dw[kk] += (xp[:, :, rows, cols] * g).sum(axis=0)
                dxp[:, :, rows, cols] += w[kk] * g
    h, wd = x.shape[2:]
    return dxp[:, :, p : p + h, p : p + wd], dw, dout.sum(axis=(0, 2, 3))


def _pool_windows(x, f, s, p, value):
    ho, wo = out_size(x.shape[2], f, s, p), out_size(x.shape[3], f, s, p)
    xp = pad_hw(x, p, value)
    for a in range(ho):
        for bb in range(wo):
            yield a, bb, (slice(a * s, a * s + f), slice(bb * s, bb * s + f)), xp


def maxpool_forward(x, f: int, s: int, p: int):
    ho, wo = out_size(x.shape[2], f, s, p), out_size(x.shape[3], f, s, p)
    out = np.zeros(x.shape[:2] + (ho, wo), dtype=x.dtype)
    for a, bb, (rs, cs), xp in _pool_windows(x, f, s, p, -np.inf):
        out[:, :, a, bb] = xp[:, :, rs, cs].max(axis=(2, 3))
    return out, (x, f, s, p)


def maxpool_backward(dout, cache):
    x, f, s, p = cache
    dxp = np.zeros(pad_hw(x, p).shape, dtype=dout.dtype)
    for a, bb, (rs, cs), xp in _pool_windows(x, f, s, p, -np.inf):
        win = xp[:, :, rs, cs].reshape(x.shape[0], x.shape[1], -1)
        first = win.argmax(axis=2)  # the first maximum, as PyTorch
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                i, j = divmod(int(first[n, c]), f)
                dxp[n, c, a * s + i, bb * s + j] += dout[n, c, a, bb]
    h, w = x.shape[2:]
    return dxp[:, :, p : p + h, p : p + w]


def avgpool_forward(x, f: int, s: int, p: int):
    ho, wo = out_size(x.shape[2], f, s, p), out_size(x.shape[3], f, s, p)
    out = np.zeros(x.shape[:2] + (ho, wo), dtype=x.dtype)
    for a, bb, (rs, cs), xp in _pool_windows(x, f, s, p, 0.0):
        out[:, :, a, bb] = xp[:, :, rs, cs].mean(axis=(2, 3))
    return out, (x, f, s, p)


def avgpool_backward(dout, cache):
    x, f, s, p = cache
    dxp = np.zeros(pad_hw(x, p).shape, dtype=dout.dtype)
    for a, bb, (rs, cs), _ in _pool_windows(x, f, s, p, 0.0):
        dxp[:, :, rs, cs] += dout[:, :, a, bb][:, :, None, None] / (f * f)
    h, w = x.shape[2:]
    return dxp[:, :, p : p + h, p : p + w]
