"""Receptive fields: which input rows and columns an output number sees, from the declarations.

Along one axis a windowed layer (LayerType.window gives span and stride, LayerType.padding P) makes
output position i from input positions i*S - P to i*S - P + span - 1 (positions outside the input are
padding); element-wise layers keep positions; a merge passes the same positions to every lane, and a
value that feeds several nodes is seen wherever any of them reads it.

A Box is (top, left, bottom, right) with bottom and right exclusive.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .plan import Node, Plan

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Field:
    """Along each axis, output position i of a node sees input rows first + i * jump to
    first + i * jump + size - 1 (partly outside the image where first is negative: padding)."""

    first: float
    size: int
    jump: int

    def through(self, span: int, stride: int, pad: int) -> "Field":
        """The field after a window of span positions, stride and padding pad fed with this field:
        the receptive-field rule (size + (F - 1) * jump, jump * S)."""
        return Field(self.first - pad * self.jump, self.size + (span - 1) * self.jump, self.jump * stride)

    def box(self, row: int, col: int, height: int, width: int) -> Box:
        """The input patch output (row, col) sees, clipped to a height x width image."""
        top, left = self.first + row * self.jump, self.first + col * self.jump
        return (int(max(0, np.floor(top))), int(max(0, np.floor(left))),
                int(min(height, np.ceil(top + self.size))), int(min(width, np.ceil(left + self.size))))


def receptive_fields(plan: Plan) -> list[Field]:
    """The receptive field on the input of every node of the plan, by node id (node 0: one pixel);
    a merge's covers the union of its lanes' fields."""
    fields = [Field(0.0, 1, 1)]
    for node in plan.nodes[1:]:
        ins = [fields[i] for i in node.inputs]
        if node.is_merge:
            first = min(f.first for f in ins)
            fields.append(Field(first, int(max(f.first + f.size for f in ins) - first), max(f.jump for f in ins)))
            continue
        window = node.op.window(node.hp, node.in_volumes[0])
        fields.append(ins[0] if window is None else ins[0].through(*window, node.op.padding(node.hp)))
    return fields


def input_box(node: Node, box: Box) -> Box:
    """The rows and columns of node's input (every lane's output, for a merge) that its outputs in box
    read, clipped to the input volume."""
    vol = node.in_volumes[0]
    window = None if node.is_merge else node.op.window(node.hp, vol)
    top, left, bottom, right = box
    if window is None:
        return top, left, min(bottom, vol.height), min(right, vol.width)
    span, stride = window
    pad = node.op.padding(node.hp)
    return (max(top * stride - pad, 0), max(left * stride - pad, 0),
            min((bottom - 1) * stride - pad + span, vol.height), min((right - 1) * stride - pad + span, vol.width))


def regions(plan: Plan, node_id: int, box: Box) -> dict[int, Box]:
    """Every node whose output the outputs in box of node node_id depend on (itself included), with the
    box of its output they read; a node read along several paths (a residual's input) gets the
    bounding box of them all. In decreasing node order, the input (node 0) last."""
    boxes = {node_id: box}
    for i in range(node_id, 0, -1):
        if i not in boxes:
            continue
        node = plan.nodes[i]
        read = input_box(node, boxes[i])
        for j in node.inputs:
            boxes[j] = read if j not in boxes else _union(boxes[j], read)
    return boxes


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])
