"""Naive loop kernels on (N, C, H, W): slow, obviously right, the test oracle for `kernels.py` (same
signatures, on the engine's layout)."""
from __future__ import annotations

import numpy as np

from .kernels import out_size


def pad_hw(x, p: int):
    """(N, C, H, W) zero-padded by p on both spatial axes."""
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def conv_forward(x, w, b, s: int, p: int, d: int, groups: int = 1):
    n, c, h, wd = x.shape
    k, cg, f, _ = w.shape
    ho, wo = out_size(h, f, s, p, d), out_size(wd, f, s, p, d)
    xp = pad_hw(x, p)
    out = np.zeros((n, k, ho, wo), dtype=x.dtype)
    span = d * (f - 1) + 1
    for a in range(ho):
        for bb in range(wo):
            patch = xp[:, :, a * s : a * s + span : d, bb * s : bb * s + span : d]  # (N, C, F, F)
            for kk in range(k):
                g = kk // (k // groups)  # filter kk sees input slices g*C/G .. (g+1)*C/G - 1
                out[:, kk, a, bb] = (patch[:, g * cg : (g + 1) * cg] * w[kk]).sum(axis=(1, 2, 3))
                if b is not None:
                    out[:, kk, a, bb] += b[kk]
    return out, (x, w, s, p, d, groups, b is not None)


def conv_backward(dout, cache):
    x, w, s, p, d, groups, has_bias = cache
    k, cg, f, _ = w.shape
    xp = pad_hw(x, p)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    span = d * (f - 1) + 1
    for a in range(dout.shape[2]):
        for bb in range(dout.shape[3]):
            rows, cols = slice(a * s, a * s + span, d), slice(bb * s, bb * s + span, d)
            for kk in range(k):
                c = slice(kk // (k // groups) * cg, (kk // (k // groups) + 1) * cg)
                g = dout[:, kk, a, bb][:, None, None, None]
                dw[kk] += (xp[:, c, rows, cols] * g).sum(axis=0)
                dxp[:, c, rows, cols] += w[kk] * g
    h, wd = x.shape[2:]
    return dxp[:, :, p : p + h, p : p + wd], dw, dout.sum(axis=(0, 2, 3)) if has_bias else None


def _pool_windows(x, f, s, p, ceil):
    """(a, b, rows, columns) of every window, the rows and columns in the unpadded input, clipped to
    it, and PyTorch's count_include_pad divisor: the window's part inside the padded input."""
    h, w = x.shape[2:]
    for a in range(out_size(h, f, s, p, ceil=ceil)):
        for bb in range(out_size(w, f, s, p, ceil=ceil)):
            r0, c0 = a * s - p, bb * s - p
            r1, c1 = min(r0 + f, h + p), min(c0 + f, w + p)
            divisor = (r1 - r0) * (c1 - c0)
            yield a, bb, slice(max(r0, 0), min(r1, h)), slice(max(c0, 0), min(c1, w)), divisor


def maxpool_forward(x, f: int, s: int, p: int, ceil: bool = False):
    ho, wo = out_size(x.shape[2], f, s, p, ceil=ceil), out_size(x.shape[3], f, s, p, ceil=ceil)
    out = np.zeros(x.shape[:2] + (ho, wo), dtype=x.dtype)
    for a, bb, rs, cs, _ in _pool_windows(x, f, s, p, ceil):
        out[:, :, a, bb] = x[:, :, rs, cs].max(axis=(2, 3))
    return out, (x, f, s, p, ceil)


def maxpool_backward(dout, cache):
    x, f, s, p, ceil = cache
    dx = np.zeros(x.shape, dtype=dout.dtype)
    for a, bb, rs, cs, _ in _pool_windows(x, f, s, p, ceil):
        win = x[:, :, rs, cs]
        first = win.reshape(x.shape[0], x.shape[1], -1).argmax(axis=2)  # the first maximum, as PyTorch
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                i, j = divmod(int(first[n, c]), win.shape[3])
                dx[n, c, rs.start + i, cs.start + j] += dout[n, c, a, bb]
    return dx


def avgpool_forward(x, f: int, s: int, p: int, ceil: bool = False):
    ho, wo = out_size(x.shape[2], f, s, p, ceil=ceil), out_size(x.shape[3], f, s, p, ceil=ceil)
    out = np.zeros(x.shape[:2] + (ho, wo), dtype=x.dtype)
    for a, bb, rs, cs, divisor in _pool_windows(x, f, s, p, ceil):
        out[:, :, a, bb] = x[:, :, rs, cs].sum(axis=(2, 3)) / divisor
    return out, (x, f, s, p, ceil)


def avgpool_backward(dout, cache):
    x, f, s, p, ceil = cache
    dx = np.zeros(x.shape, dtype=dout.dtype)
    for a, bb, rs, cs, divisor in _pool_windows(x, f, s, p, ceil):
        dx[:, :, rs, cs] += dout[:, :, a, bb][:, :, None, None] / divisor
    return dx
