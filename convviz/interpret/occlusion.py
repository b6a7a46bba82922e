"""Occlusion sensitivity (Zeiler and Fergus 2014): the class probability while a grey patch hides one
part of the image after another."""
from __future__ import annotations

import numpy as np

from ..engine import Network
from .subject import Cancel, Progress, step

GREY = 128.0  # the patch colour in pixel units, on every channel


def patch_starts(size: int, patch: int, stride: int) -> np.ndarray:
    """Where patches start along one axis of length size: every stride, plus the last position so
    the far border is covered too."""
    if not 1 <= patch <= size or stride < 1:
        raise ValueError(f"the patch ({patch}) must be from 1 to the image side ({size}) and the stride at least 1")
    starts = np.arange(0, size - patch + 1, stride)
    return starts if starts[-1] == size - patch else np.append(starts, size - patch)


def occlusion(net: Network, x: np.ndarray, cls: int, fill: np.ndarray, patch: int = 8, stride: int = 2,
              batch: int = 64, progress: Progress = None, cancel: Cancel = None) -> np.ndarray:
    """Normalised input (D, H, W), class, fill (D,) the patch's normalised colour -> probability of cls
    with the patch at each start (rows, cols) float32 (see patch_starts)."""
    d, h, w = x.shape
    rows, cols = patch_starts(h, patch, stride), patch_starts(w, patch, stride)
    places = [(r, c) for r in rows for c in cols]
    out = np.empty(len(places), np.float32)
    fill = np.asarray(fill, np.float32).reshape(d, 1, 1)
    for start in range(0, len(places), batch):
        step(progress, cancel, start / len(places))
        part = places[start:start + batch]
        images = np.repeat(x[None], len(part), axis=0)
        for k, (r, c) in enumerate(part):
            images[k, :, r:r + patch, c:c + patch] = fill
        out[start:start + len(part)] = net.predict_proba(images)[:, cls]
    return out.reshape(len(rows), len(cols))


def per_pixel(m: np.ndarray, height: int, width: int, patch: int, stride: int) -> np.ndarray:
    """An occlusion map (rows, cols) onto the image: each pixel the mean probability of the patches
    that hid it -> (height, width) float32."""
    rows, cols = patch_starts(height, patch, stride), patch_starts(width, patch, stride)
    total, count = np.zeros((height, width)), np.zeros((height, width))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            total[r:r + patch, c:c + patch] += m[i, j]
            count[r:r + patch, c:c + patch] += 1
    return (total / count).astype(np.float32)
