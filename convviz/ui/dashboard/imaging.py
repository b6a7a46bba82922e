"""NumPy helpers that turn weights and activations into pictures (no Qt): normalisation,
colour maps as lookup tables, and mosaics of tiles. Images are row-major (H, W) or (H, W, 4) uint8."""
from __future__ import annotations

import numpy as np

BACKGROUND = (30, 32, 36, 255)  # the gap colour between tiles, the views' dark background


def _ramp(stops: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    """A (256, 4) uint8 RGBA lookup table interpolating colour stops [(position 0..1, rgb)]."""
    x = np.linspace(0.0, 1.0, 256)
    pos = [p for p, _ in stops]
    rgb = np.stack([np.interp(x, pos, [c[k] for _, c in stops]) for k in range(3)], axis=1)
    return np.concatenate([rgb, np.full((256, 1), 255.0)], axis=1).round().astype(np.uint8)


# blue - near white - red, for signed values (weights, gradients) normalised to [-1, 1]
DIVERGING = _ramp([(0.0, (33, 102, 172)), (0.25, (103, 169, 207)), (0.5, (240, 240, 240)),
                   (0.75, (239, 138, 98)), (1.0, (178, 24, 43))])
# black - purple - orange - yellow (inferno-like), for activations normalised to [0, 1]
SEQUENTIAL = _ramp([(0.0, (0, 0, 4)), (0.25, (87, 16, 110)), (0.5, (188, 55, 84)),
                    (0.75, (249, 142, 9)), (1.0, (252, 255, 164))])


def symmetric_scale(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """a / max|a| over axes, so 0 stays 0 and the result lies in [-1, 1] (all-zero stays zero)."""
    peak = np.abs(a).max(axis=axes, keepdims=True)
    return a / np.where(peak > 0, peak, 1.0)


def minmax_scale(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """(a - min) / (max - min) over axes, in [0, 1] (a constant gives 0.5)."""
    lo = a.min(axis=axes, keepdims=True)
    span = a.max(axis=axes, keepdims=True) - lo
    return np.where(span > 0, (a - lo) / np.where(span > 0, span, 1.0), 0.5)


def colorize(values: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """values in [0, 1] (H, W), NaN = gap -> RGBA uint8 (H, W, 4); gaps get BACKGROUND."""
    finite = np.isfinite(values)
    idx = (np.clip(np.where(finite, values, 0.0), 0.0, 1.0) * 255).astype(np.intp)
    out = lut[idx]
    out[~finite] = BACKGROUND
    return out


def rgb_to_rgba(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) floats in [0, 1], NaN = gap -> RGBA uint8 (H, W, 4)."""
    finite = np.isfinite(rgb).all(axis=-1)
    out = np.empty(rgb.shape[:2] + (4,), np.uint8)
    out[..., :3] = (np.clip(np.nan_to_num(rgb), 0.0, 1.0) * 255).round().astype(np.uint8)
    out[..., 3] = 255
    out[~finite] = BACKGROUND
    return out


def grid_shape(n: int, aspect: float = 1.6) -> tuple[int, int]:
    """(rows, cols) for n tiles, about aspect times wider than high."""
    cols = max(1, int(np.ceil(np.sqrt(n * aspect))))
    cols = min(cols, n) if n else 1
    return int(np.ceil(n / cols)) if n else 1, cols


def mosaic(tiles: np.ndarray, cols: int, gap: int = 1) -> np.ndarray:
    """tiles (n, h, w) or (n, h, w, c) -> one image of rows x cols tiles with NaN gaps between them,
    (rows*(h+gap)-gap, cols*(w+gap)-gap[, c]) float; tile k's top left is tile_place(k, ...)."""
    n, h, w = tiles.shape[:3]
    rows = max(1, -(-n // cols))
    extra = tiles.shape[3:]
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap) + extra, np.nan)
    for k in range(n):
        top, left = tile_place(k, cols, h, w, gap)
        out[top: top + h, left: left + w] = tiles[k]
    return out


def tile_place(k: int, cols: int, h: int, w: int, gap: int = 1) -> tuple[int, int]:
    """(top, left) of tile k in a mosaic of h x w tiles, cols to a row."""
    r, c = divmod(k, cols)
    return r * (h + gap), c * (w + gap)


def tile_at(y: float, x: float, n: int, cols: int, h: int, w: int, gap: int = 1) -> tuple[int, int, int] | None:
    """The (tile, row, column) under mosaic position (y, x); None in a gap or outside the n tiles."""
    if y < 0 or x < 0:
        return None
    r, i = divmod(int(y), h + gap)
    c, j = divmod(int(x), w + gap)
    k = r * cols + c
    return (k, i, j) if i < h and j < w and c < cols and k < n else None


def filter_tiles(weights: np.ndarray, mode: str) -> tuple[np.ndarray, int]:
    """Conv weights (K, C, F, F) -> (tiles, cols) ready for mosaic().

    mode "rgb": C == 3, one colour tile per filter, each filter scaled to its own min..max ->
      tiles (K, F, F, 3) in [0, 1].
    mode "channels": one tile per filter per input channel, a row per filter, each filter scaled by
      its own max|w| -> tiles (K*C, F, F) in [0, 1] (0.5 = zero weight), cols = C.
    mode "mean": the mean over input channels, one tile per filter, scaled by its own max|w|.
    """
    k, c = weights.shape[:2]
    if mode == "rgb":
        tiles = minmax_scale(weights, (1, 2, 3)).transpose(0, 2, 3, 1)
        return tiles, grid_shape(k, 2.0)[1]
    if mode == "mean":
        mean = weights.mean(axis=1)
        return (symmetric_scale(mean, (1, 2)) + 1) / 2, grid_shape(k, 2.0)[1]
    scaled = (symmetric_scale(weights, (1, 2, 3)) + 1) / 2
    return scaled.reshape(k * c, *weights.shape[2:]), c


def volume_tiles(volume: np.ndarray, signed: bool) -> tuple[np.ndarray, float, float]:
    """An activation or gradient volume (D, H, W) -> (tiles (D, H, W) in [0, 1], low, high):
    one scale for the whole layer so slices compare; signed volumes are centred on 0."""
    low, high = float(volume.min()), float(volume.max())
    if signed:
        peak = max(abs(low), abs(high)) or 1.0
        return (volume / peak + 1) / 2, -peak, peak
    span = (high - low) or 1.0
    return (volume - low) / span, low, high
