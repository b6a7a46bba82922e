"""What excites a filter: the test images whose strongest response is largest, each with the patch of
the input that the strongest position's receptive field covers.

Receptive fields come from the plan (engine.fields).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine import Network
from ..engine.fields import receptive_fields
from .subject import Cancel, Progress, Subject, step


def filter_maxima(subject: Subject, images: np.ndarray, node: int, batch: int = 128, progress: Progress = None,
                  cancel: Cancel = None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, D, H, W), a node id -> (the strongest response of each filter in each image
    (N, K) float32, where it is as a flat index into the node's h x w (N, K) int64)."""
    net = subject.net
    out_values, out_where = [], []
    for start in range(0, len(images), batch):
        step(progress, cancel, start / max(len(images), 1))
        x = subject.normalise(images[start:start + batch])
        a = net.run(x, stop=node + 1).output
        flat = a.reshape(a.shape[0], a.shape[1], -1)
        where = flat.argmax(axis=2)
        out_where.append(where)
        out_values.append(np.take_along_axis(flat, where[:, :, None], axis=2)[:, :, 0])
    return np.concatenate(out_values), np.concatenate(out_where)


@dataclass(frozen=True)
class TopImage:
    """A test image index, its strongest response, and the input patch (top, left, bottom, right) seen there."""

    index: int
    value: float
    box: tuple[int, int, int, int]


def top_images(net: Network, node: int, values: np.ndarray, where: np.ndarray, k: int,
               count: int = 9) -> list[TopImage]:
    """The count images whose filter k responds most (from filter_maxima), strongest first."""
    n = net.nodes[node]
    field = receptive_fields(net.plan)[node]
    size = net.nodes[0].volume
    order = np.argsort(-values[:, k], kind="stable")[:count]
    return [TopImage(int(i), float(values[i, k]),
                     field.box(*divmod(int(where[i, k]), n.volume.width), size.height, size.width)) for i in order]
