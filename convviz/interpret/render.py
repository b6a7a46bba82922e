"""Explanations as pictures without Qt: the colour scale of the heat maps, the class colours, a
figure of any Explanation as RGB pixels, and PNG files (Pillow), so `convviz explain --out` needs no
Qt. The Explain tab uses the same scale.
Pictures are uint8 (H, W, 3) row-major."""
from __future__ import annotations

import numpy as np
from PIL import Image

from ..engine.files import atomic_write
from .methods import Explanation

# the heat maps' colour scale, low to high: black, purple, red, orange, pale yellow (inferno-like)
HEAT_STOPS = ((0.0, (0, 0, 4)), (0.25, (87, 16, 110)), (0.5, (188, 55, 84)), (0.75, (249, 142, 9)),
              (1.0, (252, 255, 164)))
# one colour per class (the first ten: matplotlib's tab10); more classes cycle
CLASS_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                 (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))
BOX = (0, 255, 120)
BACKGROUND = (30, 32, 36)
GAP = 6


def heat_lut() -> np.ndarray:
    """(256, 3) uint8: the heat colour of 0/255 .. 255/255."""
    t = np.linspace(0.0, 1.0, 256)
    pos = [p for p, _ in HEAT_STOPS]
    return np.stack([np.interp(t, pos, [c[k] for _, c in HEAT_STOPS]) for k in range(3)], axis=1).round().astype(np.uint8)


def heat_colours(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """(H, W) values on the scale low..high -> (H, W, 3) uint8."""
    t = np.clip((values - low) / ((high - low) or 1.0), 0.0, 1.0)
    return heat_lut()[(t * 255).astype(np.intp)]


def rgb(image: np.ndarray) -> np.ndarray:
    """uint8 (D, H, W), D 1 or 3 -> (H, W, 3)."""
    return np.repeat(image, 3, axis=0).transpose(1, 2, 0) if image.shape[0] == 1 else image[:3].transpose(1, 2, 0)


def overlay(image: np.ndarray, heat: np.ndarray, low: float, high: float, alpha: float = 0.6) -> np.ndarray:
    """The heat map (H, W) over image uint8 (D, H, W), alpha its weight -> (H, W, 3) uint8."""
    mixed = (1 - alpha) * rgb(image).astype(np.float32) + alpha * heat_colours(heat, low, high)
    return mixed.round().astype(np.uint8)


def enlarge(picture: np.ndarray, scale: int) -> np.ndarray:
    """(H, W, 3) -> (H * scale, W * scale, 3), pixels kept sharp."""
    return np.repeat(np.repeat(picture, scale, axis=0), scale, axis=1)


def outline(picture: np.ndarray, box: tuple[int, int, int, int], scale: int, width: int = 2) -> np.ndarray:
    """Draw box (top, left, bottom, right in image pixels) on an enlarged picture, in place."""
    top, left, bottom, right = (v * scale for v in box)
    bottom, right = min(bottom, picture.shape[0]), min(right, picture.shape[1])
    picture[top:top + width, left:right] = BOX
    picture[max(bottom - width, 0):bottom, left:right] = BOX
    picture[top:bottom, left:left + width] = BOX
    picture[top:bottom, max(right - width, 0):right] = BOX
    return picture


def row(pictures: list[np.ndarray]) -> np.ndarray:
    """Pictures (H_i, W_i, 3) side by side, top-aligned, GAP apart."""
    height = max(p.shape[0] for p in pictures)
    out = np.full((height, sum(p.shape[1] for p in pictures) + GAP * (len(pictures) - 1), 3), BACKGROUND, np.uint8)
    x = 0
    for p in pictures:
        out[:p.shape[0], x:x + p.shape[1]] = p
        x += p.shape[1] + GAP
    return out


def colour_bar(height: int, width: int = 16) -> np.ndarray:
    """The heat scale as a vertical bar, high at the top -> (height, width, 3)."""
    values = np.linspace(1.0, 0.0, height)[:, None].repeat(width, axis=1)
    return heat_colours(values, 0.0, 1.0)


def scatter(points: np.ndarray, labels: np.ndarray, size: int = 512, dot: int = 3) -> np.ndarray:
    """2-D points (N, 2) as dots coloured by class on a square canvas -> (size, size, 3)."""
    canvas = np.full((size, size, 3), BACKGROUND, np.uint8)
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    px = ((points - lo) / span * (size - 2 * dot - 1) + dot).round().astype(int)
    for (cx, cy), label in zip(px, labels):
        canvas[size - 1 - cy - dot:size - cy + dot - 1, cx - dot:cx + dot + 1] = CLASS_COLOURS[int(label) % len(CLASS_COLOURS)]
    return canvas


def line_chart(xs: np.ndarray, ys: np.ndarray, width: int = 480, height: int = 320, margin: int = 24) -> np.ndarray:
    """ys (0..1) against the positions of xs as a line with dots, on axes from 0 to 1 -> (height, width, 3)."""
    canvas = np.full((height, width, 3), BACKGROUND, np.uint8)
    canvas[margin:height - margin, margin] = (200, 204, 210)
    canvas[height - margin, margin:width - margin] = (200, 204, 210)
    for tick in (0.25, 0.5, 0.75, 1.0):
        canvas[int(height - margin - tick * (height - 2 * margin)), margin:width - margin:4] = (90, 94, 100)
    n = len(xs)
    px = margin + (np.arange(n) + 0.5) * (width - 2 * margin) / n
    py = height - margin - np.clip(ys, 0, 1) * (height - 2 * margin)
    for k in range(n - 1):
        for t in np.linspace(0.0, 1.0, 200):
            canvas[int(py[k] + t * (py[k + 1] - py[k])), int(px[k] + t * (px[k + 1] - px[k]))] = (255, 170, 60)
    for cx, cy in zip(px.astype(int), py.astype(int)):
        canvas[cy - 3:cy + 4, cx - 3:cx + 4] = (255, 170, 60)
    return canvas


def figure(e: Explanation, image: np.ndarray, scale: int = 8) -> np.ndarray:
    """A picture of an explanation of image (uint8 (D, H, W)): the image, the heat map over it and the
    colour bar; or its pictures side by side (boxes outlined); or the embedding; or the curve."""
    if e.heat is not None:
        low, high = e.heat_range or (float(e.heat.min()), float(e.heat.max()))
        left = enlarge(rgb(image), scale)
        return row([left, enlarge(overlay(image, e.heat, low, high), scale), colour_bar(left.shape[0])])
    if e.pictures:
        shown = []
        for p in e.pictures:
            big = enlarge(rgb(p.image), scale)
            for box in p.boxes:
                outline(big, box, scale)
            shown.append(big)
        return row(shown)
    if e.points is not None:
        return scatter(e.points, e.labels)
    return line_chart(*e.curve)


def write_png(path, picture: np.ndarray) -> None:
    """Write picture (H, W, 3) uint8 as a PNG file (Pillow), atomically."""
    with atomic_write(path) as f:
        Image.fromarray(np.ascontiguousarray(picture, np.uint8), "RGB").save(f, format="PNG")
