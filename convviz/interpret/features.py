"""What excites a filter: the test images whose strongest response is largest, each with the patch of
the input that the strongest position's receptive field covers.

Receptive fields come from the plan: each windowed node's (span, stride) declaration (LayerType.window)
and its volumes (the padding is what makes the volume rule hold: 2P = (out - 1) S + F - in), element-wise
nodes keep their input's field, and a merge node covers the union of its lanes' fields.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine import Network
from .subject import Cancel, Progress, Subject, step


@dataclass(frozen=True)
class Field:
    """Along each axis, output position i of a node sees input rows first + i * jump to
    first + i * jump + size - 1 (partly outside the image where first is negative: padding)."""

    first: float
    size: int
    jump: int

    def box(self, row: int, col: int, height: int, width: int) -> tuple[int, int, int, int]:
        """The input patch (top, left, bottom, right), bottom and right exclusive, clipped to the image."""
        top, left = self.first + row * self.jump, self.first + col * self.jump
        return (int(max(0, np.floor(top))), int(max(0, np.floor(left))),
                int(min(height, np.ceil(top + self.size))), int(min(width, np.ceil(left + self.size))))


def receptive_fields(net: Network) -> list[Field]:
    """The receptive field of every node of the plan, by node id (node 0: one pixel)."""
    fields = [Field(0.0, 1, 1)]
    for node in net.nodes[1:]:
        ins = [fields[i] for i in node.inputs]
        if node.is_merge:
            first = min(f.first for f in ins)
            fields.append(Field(first, int(max(f.first + f.size for f in ins) - first), max(f.jump for f in ins)))
            continue
        f, vol = ins[0], node.in_volumes[0]
        window = node.op.window(node.hp, vol)
        if window is None:
            fields.append(f)
            continue
        span, stride = window
        pad = ((node.volume.height - 1) * stride + span - vol.height) / 2
        fields.append(Field(f.first - pad * f.jump, f.size + (span - 1) * f.jump, f.jump * stride))
    return fields


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
    field = receptive_fields(net)[node]
    size = net.nodes[0].volume
    order = np.argsort(-values[:, k], kind="stable")[:count]
    return [TopImage(int(i), float(values[i, k]),
                     field.box(*divmod(int(where[i, k]), n.volume.width), size.height, size.width)) for i in order]
