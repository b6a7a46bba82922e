"""How one number is made (the notes' local connectivity): for a network with its weights, an input
and one neuron of any volume (a node, a depth slice, a row, a column), the part of the input image and
of every earlier volume it depends on, and how it is computed from its own input volume (a conv's
window through the whole input depth times its filter plus the bias, a pool's window and its maximum
or average, ...), with the engine's numbers. After a merge it says what each lane sees of the input.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine import Network, Node
from ..engine.fields import Box, Field, receptive_fields, regions
from ..engine.recipe import Recipe


@dataclass(frozen=True)
class LaneReach:
    """What a container's lane sees of the input image: the merge node's id, the lane's name as paths
    write it ("body", "branches[1]") and the box of the input image it reads for the neuron."""

    merge: int
    lane: str
    box: Box


@dataclass
class NeuronExplanation:
    """node: the neuron's plan node; depth, row, col: where it is in node's output volume; value: the
    engine's number there; recipe: how it is made from sources (node ids of the volumes it reads: the
    node's input, or a merge's lanes' outputs), numbers read from the engine's outputs of those nodes;
    regions: for every node it depends on (itself and the input image, node 0, included), the box of
    that node's output it reads; field: its receptive field on the input (before clipping: size and
    jump); lanes: for every merge it depends on, what each lane sees of the input image."""

    node: Node
    depth: int
    row: int
    col: int
    value: float
    recipe: Recipe
    sources: list[int]
    regions: dict[int, Box]
    field: Field
    lanes: list[LaneReach]


def node_params(net: Network, key: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The parameters and buffers of the block with this node key, by their own names ("weight", ...)."""
    prefix = key + "."
    own = lambda table: {k[len(prefix):]: a for k, a in table.items()  # noqa: E731
                         if k.startswith(prefix) and "." not in k[len(prefix):]}
    return own(net.params), own(net.buffers)


def explain_neuron(net: Network, x: np.ndarray, key: str, depth: int, row: int, col: int) -> NeuronExplanation:
    """The neuron (depth, row, col) of the output of the block with node key `key`, for the normalised
    input x (D, H, W). ValueError naming what is wrong for an unknown key or a position outside the volume."""
    try:
        node = net.plan.node(key)
    except KeyError as e:
        raise ValueError(str(e).strip("'\"")) from None
    if node.op is None:
        raise ValueError("the input image is not computed: pick a neuron of a layer's output")
    v = node.volume
    if not (0 <= depth < v.depth and 0 <= row < v.height and 0 <= col < v.width):
        raise ValueError(f"block {node.label} gives a {v} volume: depth slice 0 to {v.depth - 1}, row 0 to "
                         f"{v.height - 1} and column 0 to {v.width - 1}; got {depth}, {row}, {col}")
    sources = list(node.inputs)
    kept = net.run(x[None], stop=node.id + 1, keep=set(sources) | {node.id}).outputs
    kept[0] = np.asarray(x[None], net.dtype)
    if node.is_merge:
        recipe = node.op.merge_number([kept[i][0] for i in sources], depth, row, col)
    else:
        params, buffers = node_params(net, key)
        recipe = node.op.number(node.hp, params, buffers, kept[sources[0]][0], depth, row, col)
    box = (row, col, row + 1, col + 1)
    if recipe.lane is None:
        reach = regions(net.plan, node.id, box)
    else:  # a concat's number comes from one lane only
        reach = {node.id: box, **regions(net.plan, sources[recipe.lane], box)}
    lanes = []
    for m in sorted(i for i in reach if net.nodes[i].is_merge and (i != node.id or recipe.lane is None)):
        merge = net.nodes[m]
        names = merge.op.lane_names(len(merge.inputs))
        lanes += [LaneReach(m, name, regions(net.plan, lane_out, reach[m])[0])
                  for name, lane_out in zip(names, merge.inputs)]
    return NeuronExplanation(node, depth, row, col, float(kept[node.id][0, depth, row, col]), recipe, sources,
                             reach, receptive_fields(net.plan)[node.id], lanes)


def _number(a: float) -> str:
    return f"{a:.4g}" if np.isfinite(a) else ("-inf" if a < 0 else "inf")


def _span(r: range) -> str:
    """Rows 3..7 (inclusive), with the dilation step when it is not 1."""
    last = r.start + (len(r) - 1) * r.step
    return f"{r.start}..{last}" + (f" every {r.step}" if r.step != 1 else "")


def box_text(box: Box) -> str:
    """'5x5 (rows 3..7, columns 5..9)'."""
    top, left, bottom, right = box
    return f"{right - left}x{bottom - top} (rows {top}..{bottom - 1}, columns {left}..{right - 1})"


def _title(node: Node) -> str:
    if node.op is None:
        return "the input image"
    return f"{'the merge of ' * node.is_merge}block {node.label} ({node.op.title})"


def _output_of(node: Node) -> str:
    return "the input image" if node.op is None else f"{_title(node)}'s output"


def describe(e: NeuronExplanation, net: Network) -> list[str]:
    """The explanation in sentences with its numbers: what the neuron sees of the input and of every
    earlier volume, through each lane after a merge, and the computation."""
    node = e.node
    image = net.nodes[0].volume
    lines = [f"Neuron at depth slice {e.depth}, row {e.row}, column {e.col} of {_title(node)}, a {node.volume} volume: "
             f"{_number(e.value)}."]
    seen = e.regions[0]
    whole = seen == (0, 0, image.height, image.width)
    lines.append(f"It sees {box_text(seen)} of the {image} input image" + (", all of it" if whole else "") +
                 f", through its whole depth; receptive field {e.field.size}x{e.field.size}, "
                 f"jump {e.field.jump} (padding included).")
    earlier = [i for i in sorted(e.regions) if 0 < i < node.id]
    if earlier:
        lines.append("On the earlier volumes: " + "; ".join(
            f"{_title(net.nodes[i])} {net.nodes[i].volume}: {box_text(e.regions[i])}" for i in earlier) + ".")
    for m in sorted({lane.merge for lane in e.lanes}, reverse=True):
        reach = [lane for lane in e.lanes if lane.merge == m]
        lines.append(f"Through {_title(net.nodes[m])}: " + ", ".join(f"{lane.lane} sees {box_text(lane.box)}"
                                                                    for lane in reach) +
                     f" of the input; together {box_text(_hull([lane.box for lane in reach]))}.")
    lines.append(recipe_text(e, net))
    return lines


def _hull(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def recipe_text(e: NeuronExplanation, net: Network) -> str:
    """How the number is made, in one paragraph with its numbers."""
    r, node = e.recipe, e.node
    source = net.nodes[e.sources[0]]
    where = f"rows {_span(r.rows)}, columns {_span(r.cols)}"
    pads = int(r.padded.sum()) if r.padded is not None else 0
    padding = f" ({pads} of them padding)" if pads else ""
    if r.op == "dot":
        d, h, w = r.window.shape
        bias = f" + bias {_number(r.bias)}" if r.bias is not None else ""
        whose = f"filter {e.depth}" if node.op.has_filters else f"unit {e.depth}'s weights"
        depth = "its whole depth" if len(r.depths) == source.volume.depth else f"depth slices {_span(r.depths)}"
        return (f"It is a dot product: the {w}x{h}x{d} window of {_output_of(source)} at {where}, through "
                f"{depth}{padding}, times {whose} ({w}x{h}x{d} = {r.window.size} weights), summed: "
                f"{_number(float((r.window * r.weights).sum()))}" + (f"{bias} = {_number(r.result)}." if bias else "."))
    if r.op == "max":
        k, i, j = r.chosen
        return (f"It is the largest of the {len(r.cols)}x{len(r.rows)} window of depth slice {r.depths.start} of "
                f"{_output_of(source)} at {where}{padding}: {_number(r.result)}, at row {r.rows[i]}, "
                f"column {r.cols[j]}.")
    if r.op == "mean":
        return (f"It is the average of the {len(r.cols)}x{len(r.rows)} window of depth slice {r.depths.start} of "
                f"{_output_of(source)} at {where}{padding}: {_number(float(r.window.sum()))} / {r.divisor} = "
                f"{_number(r.result)}.")
    if r.op == "add":
        names = node.op.lane_names(len(e.sources))
        parts = " + ".join(f"{_number(v)} ({name})" for v, name in zip(r.window, names))
        return f"It adds the lanes' numbers at the same place: {parts} = {_number(r.result)}."
    if r.op == "pick":
        name = node.op.lane_names(len(e.sources))[r.lane]
        return (f"It is depth slice {r.depths.start} of {name}'s output, stacked at depth {e.depth}: "
                f"{_number(r.result)}.")
    values = ", ".join(_number(v) for v in r.window[:12]) + (", ..." if len(r.window) > 12 else "")
    terms = "".join(f", {k} = {_number(v)}" for k, v in (r.terms or {}).items())
    read = "x" if len(r.window) == 1 else f"depths {_span(r.depths)}"
    return (f"It applies {r.formula} to the number{'s' * (len(r.window) > 1)} at the same place of "
            f"{_output_of(source)} ({read} = {values}{terms}): {_number(r.result)}.")
