"""How one output number of a layer is made, spelled out: the input numbers it reads (its window,
padding included), the weights it multiplies them with, and the operation. Each declaration says it
for its own type (LayerType.number, ContainerType.merge_number); the neuron explanation shows it.

Positions are one image's: an input volume is (C, H, W), an output number is (depth k, row i, column j).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Recipe:
    """One output number and what it is made of.

    op: "dot" (the window times the weights, summed, plus the bias), "max" (the window's largest
    number), "mean" (the window's sum over divisor), "map" (formula applied to the numbers read),
    "add" (the lanes' numbers summed: window holds one per lane), "pick" (the number of lane `lane`).
    window: the input numbers read, padding included, e.g. (C, F, F); depths, rows, cols: where they
    sit in the input volume (rows and columns may reach past its edges: padding); padded: bool mask
    like window, True where it holds padding (a zero, or -inf for a max). weights: like window (dot);
    terms: other named numbers the formula uses (a batch norm's mean, ...). result: the number made,
    computed from these numbers (float64 sums; the engine's float32 agrees to rounding)."""

    op: str
    window: np.ndarray
    depths: range
    rows: range
    cols: range
    result: float
    padded: np.ndarray | None = None
    weights: np.ndarray | None = None
    bias: float | None = None
    divisor: int | None = None
    chosen: tuple[int, ...] | None = None
    lane: int | None = None
    formula: str = ""
    terms: dict[str, float] | None = None


def patch(x: np.ndarray, depths: range, rows: range, cols: range, fill: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """x (C, H, W) read at depths x rows x cols, positions outside x giving fill ->
    (window (len(depths), len(rows), len(cols)) float64, padded mask of the same shape)."""
    _, h, w = x.shape
    r, c = np.array(rows), np.array(cols)
    inside_r, inside_c = (r >= 0) & (r < h), (c >= 0) & (c < w)
    window = x[np.ix_(np.array(depths), np.clip(r, 0, h - 1), np.clip(c, 0, w - 1))].astype(np.float64)
    padded = np.broadcast_to(~(inside_r[:, None] & inside_c[None, :]), window.shape).copy()
    window[padded] = fill
    return window, padded


def window_rows(position: int, span: int, stride: int, pad: int, dilation: int = 1) -> range:
    """The input rows (or columns) output position reads: from position*S - P, every D-th, span long."""
    first = position * stride - pad
    return range(first, first + span, dilation)
