"""Fooling images: FGSM (Goodfellow et al. 2015), a targeted iterative attack (Kurakin et al. 2017),
and the test accuracy against the FGSM epsilon.

Epsilons are in pixel units (/255): an image may change by at most epsilon per pixel and channel, and
stays within 0..255. In normalised input space that is epsilon / std of the channel.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine import Network
from .subject import Cancel, Progress, Subject, step

EPSILONS = (0, 1, 2, 4, 8, 16)


def loss_gradient(net: Network, x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised inputs (N, D, H, W), labels (N,) -> (d cross-entropy / d x (N, D, H, W), logits (N, C)),
    evaluation mode. (Per image: the mean over the batch does not change the sign.)"""
    p = net.run(x, input_grad=True)
    _, dlogits, _ = net.loss(p.output, np.asarray(labels))
    return net.backward(p, {net.plan.logits: dlogits}, input_grad=True).input, p.output.reshape(len(x), -1)


def fgsm(subject: Subject, x: np.ndarray, labels, epsilon: float) -> np.ndarray:
    """Normalised inputs (N, D, H, W), the labels to move away from (N,), epsilon in pixel units ->
    x + epsilon * sign(d loss / d x), clipped to the pixel range."""
    g, _ = loss_gradient(subject.net, x, labels)
    low, high = subject.bounds()
    return np.clip(x + subject.pixel_step(epsilon) * np.sign(g), low, high)


@dataclass
class Attack:
    """The attacked image (D, H, W) normalised, the steps taken, whether the network now says the target,
    and the probabilities it gives the attacked image (C,)."""

    image: np.ndarray
    steps: int
    fooled: bool
    probabilities: np.ndarray


def targeted_attack(subject: Subject, x: np.ndarray, target: int, epsilon: float = 16.0, rate: float = 1.0,
                    max_steps: int = 100, progress: Progress = None, cancel: Cancel = None) -> Attack:
    """Iterative FGSM towards target from x (D, H, W): steps of `rate` pixel units down the gradient of
    the target's cross-entropy, kept within epsilon of x (pixel units) and 0..255, stopping as soon as
    the network predicts target (or after max_steps)."""
    net = subject.net
    low, high = subject.bounds()
    radius, size = subject.pixel_step(epsilon), subject.pixel_step(rate)
    adv = x.astype(np.float32).copy()
    for k in range(max_steps + 1):
        step(progress, cancel, k / (max_steps + 1))
        g, logits = loss_gradient(net, adv[None], np.array([target]))
        if int(logits[0].argmax()) == target or k == max_steps:
            break
        adv = np.clip(np.clip(adv - size * np.sign(g[0]), x - radius, x + radius), low, high)
    probs = np.exp(logits[0] - logits[0].max())
    return Attack(adv, k, int(logits[0].argmax()) == target, (probs / probs.sum()).astype(np.float32))


def accuracy_vs_epsilon(subject: Subject, images: np.ndarray, labels: np.ndarray, epsilons=EPSILONS,
                        batch: int = 128, progress: Progress = None, cancel: Cancel = None) -> np.ndarray:
    """uint8 images (N, D, H, W), labels (N,) -> the accuracy (len(epsilons),) on the FGSM images of each
    epsilon (pixel units; 0 is the clean accuracy). One gradient per image serves every epsilon."""
    net = subject.net
    low, high = subject.bounds()
    labels = np.asarray(labels)
    correct = np.zeros(len(epsilons), np.int64)
    for start in range(0, len(images), batch):
        step(progress, cancel, start / max(len(images), 1))
        x = subject.normalise(images[start:start + batch])
        y = labels[start:start + batch]
        g, _ = loss_gradient(net, x, y)
        direction = np.sign(g)
        for i, eps in enumerate(epsilons):
            adv = x if eps == 0 else np.clip(x + subject.pixel_step(eps) * direction, low, high)
            correct[i] += int((net.forward(adv).argmax(axis=1) == y).sum())
    step(progress, cancel, 1.0)
    return correct / max(len(images), 1)
