"""Images made by gradient ascent on the input: the class model (Simonyan et al. 2014: the image that
maximises a class score, here with jitter and an L2 or total-variation penalty) and DeepDream (an
image changed to amplify what a layer sees).

Both climb in normalised input space with steps of a fixed size in units of the gradient's mean
absolute value (so one learning rate suits every network), jitter the image by a random roll before
each step (the network then cannot rely on one pixel grid), and keep every pixel within 0..255.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..engine import Network
from .gradients import score_gradients
from .subject import Cancel, Progress, step

PENALTIES = ("l2", "tv")


def _ascend(x: np.ndarray, gradient: Callable[[np.ndarray], np.ndarray], steps: int, rate: float, jitter: int,
            bounds: tuple[np.ndarray, np.ndarray], rng: np.random.Generator, progress: Progress,
            cancel: Cancel) -> np.ndarray:
    """Climb from x (D, H, W) along gradient(x) for `steps` steps -> the final image (D, H, W) float32."""
    x = x.astype(np.float32).copy()
    low, high = bounds
    for k in range(steps):
        step(progress, cancel, k / steps)
        dy, dx = rng.integers(-jitter, jitter + 1, 2) if jitter else (0, 0)
        g = np.roll(gradient(np.roll(x, (dy, dx), axis=(1, 2))), (-dy, -dx), axis=(1, 2))
        x += rate * g / (np.abs(g).mean() + 1e-12)
        np.clip(x, low, high, out=x)
    step(progress, cancel, 1.0)
    return x


def penalty_gradient(x: np.ndarray, kind: str) -> np.ndarray:
    """d/dx of the penalty: "l2": |x|^2; "tv": the sum of |neighbour differences| (anisotropic total variation)."""
    if kind == "l2":
        return 2 * x
    if kind != "tv":
        raise ValueError(f"unknown penalty {kind!r}: choose one of {', '.join(PENALTIES)}")
    g = np.zeros_like(x)
    for axis in (1, 2):
        s = np.sign(np.diff(x, axis=axis))
        lead = [slice(None)] * 3
        lead[axis] = slice(1, None)
        g[tuple(lead)] += s
        lead[axis] = slice(None, -1)
        g[tuple(lead)] -= s
    return g


def class_model(net: Network, cls: int, bounds: tuple[np.ndarray, np.ndarray], start: np.ndarray | None = None,
                steps: int = 200, rate: float = 0.05, penalty: str = "l2", weight: float = 0.01, jitter: int = 2,
                seed: int = 0, progress: Progress = None, cancel: Cancel = None) -> np.ndarray:
    """The normalised image (D, H, W) that maximises score_cls - weight * penalty, climbing from start
    (default: zeros, the training set's mean colour)."""
    v = net.nodes[0].volume
    x0 = np.zeros((v.depth, v.height, v.width), np.float32) if start is None else start
    weight = np.float32(weight)

    def gradient(x):
        return score_gradients(net, x[None], cls).input[0] - weight * penalty_gradient(x, penalty)

    return _ascend(x0, gradient, steps, rate, jitter, bounds, np.random.default_rng(seed), progress, cancel)


def deep_dream(net: Network, x: np.ndarray, node: int, bounds: tuple[np.ndarray, np.ndarray], steps: int = 40,
               rate: float = 0.015, jitter: int = 1, seed: int = 0, progress: Progress = None,
               cancel: Cancel = None) -> np.ndarray:
    """x (D, H, W) changed to raise half the sum of squares of the node's output (what the layer sees,
    amplified) -> (D, H, W) float32. No octaves: the network takes one input size only, and steps
    averaged over coarser blocks first (octaves on a fixed size) gave the same pictures at 32x32."""

    def gradient(z):
        p = net.run(z[None], stop=node + 1, input_grad=True)
        return net.backward(p, {node: p.output}, input_grad=True).input[0]

    return _ascend(x, gradient, steps, rate, jitter, bounds, np.random.default_rng(seed), progress, cancel)
