"""Live shape inference: for any stack of blocks, every volume, what is wrong and how to fix it,
and what the network costs. Reads the engine's layer declarations; allocates no arrays.

Blocks are numbered like `Architecture.layers` (and the JSON's `layers[i]`), from 0.
"""
from __future__ import annotations

import difflib
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from ..engine import LAYER_TYPES, Hyper, LayerType, Volume, VolumeError, formula
from ..engine.layers import ACTIVATIONS
from .spec import DEFAULT_CLASSES, Architecture, LayerSpec

INPUT_HYPERS = tuple(Hyper(name, int, default, 1, 4096, f"input {name}")
                     for name, default in (("width", 32), ("height", 32), ("depth", 3)))
CLASSES_HYPER = Hyper("classes", int, DEFAULT_CLASSES, 2, 65536, "number of classes C: the last volume is 1x1xC")
LARGE_FC_PARAMS = 10_000_000
BYTES_PER_NUMBER = 4  # float32


@dataclass
class Fix:
    """One concrete edit offered with a problem; apply(arch) returns a fixed copy.

    index: the block edited, removed or moved, or where `insert` goes (len(layers) = the end).
    params: hyperparameters to set on that block (None removes the key: the declared default).
    """

    label: str
    index: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    type: str | None = None
    insert: tuple[LayerSpec, ...] = ()
    remove: bool = False
    move_to_end: bool = False
    input: Volume | None = None
    classes: int | None = None

    def apply(self, arch: Architecture) -> Architecture:
        new = arch.copy()
        if self.input is not None:
            new.input = self.input
        if self.classes is not None:
            new.classes = self.classes
        i = self.index
        if i is None:
            return new
        if self.remove:
            del new.layers[i]
        elif self.move_to_end:
            new.layers.append(new.layers.pop(i))
        elif self.insert:
            new.layers[i:i] = [LayerSpec(layer.type, dict(layer.params)) for layer in self.insert]
        else:
            block = new.layers[i]
            if self.type is not None:
                block.type = self.type
            if not isinstance(block.params, dict):
                block.params = {}
            for key, value in self.params.items():
                if value is None:
                    block.params.pop(key, None)
                else:
                    block.params[key] = value
        return new


@dataclass
class Problem:
    """An error or warning. index: the block (None: the whole network or the INPUT block);
    message: a full sentence naming the block; formula: the volume rule with the numbers;
    param: the hyperparameter at fault, if one is."""

    index: int | None
    message: str
    formula: str | None = None
    fixes: list[Fix] = field(default_factory=list)
    param: str | None = None


@dataclass
class BlockInfo:
    """One block's volumes (None when they cannot be computed) and cost per image: params, macs
    (multiply-adds), memory_bytes (its output volume in float32). receptive_field: (size, jump) on the
    input: the side of the input patch one output number sees, and the input step between neighbouring
    outputs (an fc sees its whole input)."""

    index: int
    type: str
    title: str
    input: Volume | None
    output: Volume | None
    params: int = 0
    macs: int = 0
    memory_bytes: int = 0
    receptive_field: tuple[int, int] | None = None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


@dataclass
class Inference:
    """Everything the builder shows about one architecture. errors and warnings hold every problem,
    the blocks' and the network's; total_memory_bytes sums the blocks' output volumes (float32, per image)."""

    valid: bool
    input: Volume
    blocks: list[BlockInfo]
    errors: list[Problem]
    warnings: list[Problem]
    total_params: int
    total_macs: int
    total_memory_bytes: int
    last_conv_receptive_field: tuple[int, int] | None


def infer(arch: Architecture) -> Inference:
    """Check arch and compute every volume and statistic. Never raises, whatever the blocks hold."""
    net_errors: list[Problem] = []
    input_volume = vol = _check_input(arch, net_errors)
    classes = _check_classes(arch, net_errors)
    rf = (1, 1) if vol is not None else None
    blocks: list[BlockInfo] = []
    for i, layer in enumerate(arch.layers):
        info = _infer_block(i, layer, vol, rf)
        blocks.append(info)
        vol, rf = info.output, info.receptive_field
    structure_errors: list[Problem] = []
    _check_structure(blocks, classes, input_volume, structure_errors)
    _add_warnings(blocks)
    errors = net_errors + [p for b in blocks for p in b.errors] + structure_errors
    warnings = [p for b in blocks for p in b.warnings]
    convs = [b for b in blocks if b.type == "conv"]
    return Inference(
        valid=not errors, input=arch.input, blocks=blocks, errors=errors, warnings=warnings,
        total_params=sum(b.params for b in blocks), total_macs=sum(b.macs for b in blocks),
        total_memory_bytes=sum(b.memory_bytes for b in blocks),
        last_conv_receptive_field=convs[-1].receptive_field if convs else None)


def _check_input(arch: Architecture, errors: list[Problem]) -> Volume | None:
    """The INPUT block's volume, or None (with errors) when it is not three whole numbers in range."""
    values = [getattr(arch.input, h.name, None) for h in INPUT_HYPERS]
    wrong = [h.check(v) for h, v in zip(INPUT_HYPERS, values)]
    fixed = Volume(*[h.default if w else v for h, v, w in zip(INPUT_HYPERS, values, wrong)])
    problems = [Problem(None, f"The INPUT block's {h.name} {w}.", param=h.name,
                        fixes=[Fix(f"use input {fixed}", input=fixed)])
                for h, w in zip(INPUT_HYPERS, wrong) if w]
    errors += problems
    return None if problems else fixed


def _check_classes(arch: Architecture, errors: list[Problem]) -> int | None:
    classes = getattr(arch, "classes", DEFAULT_CLASSES)
    problem = CLASSES_HYPER.check(classes)
    if problem:
        errors.append(Problem(None, f"The number of classes {problem}.", param="classes",
                              fixes=[Fix(f"use {DEFAULT_CLASSES} classes", classes=DEFAULT_CLASSES)]))
        return None
    return classes


def _name(i: int, title: str) -> str:
    return f"Block {i} ({title})"


def _infer_block(i: int, layer: LayerSpec, vol: Volume | None, rf: tuple[int, int] | None) -> BlockInfo:
    """Check one block's type and hyperparameters, then compute its output volume and cost."""
    kind = getattr(layer, "type", None)
    t = LAYER_TYPES.get(kind) if isinstance(kind, str) else None
    if t is None:
        info = BlockInfo(i, str(kind), str(kind), vol, None)
        info.errors.append(_unknown_type(i, kind))
        return info
    info = BlockInfo(i, t.name, t.title, vol, None)
    given = getattr(layer, "params", None)
    if not isinstance(given, dict):
        info.errors.append(Problem(i, f"{_name(i, t.title)}: its hyperparameters must be a mapping of names to "
                                      f"numbers, got {given!r}.", fixes=[Fix("reset to the defaults", i, type=t.name)]))
        return info
    bad_values = _check_hypers(i, t, given, info.errors)
    hp = t.resolve(given)
    if vol is None:
        return info
    if bad_values:
        if type(t).output_volume is LayerType.output_volume:  # element-wise: the volume does not depend on them
            info.output, info.memory_bytes, info.receptive_field = vol, vol.size * BYTES_PER_NUMBER, rf
        return info
    try:
        out = t.output_volume(hp, vol)
    except VolumeError as e:
        info.errors.append(_volume_problem(i, t, given, vol, e))
        return info
    info.output = out
    info.params = sum(math.prod(shape) for shape in t.param_shapes(hp, vol).values())
    info.macs = t.macs(hp, vol, out)
    info.memory_bytes = out.size * BYTES_PER_NUMBER
    info.receptive_field = _receptive_field(rf, t.window(hp, vol))
    # hyperparameters that fit the volume but not each other, or not this input (engine's declaration)
    problem = t.problem(hp) or t.volume_problem(hp, vol)
    if problem:
        message, fix = problem
        use = "use " + " and ".join(f"{k} {v}" for k, v in fix.items())
        info.errors.append(Problem(i, f"{_name(i, t.title)}: {message}; {use}.", fixes=[Fix(use, i, params=fix)],
                                   param=next(iter(fix))))
    return info


def _receptive_field(rf, window):
    """(size, jump) on the input after a window of (span, stride); unchanged for element-wise layers."""
    if rf is None or window is None:
        return rf
    size, jump = rf
    span, stride = window
    return size + (span - 1) * jump, jump * stride


def _unknown_type(i: int, kind) -> Problem:
    known = ", ".join(LAYER_TYPES)
    fixes = []
    if isinstance(kind, str):
        for name in difflib.get_close_matches(kind.lower(), list(LAYER_TYPES), n=2, cutoff=0.5):
            fixes.append(Fix(f"change to {name}", i, type=name))
    fixes.append(Fix(f"remove block {i}", i, remove=True))
    return Problem(i, f"Block {i} has an unknown layer type {kind!r}; the known types are {known}.", fixes=fixes)


def _check_hypers(i: int, t: LayerType, given: dict, errors: list[Problem]) -> bool:
    """Append a problem per unknown key and per bad value, in the order given; True when a value is bad."""
    names = [h.name for h in t.hypers]
    bad = False
    for key, h, problem in t.hyper_problems(given):
        if h is None:
            fixes = [Fix(f"rename {key!r} to {match!r}", i, params={key: None, match: given[key]})
                     for match in difflib.get_close_matches(str(key), names, n=1, cutoff=0.5) if match not in given]
            fixes.append(Fix(f"remove {key!r}", i, params={key: None}))
            errors.append(Problem(i, f"{_name(i, t.title)} has no hyperparameter {key!r}; {problem}.", fixes=fixes,
                                  param=str(key)))
            continue
        bad = True
        if isinstance(h.default, str) and h.kind is not str:
            fix = Fix(f"use the default {h.name} (the {h.default})", i, params={h.name: None})
        else:
            fix = Fix(f"use {h.name} {h.show(h.default)} (the default)", i, params={h.name: h.default})
        errors.append(Problem(i, f"{_name(i, t.title)}: {h.name} {problem}.", fixes=[fix], param=h.name))
    return bad


def _volume_problem(i: int, t: LayerType, given: dict, vol: Volume, e: VolumeError) -> Problem:
    """The volume rule failed: name the numbers and offer the nearest values that make it whole."""
    expr = f"{formula(e.size, e.f, e.s, e.p, e.d)} = {e.value:g}"
    declared = {h.name for h in t.hypers}
    names = [n for n in ("pad", "stride", "size") if n in declared]  # the least disruptive change first
    fixes = [fix for name in names for fix in _nearest_values(i, t, given, vol, (name,), reach=16)]
    if not fixes:  # no single change works (e.g. both axes need different ones): try two at once
        fixes = [fix for pair in itertools.combinations(names, 2) for fix in _nearest_values(i, t, given, vol, pair, 4)]
    if not fixes:
        fixes = [Fix(f"remove block {i}", i, remove=True)]
    hint = " or ".join(f.label for f in fixes)
    message = f"{_name(i, t.title)} does not fit its {vol} input: {e}" + (f"; {hint}." if hint else ".")
    return Problem(i, message, formula=expr, fixes=fixes, param=None)


def _nearest_values(i: int, t: LayerType, given: dict, vol: Volume, names: tuple[str, ...], reach: int) -> list[Fix]:
    """Fixes changing the hyperparameters `names` (each by 1 to reach) by the least total amount that
    gives a whole output volume the layer can use, ties all kept, each labelled with the volume it gives."""
    hypers = [h for h in t.hypers if h.name in names]
    current = t.resolve(given)
    steps = sorted((o for o in itertools.product(range(-reach, reach + 1), repeat=len(hypers)) if all(o)),
                   key=lambda o: sum(map(abs, o)))
    fixes, best = [], None
    for offsets in steps:
        distance = sum(map(abs, offsets))
        if best is not None and distance > best:
            break
        values = {h.name: current[h.name] + d for h, d in zip(hypers, offsets)}
        if any(h.check(values[h.name]) for h in hypers):
            continue
        hp = t.resolve({**given, **values})
        try:
            out = t.output_volume(hp, vol)
        except VolumeError:
            continue
        if t.problem(hp):  # whole, but unusable otherwise (e.g. a pool padded past half its window)
            continue
        best = distance
        change = " and ".join(f"{k} {v}" for k, v in values.items())
        fixes.append(Fix(f"use {change} (-> {out.width}x{out.height})", i, params=values))
    return fixes


def _check_structure(blocks: list[BlockInfo], classes: int | None, input_volume: Volume | None,
                     net_errors: list[Problem]) -> None:
    """The classifier: one softmax, last, fed a 1x1xC volume. Network-level problems go to net_errors,
    a block's to its own list."""
    n = len(blocks)
    softmax_at = next((b.index for b in blocks if b.type == "softmax"), None)
    if softmax_at is None:
        feeding = blocks[-1].output if blocks else input_volume
        fixes = [Fix("add softmax at the end", n, insert=(LayerSpec("softmax"),))]
        if classes and feeding is not None and feeding != Volume(1, 1, classes):
            fixes.insert(0, Fix(f"add fc {classes} and softmax at the end", n,
                                insert=(LayerSpec("fc", {"units": classes}), LayerSpec("softmax"))))
        net_errors.append(Problem(None, "The network has no classifier: it must end with a softmax block.",
                                  fixes=fixes))
        return
    for b in blocks[softmax_at + 1:]:
        b.errors.append(Problem(b.index, f"{_name(b.index, b.title)} comes after the classifier (Softmax, block "
                                         f"{softmax_at}); the softmax must be the last block.",
                                fixes=[Fix(f"remove block {b.index}", b.index, remove=True),
                                       Fix(f"move the softmax (block {softmax_at}) to the end", softmax_at,
                                           move_to_end=True)]))
    feeding = blocks[softmax_at].input
    if classes is None or feeding is None:
        return
    want = Volume(1, 1, classes)
    if feeding == want:
        if not any(b.params for b in blocks[:softmax_at]):
            blocks[softmax_at].errors.append(Problem(
                softmax_at, f"{_name(softmax_at, 'Softmax')}: no block before the classifier has parameters, so "
                            f"the network has nothing to learn.",
                fixes=[Fix(f"add fc {classes} before softmax", softmax_at,
                           insert=(LayerSpec("fc", {"units": classes}),))]))
        return
    before = blocks[softmax_at - 1] if softmax_at else None
    fixes = []
    if before is not None and before.type == "fc":
        fixes.append(Fix(f"set block {before.index}'s units to {classes} (-> {want})", before.index,
                         params={"units": classes}))
    fixes.append(Fix(f"add fc {classes} before softmax", softmax_at, insert=(LayerSpec("fc", {"units": classes}),)))
    source = f"block {before.index} ({before.title}) gives" if before else "the INPUT block gives"
    blocks[softmax_at].errors.append(Problem(
        softmax_at, f"{_name(softmax_at, 'Softmax')} needs a {want} volume ({classes} classes), but {source} "
                    f"{feeding}.", fixes=fixes))


def _add_warnings(blocks: list[BlockInfo]) -> None:
    """Legal but likely unwanted: a huge fc, two activations in a row, convs or pools on 1x1."""
    for b in blocks:
        if b.type == "fc" and b.params > LARGE_FC_PARAMS:
            b.warnings.append(Problem(b.index, f"{_name(b.index, b.title)} has {b.params:,} parameters (more than "
                                               f"10 million): a pool before it, or fewer units, would shrink it."))
    for prev, b in zip(blocks, blocks[1:]):
        if b.type in ACTIVATIONS and prev.type in ACTIVATIONS:
            b.warnings.append(Problem(b.index, f"{_name(b.index, b.title)} follows another activation (block "
                                               f"{prev.index}, {prev.title}); two in a row do no more than one.",
                                      fixes=[Fix(f"remove block {b.index}", b.index, remove=True)]))
    reached = next((b for b in blocks if b.output is not None and b.output[:2] == (1, 1)
                    and b.input is not None and b.input[:2] != (1, 1)), None)
    if reached is None:
        return
    for b in blocks[reached.index + 1:]:
        if b.input is not None and b.type in LAYER_TYPES and LAYER_TYPES[b.type].kind in ("conv", "pool"):
            b.warnings.append(Problem(b.index, f"{_name(b.index, b.title)} works on a 1x1 input: the spatial size "
                                               f"reached 1x1 at block {reached.index}, long before the classifier."))
            return
