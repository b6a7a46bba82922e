"""What every method explains: a network with its own copy of the weights, the normaliser its input
needs, and the class names; and the plumbing long computations share (progress, cancel).

Images are uint8 (D, H, W) in pixel units until `Subject.normalise`; every method works on the
normalised input x (float32 (D, H, W) or (N, D, H, W)), the numbers the network sees.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..data import Normalizer, split_validation
from ..engine import Network, Node

Progress = Callable[[float], None] | None  # told the fraction done, 0..1
Cancel = Callable[[], bool] | None         # asked between steps; True stops the computation


class Cancelled(Exception):
    """A long computation stopped because its cancel check said so."""


def step(progress: Progress, cancel: Cancel, done: float) -> None:
    """Between two steps of a long computation: raise Cancelled if asked, else report done (0..1)."""
    if cancel is not None and cancel():
        raise Cancelled("cancelled")
    if progress is not None:
        progress(done)


@dataclass
class Subject:
    """net: a Network holding its own weights (never a training run's arrays); normalizer: what the
    network's inputs were normalised with; label_names: one per class."""

    net: Network
    normalizer: Normalizer
    label_names: list[str]

    @classmethod
    def copied(cls, arch, state: dict[str, np.ndarray], normalizer: Normalizer, label_names) -> "Subject":
        """A subject for arch with a copy of state (keyed like Network.state()); WeightsError if it does not fit."""
        net = Network(arch)
        net.set_state(state)
        names = list(label_names)
        if len(names) != net.classes:
            names = [f"class {k}" for k in range(net.classes)]
        return cls(net, normalizer, names)

    def normalise(self, images: np.ndarray) -> np.ndarray:
        """uint8 (D, H, W) or (N, D, H, W) -> float32 of the same shape, as the network sees it."""
        return self.normalizer.apply(images[None])[0] if images.ndim == 3 else self.normalizer.apply(images)

    def pixels(self, x: np.ndarray) -> np.ndarray:
        """A normalised input (D, H, W) back in pixel units -> uint8 (D, H, W), clipped to 0..255."""
        m, s = self.normalizer.mean[:, None, None], self.normalizer.std[:, None, None]
        return np.clip(np.rint(x * s + m), 0, 255).astype(np.uint8)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The normalised values of pixels 0 and 255 per channel -> (low, high), each (D, 1, 1) float32."""
        m, s = self.normalizer.mean[:, None, None], self.normalizer.std[:, None, None]
        return ((0 - m) / s).astype(np.float32), ((255 - m) / s).astype(np.float32)

    def pixel_step(self, amount: float) -> np.ndarray:
        """amount in pixel units (/255 of the range) as a normalised step per channel -> (D, 1, 1) float32."""
        return (amount / self.normalizer.std[:, None, None]).astype(np.float32)

    def probabilities(self, x: np.ndarray, batch: int = 128, progress: Progress = None,
                      cancel: Cancel = None) -> np.ndarray:
        """Normalised inputs (N, D, H, W) -> class probabilities (N, C), in batches."""
        out = np.empty((len(x), self.net.classes), np.float32)
        for start in range(0, len(x), batch):
            step(progress, cancel, start / max(len(x), 1))
            out[start:start + batch] = self.net.predict_proba(x[start:start + batch])
        return out

    def predict_images(self, images: np.ndarray, batch: int = 128, progress: Progress = None,
                       cancel: Cancel = None) -> np.ndarray:
        """uint8 images (N, D, H, W) -> class probabilities (N, C), normalising batch by batch."""
        out = np.empty((len(images), self.net.classes), np.float32)
        for start in range(0, len(images), batch):
            step(progress, cancel, start / max(len(images), 1))
            out[start:start + batch] = self.net.predict_proba(self.normalise(images[start:start + batch]))
        return out


def fit_normalizer(train_images: np.ndarray, val_split: int, seed: int) -> Normalizer:
    """The normaliser a training run with this validation split and seed fits (on the training split),
    for a weights file that carries none."""
    train_idx, _ = split_validation(len(train_images), val_split, seed)
    return Normalizer.fit(train_images, train_idx)


def conv_nodes(net: Network) -> list[Node]:
    """The nodes whose output is a bank of filter responses (op.has_filters), in plan order."""
    return [n for n in net.nodes if n.op is not None and n.op.has_filters]


def find_node(net: Network, name: str) -> Node:
    """The node a user names by its key ("3.body.1"), label ("3.body[1]") or JSON path
    ("layers[3].body[1]"). ValueError with a sentence listing the conv layers when there is none."""
    text = name.strip()
    text = text[len("layers"):] if text.startswith("layers") else text
    key = text.replace("][", ".").replace("[", ".").replace("]", "").strip(".")
    for n in net.nodes[1:]:
        if n.key == key:
            return n
    convs = ", ".join(n.key for n in conv_nodes(net)) or "none"
    raise ValueError(f"no layer {name!r} in this network; its conv layers are {convs}")


def embedding_node(net: Network) -> Node:
    """The layer before the classifier, whose outputs the embedding maps: the input of the layer that
    makes the class scores (the last fc), skipping element-wise layers after it (e.g. a dropout)."""
    node = net.nodes[net.plan.logits]
    while node.op is not None and not node.is_merge and node.op.keeps_volume and node.inputs:
        node = net.nodes[node.inputs[0]]
    if node.op is None or node.is_merge:
        return node
    return net.nodes[node.inputs[0]]
