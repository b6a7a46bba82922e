"""Parameter sharing, the notes' lesson: all the neurons of one depth slice of a conv layer use the
same filter (and bias), so the layer needs one set of weights per filter instead of one per neuron.

Their example, the original AlexNet's first layer: a 227x227x3 input, 96 filters of 11x11x3 at
stride 4 give a 55x55x96 volume of 290,400 neurons, each with 11x11x3 = 363 weights and 1 bias:
105,705,600 parameters without sharing against 96 x 364 = 34,944 with it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..engine import LAYER_TYPES
from .inference import BlockInfo


@dataclass(frozen=True)
class Sharing:
    """One sliding-filter block's parameters with and without sharing. neurons: its output volume's
    numbers (positions x filters); weights and biases: what each neuron uses (a filter, its group's
    depth slices only); filter: "11x11x3"; shared: the block's parameters; unshared: one set per neuron."""

    positions: int
    filters: int
    weights: int
    biases: int
    filter: str
    output: str

    @property
    def neurons(self) -> int:
        return self.positions * self.filters

    @property
    def shared(self) -> int:
        return self.filters * (self.weights + self.biases)

    @property
    def unshared(self) -> int:
        return self.neurons * (self.weights + self.biases)

    def sentences(self) -> list[str]:
        """The lesson with this block's numbers, as the notes tell it."""
        each = f"{self.filter} = {self.weights:,} weights" + (f" and {self.biases} bias" if self.biases else "")
        return [f"Without parameter sharing, each of the {self.output} = {self.neurons:,} neurons would have its own "
                f"{each}: {self.neurons:,} x {self.weights + self.biases:,} = {self.unshared:,} parameters.",
                f"With sharing, all {self.positions:,} neurons of a depth slice use one filter, so the "
                f"{self.filters:,} filters need {self.filters:,} x {self.weights + self.biases:,} = {self.shared:,} "
                f"parameters ({self.unshared // self.shared:,} times fewer)."]


def parameter_sharing(info: BlockInfo) -> Sharing | None:
    """The sharing numbers of a block whose declaration slides filters over its input (has_filters);
    None for other blocks and for one whose volumes or hyperparameters are not usable."""
    t = LAYER_TYPES.get(info.type)
    if t is None or not t.has_filters or info.hp is None or info.input is None or info.output is None:
        return None
    shapes = t.param_shapes(info.hp, info.input)
    filters, *one = shapes["weight"]
    out = info.output
    return Sharing(out.width * out.height, filters, math.prod(one), int("bias" in shapes),
                   "x".join(map(str, (one[2], one[1], one[0]))), f"{out.width}x{out.height}x{out.depth}")
