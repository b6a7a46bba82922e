"""Fast kernels on the engine's layout, single-threaded (Network splits each batch across threads).

The engine keeps a batch chunk's volumes as (C, H, W, N): depth, height, width, then the images
("batch last", the layout of cuda-convnet). Along (W, N) the numbers one filter tap reads are
contiguous, so:
- a convolution is GEMMs of the weight with columns copied in runs of Wo*N numbers (N at strides
  above 1), with no wasted column, and writes its output (K, Ho, Wo, N) in place, already in the
  layout the next layer reads. An undilated, ungrouped one takes its columns by rows (row_cols):
  only the F horizontal taps of each input row are copied (straight from the unpadded input, zeros
  for the padding), and each output row's columns are a view of F consecutive copied rows, so it
  copies a third (3x3) or a fifth (5x5) of what im2col copies: one batched GEMM per band of output
  rows. The others use im2col (a grouped one is one batched GEMM over the groups, whose rows are
  contiguous blocks; 1x1 stride 1 multiplies the input itself). Columns are made a band of output
  rows at a time and made again for the weight gradient. The input gradient of a stride-1
  convolution is itself a stride-1 convolution (of dout, padded, with the flipped, transposed
  filters), so it needs no col2im; other strides use col2im.
- pools loop over the F*F window offsets, each a whole-volume operation on runs of N numbers, with
  a fast path for 2x2 stride 2.
- a fused element-wise layer (layers.Context.epilogue) runs on each band of a convolution's output
  as soon as the GEMM has written it.
- relu, row_sums and row_dots stand in for NumPy calls 3 to 5 times slower than need be (maximum
  against the scalar 0, sums along rows, einsum): maximum against a row of zeros, BLAS products.
`reference.py` holds the naive NCHW loops these are tested against (tests convert the layouts).

Shapes: x (C, H, W, N); conv weight (K, C/G, F, F) (PyTorch's); outputs (K, Ho, Wo, N) with
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


_constant_rows: dict = {}  # (value, dtype) -> the longest row of that value needed yet


def _row_of(value: float, length: int, dtype) -> np.ndarray:
    """A read-only row (length,) of value, a view of a cached one."""
    row = _constant_rows.get((value, dtype))
    if row is None or len(row) < length:
        row = _constant_rows[(value, dtype)] = np.full(length, value, dtype=dtype)
        row.flags.writeable = False
    return row[:length]


def relu(rows: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = max(rows, 0), rows and out (R, L) with contiguous rows (out may be rows itself). Taken
    against a row of zeros, not the scalar 0: NumPy (2.4) runs maximum with a scalar operand in a loop
    about 5 times slower than its vectorised array loop."""
    return np.maximum(rows, _row_of(0.0, rows.shape[1], rows.dtype), out=out)


def row_sums(rows: np.ndarray) -> np.ndarray:
    """rows (R, L) -> (R,) the sum of each row: a BLAS matrix-vector product with ones, 3 to 4 times faster
    than NumPy's sum along the rows and about as exact (float32, L = 32768: 2e-7 of the sum)."""
    return rows @ _row_of(1.0, rows.shape[1], rows.dtype)


def row_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a, b (R, L) -> (R,) the dot product of each row of a with the same row of b: BLAS dots, 3 to 4
    times faster than einsum("ij,ij->i") and more exact."""
    return (a[:, None, :] @ b[:, :, None]).reshape(a.shape[0])


def pad_hw(x: np.ndarray, p: int, value: float = 0.0, extra: tuple[int, int] = (0, 0)) -> np.ndarray:
    """x (C, H, W, N) with its two spatial axes padded by p on each side, plus extra (rows, columns)
    below and to the right (where ceil-mode windows hang past the padded input); x itself when there
    is nothing to pad. Writes the border and the interior once each."""
    if p == 0 and extra == (0, 0):
        return x
    c, h, w, n = x.shape
    xp = np.empty((c, h + 2 * p + extra[0], w + 2 * p + extra[1], n), dtype=x.dtype)
    xp[:, :p] = value
    xp[:, p + h:] = value
    xp[:, p : p + h, :p] = value
    xp[:, p : p + h, p + w:] = value
    xp[:, p : p + h, p : p + w] = x
    return xp


def pool_geometry(shape: tuple, f: int, s: int, p: int, ceil: bool) -> tuple[int, int, tuple[int, int]]:
    """(Ho, Wo, extra) of an F x F stride-S pool on (C, H, W, N): extra (rows, columns) are what the
    last windows hang past the padded input in ceil mode ((0, 0) otherwise)."""
    h, w = shape[1:3]
    ho, wo = out_size(h, f, s, p, ceil=ceil), out_size(w, f, s, p, ceil=ceil)
    return ho, wo, (max((ho - 1) * s + f - h - 2 * p, 0), max((wo - 1) * s + f - w - 2 * p, 0))


def window(xp: np.ndarray, i: int, j: int, s: int, ho: int, wo: int) -> np.ndarray:
    """The view xp[:, i + s*a, j + s*b] for a < ho, b < wo: (C, ho, wo, N)."""
    return xp[:, i : i + s * (ho - 1) + 1 : s, j : j + s * (wo - 1) + 1 : s]


GROUP_BYTES = 1 << 20  # im2col columns per GEMM: small enough to stay in cache
ROW_BYTES = 1 << 22  # shifted input rows copied per band of by-row columns


def _band(rows: int, wo: int, n: int, item: int) -> int:
    """Output rows per im2col band: columns (rows, band * Wo * N) of about GROUP_BYTES; at least one."""
    return max(1, GROUP_BYTES // max(1, rows * wo * n * item))


def im2col(xp: np.ndarray, f: int, s: int, d: int, a0: int, a1: int, wo: int) -> np.ndarray:
    """Columns of output rows a0 .. a1-1 from a padded xp (C, Hp, Wp, N): (C*F*F, (a1-a0)*Wo*N), rows
    ordered like weight[k].ravel(), [c*F*F + i*F + j, (a*Wo + b)*N + n] = xp[c, (a0+a)*S + i*D, b*S + j*D, n].
    A view of xp itself (no copy) for a 1x1 stride-1 convolution."""
    c, _, _, n = xp.shape
    sc, sh, sw, sn = xp.strides
    taps = as_strided(xp[:, a0 * s:], (c, f, f, a1 - a0, wo, n), (sc, sh * d, sw * d, sh * s, sw * s, sn), writeable=False)
    return taps.reshape(c * f * f, (a1 - a0) * wo * n)  # a copy unless the taps are contiguous runs already


def by_rows(f: int, d: int, groups: int) -> bool:
    """Whether a convolution takes its columns by rows (row_cols): one group, undilated, wider than 1x1."""
    return groups == 1 and d == 1 and f > 1


def row_cols(x: np.ndarray, f: int, s: int, p: int, a0: int, a1: int, wo: int) -> np.ndarray:
    """By-row columns of output rows a0 .. a1-1 of x (C, H, W, N) padded by P: (a1-a0, F*C*F, Wo*N),
    [a, i*C*F + c*F + j, b*N + n] = x[c, (a0+a)*S + i - P, b*S + j - P, n], 0 in the padding. Only the F
    horizontal taps are copied, padded input row by row (rows, C, F, Wo, N), straight from x (no padded
    copy); each output row's columns are then a view of F consecutive copied rows, a third (a fifth for
    5x5) of what im2col copies. Rows ordered like weight.transpose(0, 2, 1, 3)[k].ravel()."""
    c, h, w, n = x.shape
    r0, r1 = a0 * s, (a1 - 1) * s + f  # padded rows
    shifted = np.empty((r1 - r0, c, f, wo, n), dtype=x.dtype)
    lo = min(max(r0, p), r1)  # padded rows lo .. hi-1 hold input rows
    hi = min(max(p + h, lo), r1)
    shifted[: lo - r0] = 0
    shifted[hi - r0:] = 0
    inside = shifted[lo - r0 : hi - r0]
    for j in range(f):
        b0 = min(max(0, -(-(p - j) // s)), wo)  # the output columns whose tap j lands inside x: b0 .. b1-1
        b1 = max(min(wo, (w - 1 + p - j) // s + 1), b0)
        inside[:, :, j, :b0] = 0
        inside[:, :, j, b1:] = 0
        if b0 < b1:
            inside[:, :, j, b0:b1] = x[:, lo - p : hi - p, b0 * s + j - p : (b1 - 1) * s + j - p + 1 : s].transpose(1, 0, 2, 3)
    row, item = wo * n, x.itemsize
    return as_strided(shifted, (a1 - a0, f * c * f, row), (s * c * f * row * item, row * item, item), writeable=False)


def _row_band(c: int, f: int, s: int, wo: int, n: int, item: int) -> int:
    """Output rows per band of by-row columns: their shifted input rows about ROW_BYTES; at least one."""
    return max(1, (ROW_BYTES // max(1, c * f * wo * n * item) - f) // s + 1)


def _columns_bytes(c: int, h: int, w: int, f: int, s: int, p: int, d: int, groups: int, n: int, item: int) -> int:
    """Bytes of the largest band of columns _bands makes for n images (C, H, W) (with im2col's padded copy
    of the input)."""
    ho, wo = out_size(h, f, s, p, d), out_size(w, f, s, p, d)
    if by_rows(f, d, groups):
        band = min(_row_band(c, f, s, wo, n, item), ho)
        return ((band - 1) * s + f) * c * f * wo * n * item
    padded = c * (h + 2 * p) * (w + 2 * p) * n * item if p else 0
    if f == 1 and s == 1:  # the columns are a view of the (padded) input
        return padded
    return padded + c * f * f * min(_band(c * f * f, wo, n, item), ho) * wo * n * item


def conv_workspace(c: int, h: int, w: int, k: int, f: int, s: int, p: int, d: int, groups: int, n: int,
                   item: int) -> int:
    """The most scratch conv_forward or conv_backward allocates for n images (C, H, W) beyond the input,
    the output, their gradients and the parameter gradients: the largest band of columns, of the input
    (forward, weight gradient) or of dout (a stride-1 input gradient), or for other strides the padded
    input gradient's border and a band of column gradients; and a few weight-sized matrices (the
    weight reordered or flipped, the weight gradient's partial products)."""
    x_band = 3 * k * c // groups * f * f * item + _columns_bytes(c, h, w, f, s, p, d, groups, n, item)
    ho, wo = out_size(h, f, s, p, d), out_size(w, f, s, p, d)
    if s == 1:
        crop = max(p - d * (f - 1), 0)
        dout_band = _columns_bytes(k, ho - 2 * crop, wo - 2 * crop, f, 1, max(d * (f - 1) - p, 0), d, groups, n, item)
        return max(x_band, 3 * k * c // groups * f * f * item + dout_band)
    border = c * ((h + 2 * p) * (w + 2 * p) - h * w) * n * item
    return max(x_band, border + c * f * f * min(_band(c * f * f, wo, n, item), ho) * wo * n * item)


def _groups(a: np.ndarray, groups: int) -> np.ndarray:
    """a (..., G*R, L) as (..., G, R, L), group g's rows apart, for a batched matmul; a itself for one
    group (a matmul broadcasting a singleton group axis on both sides costs up to 15% more)."""
    return a if groups == 1 else a.reshape(a.shape[:-2] + (groups, a.shape[-2] // groups, a.shape[-1]))


def _bands(x: np.ndarray, f: int, s: int, p: int, d: int, groups: int, ho: int, wo: int):
    """(a0, a1, columns) of x padded by P for bands of output rows a0 .. a1-1 covering all Ho: row_cols
    when by_rows, else im2col."""
    c, _, _, n = x.shape
    if by_rows(f, d, groups):
        step = _row_band(c, f, s, wo, n, x.itemsize)
        for a0 in range(0, ho, step):
            yield a0, min(a0 + step, ho), row_cols(x, f, s, p, a0, min(a0 + step, ho), wo)
        return
    xp, step = pad_hw(x, p), _band(c * f * f, wo, n, x.itemsize)
    for a0 in range(0, ho, step):
        yield a0, min(a0 + step, ho), im2col(xp, f, s, d, a0, min(a0 + step, ho), wo)


def _weight_matrix(w: np.ndarray, d: int, groups: int) -> np.ndarray:
    """The weight (K, C/G, F, F) as the GEMM's left matrix for the columns _bands gives: (K, F*C*F) in
    row_cols' order, else (K, C/G*F*F) split into groups."""
    k, _, f, _ = w.shape
    if by_rows(f, d, groups):
        return w.transpose(0, 2, 1, 3).reshape(k, -1)
    return _groups(w.reshape(k, -1), groups)


def conv_forward(x, w, b, s: int, p: int, d: int, need_dx: bool = True, groups: int = 1, epilogue=None):
    """x (C, H, W, N), w (K, C/G, F, F), b (K,) or None (no bias) -> out (K, Ho, Wo, N), cache.
    need_dx=False (the first layer) lets backward skip the input gradient. epilogue: None, or
    layers.Context.epilogue, applied band by band."""
    return convolve(x, w, b, s, p, d, groups, epilogue), (x, w, s, p, d, need_dx, groups, b is not None)


def convolve(x, w, b, s: int, p: int, d: int, groups: int = 1, epilogue=None) -> np.ndarray:
    """The convolution of conv_forward, without a cache: out (K, Ho, Wo, N)."""
    c, h, wd, n = x.shape
    k, _, f, _ = w.shape
    ho, wo = out_size(h, f, s, p, d), out_size(wd, f, s, p, d)
    out = np.empty((k, ho, wo, n), dtype=x.dtype)
    flat, row = out.reshape(k, ho * wo * n), wo * n
    per_row = flat.reshape(k, ho, row).transpose(1, 0, 2)  # (Ho, K, Wo*N): the by-row GEMMs' outputs
    wm = _weight_matrix(w, d, groups)
    band = epilogue(out) if epilogue else None
    for a0, a1, cols in _bands(x, f, s, p, d, groups, ho, wo):
        part = flat[:, a0 * row : a1 * row]
        if cols.ndim == 3:
            np.matmul(wm, cols, out=per_row[a0:a1])
        else:
            np.matmul(wm, _groups(cols, groups), out=_groups(part, groups))
        del cols  # before the next band's columns are made
        if b is not None:
            part += b[:, None]
        if band:
            band(a0 * row, a1 * row)
    return out


def conv_backward(dout, cache):
    """dout (K, Ho, Wo, N) -> dx (C, H, W, N) (None if the forward said need_dx=False), dw (K, C/G, F, F),
    db (K,) (None without a bias)."""
    x, w, s, p, d, need_dx, groups, has_bias = cache
    k, ho, wo, n = dout.shape
    dout = np.ascontiguousarray(dout)
    flat = dout.reshape(k, ho * wo * n)
    db = row_sums(flat) if has_bias else None
    dw = _weight_grad(x, w, flat, s, p, d, groups, ho, wo)
    if not need_dx:
        return None, dw, db
    if s == 1:
        return _conv_input_grad(dout, w, p, d, groups), dw, db
    return _col2im_input_grad(flat, x.shape, w, s, p, d, groups, ho, wo), dw, db


def _col2im_input_grad(flat, shape: tuple, w, s: int, p: int, d: int, groups: int, ho: int, wo: int) -> np.ndarray:
    """dx (C, H, W, N) of a strided convolution from dout's rows flat (K, Ho*Wo*N): the columns' gradient,
    band by band, added back under every filter tap."""
    c, h, wd, n = shape
    k, _, f, _ = w.shape
    dxp = np.zeros((c, h + 2 * p, wd + 2 * p, n), dtype=flat.dtype)
    wt = _groups(w.reshape(k, -1), groups).swapaxes(-1, -2)
    step, row = _band(c * f * f, wo, n, flat.itemsize), wo * n
    for a0 in range(0, ho, step):
        a1 = min(a0 + step, ho)
        dcols = np.matmul(wt, _groups(flat[:, a0 * row : a1 * row], groups)).reshape(c, f, f, a1 - a0, wo, n)
        for i in range(f):
            for j in range(f):
                window(dxp, a0 * s + i * d, j * d, s, a1 - a0, wo)[...] += dcols[:, i, j]
    return dxp[:, p : p + h, p : p + wd] if p else dxp


def _weight_grad(x, w, flat, s: int, p: int, d: int, groups: int, ho: int, wo: int) -> np.ndarray:
    """dw (K, C/G, F, F) from x (C, H, W, N) and dout's rows flat (K, Ho*Wo*N), the columns made again band
    by band as in the forward (and let go before the input gradient makes its own)."""
    k, _, f, _ = w.shape
    row = wo * x.shape[3]
    per_row = flat.reshape(k, ho, row).transpose(1, 0, 2)
    dwm = np.zeros(_weight_matrix(w, d, groups).shape, dtype=flat.dtype)
    for a0, a1, cols in _bands(x, f, s, p, d, groups, ho, wo):
        if cols.ndim == 3:  # batched over as many rows as keep their (K, F*C*F) products within GROUP_BYTES
            step = max(1, GROUP_BYTES // (dwm.size * dwm.itemsize))
            for r0 in range(0, a1 - a0, step):
                r1 = min(r0 + step, a1 - a0)
                dwm += np.matmul(per_row[a0 + r0 : a0 + r1], cols[r0:r1].swapaxes(-1, -2)).sum(axis=0)
        else:
            dwm += np.matmul(_groups(flat[:, a0 * row : a1 * row], groups), _groups(cols, groups).swapaxes(-1, -2))
        del cols  # before the next band's columns are made
    return dwm.reshape(k, f, -1, f).transpose(0, 2, 1, 3).copy() if by_rows(f, d, groups) else dwm.reshape(w.shape)


def _conv_input_grad(dout, w, p: int, d: int, groups: int):
    """dx of a stride-1 convolution: dout, padded by D(F-1) - P (or cropped, when P is larger),
    convolved (in the same groups) with the flipped, transposed filters."""
    k, ho, wo, _ = dout.shape
    _, cg, f, _ = w.shape
    span = d * (f - 1)
    crop = max(p - span, 0)
    if crop:
        dout = dout[:, crop : ho - crop, crop : wo - crop]
    kg = k // groups
    flipped = w.reshape(groups, kg, cg, f, f)[..., ::-1, ::-1].transpose(0, 2, 1, 3, 4)
    return convolve(dout, np.ascontiguousarray(flipped).reshape(groups * cg, kg, f, f), None, 1, max(span - p, 0), d,
                    groups)


def maxpool_forward(x, f: int, s: int, p: int, ceil: bool = False, keep_arg: bool = True):
    """x (C, H, W, N) -> out (C, Ho, Wo, N), cache (the offset k = i*F + j of each window's first
    maximum; None without keep_arg, when no backward follows); padding never wins (it is -inf).
    ceil: Ho and Wo rounded up (see out_size)."""
    if f == s == 2 and p == 0 and x.shape[1] % 2 == 0 and x.shape[2] % 2 == 0:
        if not keep_arg:
            top = np.maximum(x[:, 0::2, 0::2], x[:, 0::2, 1::2])
            return np.maximum(top, np.maximum(x[:, 1::2, 0::2], x[:, 1::2, 1::2]), out=top), None
        return _maxpool_2x2(x)
    ho, wo, extra = pool_geometry(x.shape, f, s, p, ceil)
    xp = pad_hw(x, p, -np.inf, extra)
    out = window(xp, 0, 0, s, ho, wo).copy()
    arg = np.zeros(out.shape, dtype=np.uint8 if f * f <= 256 else np.int16)
    for k in range(1, f * f):  # (copyto with where= was 10x slower than these whole-array operations)
        cand = window(xp, k // f, k % f, s, ho, wo)
        better = cand > out  # strict: ties keep the first maximum, as PyTorch does
        np.maximum(out, cand, out=out)
        arg ^= (arg ^ arg.dtype.type(k)) * better  # k where better, else unchanged
    return out, (x.shape, f, s, p, arg, xp.shape)


def _maxpool_2x2(x):
    """The common 2x2 stride-2 pool: a tournament of the four window corners."""
    a, b, c, e = x[:, 0::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 0::2], x[:, 1::2, 1::2]
    top, bottom = np.maximum(a, b), np.maximum(c, e)
    right, lower_right = b > a, e > c
    low = bottom > top
    out = np.maximum(top, bottom, out=top)
    column = right ^ (low & (right ^ lower_right))  # the winning pair's column (np.where is slower)
    arg = np.left_shift(low.view(np.uint8), 1)  # window offset k = 2 * row + column, as uint8
    arg |= column.view(np.uint8)
    return out, (x.shape, 2, 2, 0, arg, x.shape)


def maxpool_backward(dout, cache):
    """dout (C, Ho, Wo, N) -> dx (C, H, W, N): each gradient goes to its window's maximum."""
    shape, f, s, p, arg, padded = cache
    c, h, w, n = shape
    ho, wo = dout.shape[1:3]
    if s == f and p == 0 and h == f * ho and w == f * wo:  # tiling windows: each input in one window
        dx = np.empty(shape, dtype=dout.dtype)
        for k in range(f * f):
            np.multiply(dout, arg == k, out=window(dx, k // f, k % f, s, ho, wo))
        return dx
    dxp = np.zeros(padded, dtype=dout.dtype)
    for k in range(f * f):
        window(dxp, k // f, k % f, s, ho, wo)[...] += dout * (arg == k)  # (np.where: 10x slower)
    return dxp[:, p : p + h, p : p + w] if dxp.shape != shape else dxp


def avgpool_forward(x, f: int, s: int, p: int, ceil: bool = False):
    """x (C, H, W, N) -> out (C, Ho, Wo, N); zero padding counts in the average (PyTorch's
    count_include_pad). ceil: Ho and Wo rounded up (see out_size); a window hanging past the padded
    input then averages only its part inside it, as PyTorch."""
    ho, wo, extra = pool_geometry(x.shape, f, s, p, ceil)
    xp = pad_hw(x, p, 0.0, extra)
    out = window(xp, 0, 0, s, ho, wo).copy()
    for k in range(1, f * f):
        out += window(xp, k // f, k % f, s, ho, wo)
    divisor = _pool_divisor(x.shape, f, s, p, ho, wo, extra, x.dtype)
    out /= divisor
    return out, (x.shape, f, s, p, divisor, xp.shape)


def _pool_divisor(shape, f: int, s: int, p: int, ho: int, wo: int, extra: tuple[int, int], dtype):
    """F*F, or with windows hanging past the padded input (extra) the (Ho, Wo, 1) array of the part of
    each window inside it."""
    if extra == (0, 0):
        return f * f
    inside = [np.minimum(np.arange(n) * s + f, size + 2 * p) - np.arange(n) * s
              for n, size in ((ho, shape[1]), (wo, shape[2]))]
    return np.outer(*inside).astype(dtype)[:, :, None]


def avgpool_backward(dout, cache):
    """dout (C, Ho, Wo, N) -> dx (C, H, W, N)."""
    shape, f, s, p, divisor, padded = cache
    c, h, w, n = shape
    ho, wo = dout.shape[1:3]
    share = dout / divisor
    if s == f and p == 0 and h == f * ho and w == f * wo:  # tiling windows: each input in one window
        dx = np.empty(shape, dtype=dout.dtype)
        for k in range(f * f):
            window(dx, k // f, k % f, s, ho, wo)[...] = share
        return dx
    dxp = np.zeros(padded, dtype=dout.dtype)
    for k in range(f * f):
        window(dxp, k // f, k % f, s, ho, wo)[...] += share
    return dxp[:, p : p + h, p : p + w] if dxp.shape != shape else dxp
