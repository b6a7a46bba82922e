"""Fast NCHW kernels, single-threaded (Network splits each batch across threads).

Convolution with stride 1, the common case, runs on "padded rows": each image's padded (C, Hp, Wp)
planes are flat, so the window of filter tap (i, j) is one contiguous run of Ho*Wp numbers, and
im2col is a copy of long runs; the output is computed for all Wp columns of each row and the
d(F-1) columns that wrap past the row end are dropped. Its input gradient is itself a stride-1
convolution (of dout with the flipped, transposed filters), so it needs no col2im. Other strides
use a classic im2col + GEMM, and col2im for the input gradient. Both run image batch by image
batch, with columns small enough to stay in cache, and recompute the columns for the weight
gradient. A grouped convolution (G groups: filter k sees the input slices of its group only) is one
batched GEMM over the groups, whose im2col rows are contiguous blocks.
Pooling loops over the F*F window offsets, each a whole-volume vector operation, with a fast
path for 2x2 stride 2. `reference.py` holds the naive loops these are tested against.

Shapes: x (N, C, H, W); conv weight (K, C/G, F, F); outputs (N, K, Ho, Wo) with
Ho = (H + 2P - D(F-1) - 1) / S + 1 rounded down (the last rows a window does not reach are never
seen), or for pools with ceil=True rounded up as PyTorch's ceil_mode (see out_size).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def out_size(size: int, f: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    """Output length along one axis: (size + 2P - D(F-1) - 1)/S + 1 rounded down, or with ceil rounded
    up as PyTorch's ceil_mode, whose last window must start inside the input or its left padding."""
    num = size + 2 * p - d * (f - 1) - 1
    if not ceil:
        return num // s + 1
    out = -(-num // s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


def pad_hw(x: np.ndarray, p: int, value: float = 0.0, extra: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Pad the two spatial axes of (N, C, H, W) by p on each side, plus extra (rows, columns) below
    and to the right (where ceil-mode windows hang past the padded input)."""
    if p == 0 and extra == (0, 0):
        return x
    return np.pad(x, ((0, 0), (0, 0), (p, p + extra[0]), (p, p + extra[1])), constant_values=value)


def pool_geometry(shape: tuple, f: int, s: int, p: int, ceil: bool) -> tuple[int, int, tuple[int, int]]:
    """(Ho, Wo, extra) of an F x F stride-S pool on (N, C, H, W): extra (rows, columns) are what the
    last windows hang past the padded input in ceil mode ((0, 0) otherwise)."""
    h, w = shape[2:]
    ho, wo = out_size(h, f, s, p, ceil=ceil), out_size(w, f, s, p, ceil=ceil)
    return ho, wo, (max((ho - 1) * s + f - h - 2 * p, 0), max((wo - 1) * s + f - w - 2 * p, 0))


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


GROUP_BYTES = 1 << 20  # im2col columns per GEMM: small enough to stay in the L2 cache


def pad_rows(x: np.ndarray, p: int, span: int) -> np.ndarray:
    """x (N, C, H, W) zero-padded by p, plus enough zero rows below for the flat runs of the
    last filter taps (which wrap d(F-1) = span numbers past the last row): (N, C, Hp + extra, Wp)."""
    n, c, h, w = x.shape
    wp = w + 2 * p
    xp = np.zeros((n, c, h + 2 * p - (-span // wp), wp), dtype=x.dtype)
    xp[:, :, p : p + h, p : p + w] = x
    return xp


def row_windows(xp: np.ndarray, f: int, d: int, ho: int) -> np.ndarray:
    """Stride-1 im2col on padded rows, as a view: xp (N, C, Hp + extra, Wp) from pad_rows ->
    (N, C, F, F, Ho*Wp), where [n, c, i, j, a*Wp + b] is the input under tap (i, j) of output
    position (a, b). Columns with b >= Wo are junk (the run wraps past the row end)."""
    n, c, rows, wp = xp.shape
    plane, item = rows * wp, xp.itemsize
    return as_strided(xp, (n, c, f, f, ho * wp), (c * plane * item, plane * item, d * wp * item, d * item, item),
                      writeable=False)


def row_cols(windows: np.ndarray) -> np.ndarray:
    """A (g, C, F, F, L) slice of row_windows copied into columns (g, C*F*F, L), rows ordered like weight[k].ravel()."""
    g, c, f, _, length = windows.shape
    return np.ascontiguousarray(windows).reshape(g, c * f * f, length)


def _group_size(c: int, f: int, ho: int, wo: int, item: int) -> int:
    """How many images' columns (C*F*F, Ho*Wo each) fit GROUP_BYTES; at least one."""
    return max(1, GROUP_BYTES // (c * f * f * ho * wo * item))


def _groups(a: np.ndarray, groups: int) -> np.ndarray:
    """a (..., G*R, L) as (..., G, R, L), group g's rows apart, for a batched matmul; a itself for one
    group (a matmul broadcasting a singleton group axis on both sides costs up to 15% more)."""
    return a if groups == 1 else a.reshape(a.shape[:-2] + (groups, a.shape[-2] // groups, a.shape[-1]))


def _conv_rows(x, w, b, p: int, d: int, groups: int = 1):
    """Stride-1 convolution: x (N, C, H, W), w (K, C/G, F, F), b (K,) or None -> (out (N, K, Ho, Wo),
    padded input). Runs im2col and the GEMM batch by batch of images, so the columns are still in cache."""
    n, c, h, wd = x.shape
    k, _, f, _ = w.shape
    span = d * (f - 1)
    ho, wo = h + 2 * p - span, wd + 2 * p - span
    xp = pad_rows(x, p, span)
    wp = xp.shape[3]
    w2 = _groups(w.reshape(k, -1), groups)
    out = np.empty((n, k, ho, wo), dtype=x.dtype)
    step = _group_size(c, f, ho, wp, x.itemsize)
    windows = row_windows(xp, f, d, ho)
    for i in range(0, n, step):
        y = np.matmul(w2, _groups(row_cols(windows[i : i + step]), groups)).reshape(-1, k, ho, wp)[..., :wo]
        if b is None:
            out[i : i + step] = y
        else:
            np.add(y, b.reshape(1, k, 1, 1), out=out[i : i + step])
    return out, xp


def conv_forward(x, w, b, s: int, p: int, d: int, need_dx: bool = True, groups: int = 1):
    """x (N, C, H, W), w (K, C/G, F, F), b (K,) or None (no bias) -> out (N, K, Ho, Wo), cache.
    need_dx=False (the first layer) lets backward skip the input gradient."""
    n, c, h, wd = x.shape
    k, _, f, _ = w.shape
    if s == 1:
        out, xp = _conv_rows(x, w, b, p, d, groups)
        return out, ("rows", x.shape, w, p, d, xp, need_dx, groups, b is not None)
    ho, wo = out_size(h, f, s, p, d), out_size(wd, f, s, p, d)
    xp = pad_hw(x, p)
    out = np.empty((n, k, ho, wo), dtype=x.dtype)
    w2 = _groups(w.reshape(k, -1), groups)
    step = _group_size(c, f, ho, wo, x.itemsize)
    for i in range(0, n, step):
        y = np.matmul(w2, _groups(im2col(xp[i : i + step], f, s, d, ho, wo), groups)).reshape(k, -1, ho, wo)
        if b is None:
            out[i : i + step] = y.transpose(1, 0, 2, 3)
        else:
            np.add(y.transpose(1, 0, 2, 3), b.reshape(1, k, 1, 1), out=out[i : i + step])
    return out, ("cols", x.shape, w, (s, p, d, ho, wo), xp, need_dx, groups, b is not None)


def conv_backward(dout, cache):
    """dout (N, K, Ho, Wo) -> dx (N, C, H, W) (None if the forward said need_dx=False), dw (K, C/G, F, F),
    db (K,) (None without a bias)."""
    db = dout.sum(axis=(0, 2, 3)) if cache[-1] else None
    if cache[0] == "rows":
        return (*_conv_rows_backward(dout, cache), db)
    _, shape, w, (s, p, d, ho, wo), xp, need_dx, groups, _ = cache
    n, c = shape[:2]
    k, f = w.shape[0], w.shape[2]
    w2 = _groups(w.reshape(k, -1), groups)
    dw = np.zeros(w2.shape, dtype=dout.dtype)
    dx = np.empty(shape, dtype=dout.dtype) if need_dx else None
    step = _group_size(c, f, ho, wo, xp.itemsize)
    for i in range(0, n, step):  # columns recomputed batch by batch, as in the forward
        part = xp[i : i + step]
        dy = _groups(dout[i : i + step].transpose(1, 0, 2, 3).reshape(k, -1), groups)
        cols = im2col(part, f, s, d, ho, wo)
        dw += np.matmul(dy, _groups(cols, groups).swapaxes(-1, -2))
        if need_dx:
            dcols = np.matmul(w2.swapaxes(-1, -2), dy).reshape(cols.shape)
            dx[i : i + step] = col2im(dcols, (len(part),) + tuple(shape[1:]), f, s, d, p, ho, wo)
    return dx, dw.reshape(w.shape), db


def _conv_rows_backward(dout, cache):
    """dw from the recomputed columns, batch by batch; dx = dout, padded by D(F-1) - P (or cropped,
    when P is larger), convolved (in the same groups) with the flipped, transposed filters."""
    _, shape, w, p, d, xp, need_dx, groups, _ = cache
    n, k, ho, wo = dout.shape
    c, cg, f = shape[1], w.shape[1], w.shape[2]
    wp = xp.shape[3]
    dw = np.zeros((c * f * f, k) if groups == 1 else (groups, cg * f * f, k // groups), dtype=dout.dtype)
    step = _group_size(c, f, ho, wp, xp.itemsize)
    windows = row_windows(xp, f, d, ho)
    for i in range(0, n, step):
        cols = row_cols(windows[i : i + step])
        dy = np.zeros((len(cols), k, ho, wp), dtype=dout.dtype)
        dy[..., :wo] = dout[i : i + step]  # junk columns get no gradient
        dy = _groups(dy.reshape(len(cols), k, -1), groups).swapaxes(-1, -2)
        dw += np.matmul(_groups(cols, groups), dy).sum(axis=0)
    dw = np.ascontiguousarray(dw.swapaxes(-1, -2)).reshape(w.shape)
    if not need_dx:
        return None, dw
    span = d * (f - 1)
    crop = max(p - span, 0)
    if crop:
        dout = dout[:, :, crop : ho - crop, crop : wo - crop]
    kg = k // groups
    flipped = w.reshape(groups, kg, cg, f, f)[..., ::-1, ::-1].transpose(0, 2, 1, 3, 4)
    dx, _ = _conv_rows(dout, np.ascontiguousarray(flipped).reshape(c, kg, f, f), None, max(span - p, 0), d, groups)
    return dx, dw


def maxpool_forward(x, f: int, s: int, p: int, ceil: bool = False):
    """x (N, C, H, W) -> out (N, C, Ho, Wo), cache (the offset k = i*F + j of each window's first
    maximum); padding never wins (it is -inf). ceil: Ho and Wo rounded up (see out_size)."""
    if f == s == 2 and p == 0 and x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0:
        return _maxpool_2x2(x)
    ho, wo, extra = pool_geometry(x.shape, f, s, p, ceil)
    xp = pad_hw(x, p, -np.inf, extra)
    out = window(xp, 0, 0, s, ho, wo).copy()
    arg = np.zeros(out.shape, dtype=np.int16)
    for k in range(1, f * f):
        cand = window(xp, k // f, k % f, s, ho, wo)
        better = cand > out  # strict: ties keep the first maximum, as PyTorch does
        np.copyto(out, cand, where=better)
        np.copyto(arg, k, where=better)
    return out, (x.shape, f, s, p, arg, xp.shape)


def _maxpool_2x2(x):
    """The common 2x2 stride-2 pool: a tournament of the four window corners."""
    a, b, c, e = x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]
    top, bottom = np.maximum(a, b), np.maximum(c, e)
    right, lower_right = b > a, e > c
    low = bottom > top
    out = np.maximum(top, bottom, out=top)
    column = right ^ (low & (right ^ lower_right))  # the winning pair's column (np.where is slower)
    arg = np.left_shift(low.view(np.uint8), 1)  # window offset k = 2 * row + column, as uint8
    arg |= column.view(np.uint8)
    return out, (x.shape, 2, 2, 0, arg, x.shape)


def maxpool_backward(dout, cache):
    """dout (N, C, Ho, Wo) -> dx (N, C, H, W): each gradient goes to its window's maximum."""
    shape, f, s, p, arg, padded = cache
    n, c, h, w = shape
    ho, wo = dout.shape[2:]
    if s == f and p == 0 and h == f * ho and w == f * wo:  # tiling windows: each input in one window
        dx = np.empty(shape, dtype=dout.dtype)
        for k in range(f * f):
            np.multiply(dout, arg == k, out=window(dx, k // f, k % f, s, ho, wo))
        return dx
    dxp = np.zeros(padded, dtype=dout.dtype)
    for k in range(f * f):
        window(dxp, k // f, k % f, s, ho, wo)[...] += np.where(arg == k, dout, 0)
    return dxp[:, :, p : p + h, p : p + w] if dxp.shape != shape else dxp


def avgpool_forward(x, f: int, s: int, p: int, ceil: bool = False):
    """x (N, C, H, W) -> out (N, C, Ho, Wo); zero padding counts in the average (PyTorch's
    count_include_pad). ceil: Ho and Wo rounded up (see out_size); a window hanging past the padded
    input then averages only its part inside it, as PyTorch."""
    ho, wo, extra = pool_geometry(x.shape, f, s, p, ceil)
    xp = pad_hw(x, p, 0.0, extra)
    out = np.zeros((x.shape[0], x.shape[1], ho, wo), dtype=x.dtype)
    for k in range(f * f):
        out += window(xp, k // f, k % f, s, ho, wo)
    divisor = _pool_divisor(x.shape, f, s, p, ho, wo, extra, x.dtype)
    out /= divisor
    return out, (x.shape, f, s, p, divisor, xp.shape)


def _pool_divisor(shape, f: int, s: int, p: int, ho: int, wo: int, extra: tuple[int, int], dtype):
    """F*F, or with windows hanging past the padded input (extra) the (Ho, Wo) array of the part of
    each window inside it."""
    if extra == (0, 0):
        return f * f
    inside = [np.minimum(np.arange(n) * s + f, size + 2 * p) - np.arange(n) * s
              for n, size in ((ho, shape[2]), (wo, shape[3]))]
    return np.outer(*inside).astype(dtype)


def avgpool_backward(dout, cache):
    """dout (N, C, Ho, Wo) -> dx (N, C, H, W)."""
    shape, f, s, p, divisor, padded = cache
    n, c, h, w = shape
    ho, wo = dout.shape[2:]
    dxp = np.zeros(padded, dtype=dout.dtype)
    share = dout / divisor
    for k in range(f * f):
        window(dxp, k // f, k % f, s, ho, wo)[...] += share
    return dxp[:, :, p : p + h, p : p + w] if dxp.shape != shape else dxp
