"""Gradients of a class score: saliency (Simonyan et al. 2014), SmoothGrad (Smilkov et al. 2017) and
Grad-CAM (Selvaraju et al. 2017).

The class score is the input of the softmax (the logit). Saliency is d score / d normalised input,
reduced over depth by the largest absolute value, at the input's height x width. Grad-CAM at a layer
with output A (K, h, w) is ReLU(sum_k a_k A^k), a_k the mean over positions of d score / d A^k, at the
layer's h x w (`upsample` puts it onto the image).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..engine import Network


@dataclass
class ScoreGradients:
    """For a batch: logits (N, C); input: d score / d input (N, D, H, W); outputs and grads: the kept
    nodes' outputs and d score / d those outputs, by node id."""

    logits: np.ndarray
    input: np.ndarray
    outputs: dict[int, np.ndarray] = field(default_factory=dict)
    grads: dict[int, np.ndarray] = field(default_factory=dict)


def score_gradients(net: Network, x: np.ndarray, classes, keep=()) -> ScoreGradients:
    """Evaluation-mode pass over x (N, D, H, W) and backward from the score of classes[i] for image i
    (an int for all)."""
    p = net.run(x, keep=keep, input_grad=True)
    n = len(x)
    logits = p.output.reshape(n, net.classes)
    seed = np.zeros_like(logits)
    seed[np.arange(n), np.broadcast_to(np.asarray(classes), (n,))] = 1
    g = net.backward(p, {net.plan.logits: seed.reshape(p.output.shape)}, input_grad=True, keep=keep)
    return ScoreGradients(logits.copy(), g.input, {i: p.outputs[i] for i in keep},
                          {i: g.outputs.get(i, np.zeros_like(p.outputs[i])) for i in keep})


def predicted_class(net: Network, x: np.ndarray) -> int:
    """The class the network gives a normalised input (D, H, W)."""
    return int(net.forward(x[None]).argmax())


def saliency(net: Network, x: np.ndarray, cls: int) -> np.ndarray:
    """Normalised input (D, H, W) -> max over depth of |d score_cls / d x|, (H, W) float32."""
    return np.abs(score_gradients(net, x[None], cls).input[0]).max(axis=0)


def smoothgrad(net: Network, x: np.ndarray, cls: int, samples: int = 25, noise: float = 0.15,
               seed: int = 0) -> np.ndarray:
    """Saliency of the gradient averaged over `samples` copies of x with Gaussian noise of standard
    deviation noise x (max - min of x) added -> (H, W) float32."""
    rng = np.random.default_rng(seed)
    sigma = noise * float(x.max() - x.min())
    noisy = x[None] + rng.normal(0.0, sigma, (samples,) + x.shape).astype(np.float32)
    grads = score_gradients(net, noisy, cls).input
    return np.abs(grads.mean(axis=0)).max(axis=0)


def grad_cam(net: Network, x: np.ndarray, cls: int, node: int) -> np.ndarray:
    """Normalised input (D, H, W), class, node id -> Grad-CAM (h, w) float32 at that node's resolution."""
    sg = score_gradients(net, x[None], cls, keep=(node,))
    a, da = sg.outputs[node][0], sg.grads[node][0]
    weights = da.mean(axis=(1, 2))
    return np.maximum(np.tensordot(weights, a, axes=1), 0).astype(np.float32)


def upsample(m: np.ndarray, height: int, width: int) -> np.ndarray:
    """A map (h, w) stretched bilinearly over an image of height x width (pixel centres aligned, as
    align_corners=False) -> (height, width) float32."""
    h, w = m.shape

    def axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    r0, r1, fr = axis(height, h)
    c0, c1, fc = axis(width, w)
    rows = m[r0] * (1 - fr)[:, None] + m[r1] * fr[:, None]
    return (rows[:, c0] * (1 - fc) + rows[:, c1] * fc).astype(np.float32)
