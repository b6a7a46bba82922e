"""An architecture tree compiled into a plan: nodes in topological order, each with the ids of its inputs.

Node 0 is the network input. Every leaf block becomes one node fed by the node before it in its
lane (or by its container's input, first in a lane); every container becomes the lanes' nodes, then
one merge node (residual: add, concat: stack along depth) fed by the last node of each lane (an
empty lane feeds the container's input straight through). The last node is the classifier
(softmax); the node before it gives the logits.

compile_plan refuses what the engine cannot run, naming the block by its path: model.infer
reports the same problems (all of them, with fixes) from the same declarations and rules.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .layers import BLOCK_TYPES, ContainerType, LayerType, MergeError, Volume, VolumeError
from .tree import Path, lanes_of, walk


@dataclass
class Node:
    """One step of the plan. key: the block's dotted path ("3.body.1"; weight keys are key + ".weight"),
    the container's own key for its merge node, "input" for node 0; label: how messages name the
    block ("3.body[1]", see tree.Site.label). op: the leaf or container
    declaration (None for the input); hp: hyperparameters with defaults filled in; inputs: node ids;
    in_volumes: their volumes; volume: the output volume."""

    id: int
    key: str
    label: str
    path: Path
    op: LayerType | ContainerType | None
    hp: dict
    inputs: tuple[int, ...]
    in_volumes: tuple[Volume, ...]
    volume: Volume

    @property
    def is_merge(self) -> bool:
        return self.op is not None and self.op.is_container


@dataclass
class Plan:
    """nodes in topological order (node 0 the input, the last the classifier). logits: the id of the
    node whose output is the softmax's input; last_use[i]: the last node that reads node i's output."""

    nodes: list[Node]
    logits: int
    last_use: list[int] = field(default_factory=list)

    @property
    def classes(self) -> int:
        return self.nodes[-1].volume.depth

    def node(self, key: str) -> Node:
        """The node with this key; KeyError naming the known ones when there is none."""
        for n in self.nodes:
            if n.key == key:
                return n
        raise KeyError(f"no block {key!r} in this network")


def structure_problems(layers: list) -> list[tuple[Path, str]]:
    """Where the classifier rule is broken: exactly one softmax, the last top-level block.
    -> [(path of the block at fault, or () for the network, sentence)], the first the engine's refusal."""
    problems = []
    classifiers = [s for s in walk(layers) if _is_classifier(s.block)]
    if not classifiers:
        return [((), "the network has no classifier: it must end with a softmax block")]
    for s in classifiers:
        if len(s.path) > 1:
            problems.append((s.path, f"block {s.label} is a softmax inside a container; the classifier must "
                                     f"be the last top-level block"))
    top = [s for s in classifiers if len(s.path) == 1]
    if top:
        first = top[0].path[0]
        for i in range(first + 1, len(layers)):
            problems.append(((i,), f"block {i} comes after the classifier (softmax, block {first}); the softmax "
                                   f"must be the last block"))
    return problems


def _is_classifier(block) -> bool:
    t = BLOCK_TYPES.get(block.type) if isinstance(getattr(block, "type", None), str) else None
    return t is not None and t.kind == "classifier"


def compile_plan(arch, score_map: bool = False) -> Plan:
    """The plan of arch (anything with .input (width, height, depth) and .layers, a tree of blocks).
    Raises ValueError naming the first problem and its block; VolumeError (a ValueError) for a volume
    that does not fit, with the numbers. score_map: the softmax may get a WxHxC volume (a fully
    convolutional net run over an image larger than it was trained on: class scores per position)."""
    vol = Volume(*arch.input)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in vol):
        raise ValueError(f"the input volume must be three whole numbers from 1, got {vol}")
    problems = structure_problems(arch.layers)
    if problems:
        raise ValueError(problems[0][1])
    nodes = [Node(0, "input", "input", (), None, {}, (), (), vol)]
    _compile_lane(arch.layers, 0, (), "", "layers", nodes)
    last = nodes[-1]
    if not score_map and (last.in_volumes[0].width != 1 or last.in_volumes[0].height != 1):
        raise ValueError(f"the softmax needs a 1x1xC volume (C classes), but block {len(arch.layers) - 2} gives "
                         f"{last.in_volumes[0]}: end with an fc layer of C units" if len(arch.layers) > 1 else
                         f"the softmax needs a 1x1xC volume (C classes), but the input is {last.in_volumes[0]}")
    last_use = [0] * len(nodes)
    for n in nodes:
        for i in n.inputs:
            last_use[i] = n.id
    last_use[last.inputs[0]] = len(nodes)  # the logits outlive the plan: the loss reads them
    return Plan(nodes, last.inputs[0], last_use)


def _compile_lane(blocks: list, source: int, path: Path, key: str, text: str, nodes: list[Node]) -> int:
    """Append the nodes of one lane fed by node source; -> the id of the lane's output node."""
    for i, block in enumerate(blocks):
        p, k, where = path + (i,), f"{key}{i}", f"{text}[{i}]"
        label = where[len("layers["):].replace("]", "", 1)
        t = _declaration(block, label)
        vol = nodes[source].volume
        if t.is_container:
            lanes = lanes_of(block)
            if not t.min_lanes <= len(lanes) <= t.max_lanes:
                raise ValueError(f"block {label} ({t.name}) has {len(lanes)} lanes; it takes "
                                 f"{t.min_lanes}" + (f" to {t.max_lanes}" if t.max_lanes != t.min_lanes else ""))
            outs = [_compile_lane(lane, source, p + (j,), f"{k}.{seg}.", f"{where}.{name}", nodes)
                    for j, (name, seg, lane) in enumerate(zip(t.lane_names(len(lanes)), t.lane_keys(len(lanes)), lanes))]
            volumes = tuple(nodes[o].volume for o in outs)
            try:
                out = t.merge_volume(list(volumes))
            except MergeError as e:
                raise ValueError(f"block {label} ({t.name}): {e}") from None
            nodes.append(Node(len(nodes), k, label, p, t, {}, tuple(outs), volumes, out))
        else:
            hp = _checked_hypers(label, t, block.params)
            try:
                out = t.output_volume(hp, vol)
            except VolumeError as e:
                raise VolumeError(f"block {label} ({t.name}) does not fit its {vol} input: {e}",
                                  e.axis, e.size, e.f, e.s, e.p, e.d) from None
            problem = t.volume_problem(hp, vol)
            if problem:
                raise ValueError(f"block {label} ({t.name}): {_with_fix(*problem)}")
            nodes.append(Node(len(nodes), k, label, p, t, hp, (source,), (vol,), out))
        source = len(nodes) - 1
    return source


def _declaration(block, label: str) -> LayerType | ContainerType:
    kind = getattr(block, "type", None)
    if not isinstance(kind, str) or kind not in BLOCK_TYPES:
        raise ValueError(f"block {label}: unknown layer type {kind!r}; the known types are {', '.join(BLOCK_TYPES)}")
    return BLOCK_TYPES[kind]


def _checked_hypers(label: str, t: LayerType, given) -> dict:
    """The block's hyperparameters with the defaults filled in; ValueError naming the first unknown key,
    bad value, or combination the layer refuses (model.infer reports them all, with fixes)."""
    where = f"block {label} ({t.name})"
    if not isinstance(given, dict):
        raise ValueError(f"{where}: hyperparameters must be a mapping of names to numbers, got {given!r}")
    problems = t.hyper_problems(given)
    if problems:
        key, h, message = problems[0]
        raise ValueError(f"{where}: " + (f"no hyperparameter {key!r} ({message})" if h is None else f"{key} {message}"))
    hp = t.resolve(given)
    problem = t.problem(hp)
    if problem:
        raise ValueError(f"{where}: {_with_fix(*problem)}")
    return hp


def _with_fix(message: str, fix: dict) -> str:
    """A declaration's problem and its fix as one clause: "pad 2 is more than ...: use pad 1"."""
    return f"{message}: use " + " and ".join(f"{k} {v}" for k, v in fix.items())
