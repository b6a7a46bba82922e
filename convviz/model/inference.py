"""Live shape inference over an architecture tree: every block's volumes and costs (a container's are
the totals of its lanes), what is wrong and how to fix it, each fix judged on the whole network.
Reads the engine's declarations; allocates no arrays; never raises, whatever the blocks hold.

Blocks are addressed by path (engine.tree): (3,) is top-level block 3, (3, 0, 1) block 1 of lane 0
of block 3. Messages name them by label: "Block 3 (Conv)", "Block 3.body[1] (Conv)".
"""
from __future__ import annotations

import difflib
import itertools
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple

from ..engine import LAYER_TYPES, Hyper, LayerType, Volume, VolumeError, formula
from ..engine.fields import Field
from ..engine.layers import BLOCK_TYPES, CONTAINER_TYPES, ContainerType, MergeError
from ..engine.plan import structure_problems
from ..engine.tree import Path
from .spec import DEFAULT_CLASSES, MAX_NESTING, Architecture, LayerSpec

INPUT_HYPERS = tuple(Hyper(name, int, default, 1, 4096, f"input {name}")
                     for name, default in (("width", 32), ("height", 32), ("depth", 3)))
CLASSES_HYPER = Hyper("classes", int, DEFAULT_CLASSES, 2, 65536, "number of classes C: the last volume is 1x1xC")
LARGE_FC_PARAMS = 10_000_000
POOLED_SIDE = 7  # the published nets pool to 7x7 or less before their large fc layers (AlexNet 6x6, VGG16 7x7)
BYTES_PER_NUMBER = 4  # float32
VOLUME_HYPERS = ("pad", "stride", "size")  # what a volume fix may change, the least disruptive first
FIT_HYPER = "fit"  # how a layer fits a volume that is not whole (engine: "exact", "crop", "pad")
MERGE_REACH = 8  # how far a merge fix searches each hyperparameter


class ReceptiveField(NamedTuple):
    """The input patch one output number sees: its side `size` and `jump`, the input step between
    neighbouring outputs. whole: the patch covers the whole input (an fc, or a deep enough stack); its
    side is then the input's larger side, never more."""

    size: int
    jump: int
    whole: bool = False

    def __str__(self) -> str:
        if self.whole:
            return f"whole input ({self.size}x{self.size}, jump {self.jump})"
        return f"{self.size}x{self.size} (jump {self.jump})"


@dataclass
class Fix:
    """One concrete edit offered with a problem; apply(arch) returns a fixed copy.

    path: the block edited, removed or moved; for `insert`, the insertion point (one past the end of
    a lane = its end); for `replace_lane` (lane index, blocks), the container. None: the network.
    params: hyperparameters to set (None removes the key: the declared default); type: a new type.
    move_to_end: move the block to the end of the top-level stack (where the softmax belongs).
    action: what it does ("use stride 1"); gives: the volume the edited block (or lane) then gives;
    outcome: what the whole network then is ("the network is valid", "block 5 then fails");
    valid: whether the whole network is then valid (None: not judged, e.g. a warning's fix).
    label: all three, as a button says it: "use stride 1 (-> 30x30; the network is valid)".
    """

    action: str
    path: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)
    type: str | None = None
    insert: tuple[LayerSpec, ...] = ()
    remove: bool = False
    move_to_end: bool = False
    replace_lane: tuple[int, tuple[LayerSpec, ...]] | None = None
    input: Volume | None = None
    classes: int | None = None
    gives: str | None = None
    outcome: str | None = None
    valid: bool | None = None

    @property
    def label(self) -> str:
        notes = "; ".join(n for n in (self.gives and f"-> {self.gives}", self.outcome) if n)
        return f"{self.action} ({notes})" if notes else self.action

    def apply(self, arch: Architecture) -> Architecture:
        new = arch.copy()
        if self.input is not None:
            new.input = self.input
        if self.classes is not None:
            new.classes = self.classes
        if self.path is None:
            return new
        path = tuple(self.path)
        if self.insert:
            lane = new.lane(path)
            if lane is not None:
                lane[path[-1]:path[-1]] = [b.copy() for b in self.insert]
        elif self.remove or self.move_to_end:
            lane = new.lane(path)
            if lane is not None and 0 <= path[-1] < len(lane):
                block = lane.pop(path[-1])
                if self.move_to_end:
                    new.layers.append(block)
        elif self.replace_lane is not None:
            block = new.block(path)
            j, blocks = self.replace_lane
            if block is not None and isinstance(block.lanes, list) and 0 <= j < len(block.lanes):
                block.lanes[j] = [b.copy() for b in blocks]
        else:
            block = new.block(path)
            if block is not None:
                self._edit(block)
        return new

    def _edit(self, block: LayerSpec) -> None:
        if self.type is not None:
            block.type = self.type
            container = CONTAINER_TYPES.get(self.type)
            if container is None:
                block.lanes = None
            elif not (isinstance(block.lanes, list) and all(isinstance(lane, list) for lane in block.lanes)):
                block.lanes = container.new_lanes()
        if not isinstance(block.params, dict):
            block.params = {}
        for key, value in self.params.items():
            if value is None:
                block.params.pop(key, None)
            else:
                block.params[key] = value


@dataclass
class Problem:
    """An error or warning. path: the block (None: the whole network or the INPUT block); message: a
    full sentence naming the block; formula: the volume rule with its numbers (one line per lane for
    a merge); param: the hyperparameter at fault, if one is. Errors' fixes come judged on the whole
    network, those that leave it valid first."""

    path: Path | None
    message: str
    formula: str | None = None
    fixes: list[Fix] = field(default_factory=list)
    param: str | None = None


@dataclass(slots=True)
class BlockInfo:
    """One block: where it is (path, key as in weight keys and plan nodes, label as messages name it),
    its declaration's type, title and kind (colour group; "" for an unknown type), its volumes (None when
    they cannot be computed) and cost per image: params, macs (multiply-adds), memory_bytes (its output
    volume in float32). A container's costs are the totals of its lanes' blocks (plus its merged output's
    memory); its `lanes` hold their blocks' BlockInfos, `merge_inputs` the volumes meeting at the merge
    (each lane's output; an empty lane's is the container's input). receptive_field: on the input.
    hp: a leaf's hyperparameters with the declared defaults filled in (None when they are unusable)."""

    path: Path
    key: str
    label: str
    type: str
    title: str
    kind: str
    input: Volume | None
    output: Volume | None = None
    params: int = 0
    macs: int = 0
    memory_bytes: int = 0
    receptive_field: ReceptiveField | None = None
    hp: dict | None = None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    is_container: bool = False
    lanes: list[list["BlockInfo"]] = field(default_factory=list)
    merge_inputs: list[Volume | None] = field(default_factory=list)

    @property
    def name(self) -> str:
        """How messages name the block: "Block 3.body[1] (Conv)"."""
        return f"Block {self.label} ({self.title})"

    @property
    def formula(self) -> str | None:
        """The volume rule with this block's numbers ("(32 - 3 + 2)/2 + 1 = 16.5 -> 16 (fit crop)"), for
        leaves with a window and padding whose volumes are known; width and height each when the input
        is not square."""
        t = LAYER_TYPES.get(self.type)
        if t is None or self.hp is None or self.input is None or self.output is None:
            return None
        return _block_formula(t, self.hp, self.input, self.output)


@dataclass
class Inference:
    """Everything the builder shows about one architecture. blocks: the top-level blocks (containers
    hold theirs in .lanes); errors and warnings hold every problem, the blocks' and the network's;
    total_memory_bytes sums every output volume (float32, per image), merges included."""

    valid: bool
    input: Volume
    blocks: list[BlockInfo]
    errors: list[Problem]
    warnings: list[Problem]
    total_params: int
    total_macs: int
    total_memory_bytes: int
    last_conv_receptive_field: ReceptiveField | None

    def walk(self) -> Iterator[BlockInfo]:
        """Every block in pre-order (a container before its lanes' blocks, lanes in order)."""
        return _walk(self.blocks)

    def block(self, path: Path) -> BlockInfo | None:
        """The block at path, or None."""
        return _block_at(self.blocks, tuple(path))


def _walk(blocks: list[BlockInfo]) -> Iterator[BlockInfo]:
    """The BlockInfos of a tree in pre-order."""
    stack = list(reversed(blocks))
    while stack:
        info = stack.pop()
        yield info
        for lane in reversed(info.lanes):
            stack.extend(reversed(lane))


def _block_at(blocks: list[BlockInfo], path: Path) -> BlockInfo | None:
    """The BlockInfo at path in a tree of BlockInfos, or None."""
    if len(path) % 2 == 0:
        return None
    for depth in range(0, len(path), 2):
        i = path[depth]
        if not 0 <= i < len(blocks):
            return None
        if depth + 1 == len(path):
            return blocks[i]
        lanes = blocks[i].lanes
        if not 0 <= path[depth + 1] < len(lanes):
            return None
        blocks = lanes[path[depth + 1]]
    return None


def infer(arch: Architecture) -> Inference:
    """Check arch and compute every volume and statistic; every error's fixes judged on the whole
    network. Never raises, whatever the blocks hold."""
    net_errors: list[Problem] = []
    input_volume = _check_input(arch, net_errors)
    classes = _check_classes(arch, net_errors)
    walker = _Walker(True, _side(input_volume))
    layers = _layers(arch)
    blocks, _, _ = walker.lane(layers, (), "", "layers", input_volume, _first_rf(input_volume), 0)
    base = _Base(blocks, net_errors, [p for b in _walk(blocks) for p in b.errors], input_volume, classes)
    network_structure = []
    if walker.sound:  # structure_problems walks the tree: only a sound, bounded one
        structure = _structure_problems(layers, blocks, classes, input_volume, True)
        base.structure = [p.path for p in structure]
        for p in structure + _classifier_input_problems(blocks, classes):
            info = None if p.path is None else _block_at(blocks, p.path)
            (network_structure if info is None else info.errors).append(p)
    result = Inference(valid=False, input=arch.input, blocks=blocks, errors=[], warnings=[],
                       total_params=sum(b.params for b in blocks), total_macs=sum(b.macs for b in blocks),
                       total_memory_bytes=sum(b.memory_bytes for b in blocks),
                       last_conv_receptive_field=_last_conv_receptive_field(blocks))
    _add_warnings(result)
    for b in result.walk():
        result.errors += b.errors
        result.warnings += b.warnings
    result.errors = net_errors + result.errors + network_structure
    result.valid = not result.errors
    if walker.sound:
        _judge(arch, result, base)
    return result


@dataclass
class _Base:
    """What judging a fix reuses from the inference of the unfixed network: its top-level BlockInfos,
    the INPUT block's and classes' errors, every block's own errors (pre-order, the classifier rule's
    apart), the input volume and the classes."""

    blocks: list[BlockInfo]
    net_errors: list[Problem]
    own_errors: list[Problem]
    input_volume: Volume | None
    classes: int | None
    structure: list[Path | None] = field(default_factory=list)  # where the classifier rule is broken


def _layers(arch: Architecture) -> list:
    return arch.layers if isinstance(arch.layers, list) else []


def _side(input_volume: Volume | None) -> int:
    """The input's larger side: the largest receptive field there is."""
    return max(input_volume.width, input_volume.height) if input_volume else 1


def _first_rf(input_volume: Volume | None) -> ReceptiveField | None:
    """The receptive field of the input itself: one pixel."""
    return ReceptiveField(1, 1, _side(input_volume) <= 1) if input_volume is not None else None


def _errors_after(fixed: Architecture, base: _Base, start: int | None,
                  same_types: bool) -> tuple[list, list[BlockInfo]]:
    """Where the errors of a fixed network are (paths, None for the network's, in order) and its top-level
    BlockInfos, without messages' fixes, formulas or warnings. start: the first top-level block the fix
    changed (the blocks before it are base's); None when it changed the input or the classes.
    same_types: the fix only set hyperparameters of one block (so the classifier rule says what it said
    of base, and once the volume after the fixed top-level block is base's again, so is the rest)."""
    layers = _layers(fixed)
    if start is None:
        net_errors: list[Problem] = []
        input_volume, classes = _check_input(fixed, net_errors), _check_classes(fixed, net_errors)
        prefix, own = [], []
    else:
        net_errors, input_volume, classes = base.net_errors, base.input_volume, base.classes
        prefix = base.blocks[:start]
        own = [p.path for p in base.own_errors if p.path[0] < start]
    walker = _Walker(False, _side(input_volume))
    vol, rf = (prefix[-1].output, prefix[-1].receptive_field) if prefix else (input_volume, _first_rf(input_volume))
    rest, suffix = [], []
    for j in range(len(prefix), len(layers)):
        if same_types and start is not None and start < j < len(base.blocks) and (vol, rf) == (
                base.blocks[j].input, base.blocks[j - 1].receptive_field):
            suffix = base.blocks[j:]  # the same blocks fed the same volume from here on: base's own results
            break
        info = walker.block(layers[j], (j,), str(j), f"layers[{j}]", vol, rf, 0)
        rest.append(info)
        vol, rf = info.output, info.receptive_field
    blocks = prefix + rest + suffix
    paths = [p.path for p in net_errors] + own + [p.path for b in _walk(rest) for p in b.errors]
    if suffix:
        paths += [p.path for p in base.own_errors if p.path[0] >= suffix[0].path[0]]
    if walker.sound:
        paths += base.structure if same_types else [p.path for p in _structure_problems(layers, blocks, classes,
                                                                                        input_volume, False)]
        paths += [p.path for p in _classifier_input_problems(blocks, classes)]
    return paths, blocks


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


def _label(text: str) -> str:
    """'layers[3].body[1]' -> '3.body[1]' (engine.tree.Site.label)."""
    return text[len("layers["):].replace("]", "", 1)


def _grow(rf: ReceptiveField | None, window, side: int) -> ReceptiveField | None:
    """The receptive field after a window of (span, stride), its side clipped to the input's larger side;
    unchanged by element-wise layers."""
    if rf is None or window is None:
        return rf
    grown = Field(0, rf.size, rf.jump).through(*window, 0)
    return ReceptiveField(min(grown.size, side), grown.jump, grown.size >= side)


class _Walker:
    """One pass over the tree. with_fixes False (when a fix is judged) skips what only a reader needs:
    fix searches, merges' formulas and warnings; the errors' places and validity stay exact."""

    def __init__(self, with_fixes: bool, side: int):
        self.with_fixes = with_fixes
        self.side = side
        self.too_deep = False  # a container nests past MAX_NESTING: its lanes were not visited
        self.junk_lanes = False  # a container's lanes are not lists of blocks (engine.tree cannot walk them)

    @property
    def sound(self) -> bool:
        """Whether the tree can be walked whole (engine.tree) and edited by fixes."""
        return not (self.too_deep or self.junk_lanes)

    def lane(self, blocks: list, path: Path, key: str, text: str, vol: Volume | None, rf: ReceptiveField | None,
             depth: int) -> tuple[list[BlockInfo], Volume | None, ReceptiveField | None]:
        """The BlockInfos of one lane fed vol, and the lane's output volume and receptive field (an empty
        lane passes its input through)."""
        infos = []
        for i, block in enumerate(blocks):
            info = self.block(block, path + (i,), f"{key}{i}", f"{text}[{i}]", vol, rf, depth)
            infos.append(info)
            vol, rf = info.output, info.receptive_field
        return infos, vol, rf

    def block(self, block, path: Path, key: str, text: str, vol, rf, depth: int) -> BlockInfo:
        kind = getattr(block, "type", None)
        t = BLOCK_TYPES.get(kind) if isinstance(kind, str) else None
        if t is None:
            info = BlockInfo(path, key, _label(text), str(kind), str(kind), "", vol)
            info.errors.append(self.unknown_type(info, kind, block))
            return info
        info = BlockInfo(path, key, _label(text), t.name, t.title, t.kind, vol, is_container=t.is_container)
        given = getattr(block, "params", None)
        if not isinstance(given, dict):
            info.errors.append(Problem(path, f"{info.name}: its hyperparameters must be a mapping of names to "
                                             f"numbers, got {given!r}.", fixes=[Fix("reset to the defaults", path,
                                                                                    type=t.name)]))
            if not t.is_container:
                return info
            given = {}
        if t.is_container:
            self.container(info, t, block, given, text, vol, rf, depth)
        else:
            self.leaf(info, t, given, vol, rf)
        return info

    def unknown_type(self, info: BlockInfo, kind, block) -> Problem:
        """Unknown type: the close names (containers for a block with lanes) as fixes, and removal."""
        names = list(CONTAINER_TYPES if getattr(block, "lanes", None) else LAYER_TYPES)
        matches = []
        if isinstance(kind, str) and self.with_fixes:
            matches = difflib.get_close_matches(kind.lower(), names, n=2, cutoff=0.5)
        fixes = [Fix(f"change to {name}", info.path, type=name) for name in matches]
        fixes.append(Fix(f"remove block {info.label}", info.path, remove=True))
        guess = f" (did you mean {' or '.join(matches)}?)" if matches else ""
        return Problem(info.path, f"Block {info.label} has an unknown layer type {kind!r}{guess}; the known types "
                                  f"are {', '.join(BLOCK_TYPES)}.", fixes=fixes)

    def leaf(self, info: BlockInfo, t: LayerType, given: dict, vol, rf) -> None:
        """Check one leaf's hyperparameters, then compute its output volume and cost."""
        path = info.path
        bad_values = self.hyper_problems(info, t, given)
        hp = t.resolve(given)
        if vol is None:
            return
        if bad_values:
            if t.keeps_volume:  # element-wise: the volume does not depend on them
                info.output, info.memory_bytes, info.receptive_field = vol, vol.size * BYTES_PER_NUMBER, rf
            return
        try:
            out = t.output_volume(hp, vol)
        except VolumeError as e:
            info.errors.append(self.volume_problem(info, t, given, vol, e))
            return
        info.output = out
        info.memory_bytes = out.size * BYTES_PER_NUMBER
        info.receptive_field = _grow(rf, t.window(hp, vol), self.side)
        # hyperparameters that fit the volume rule but not each other, or not this input (e.g. groups)
        problem = t.problem(hp) or t.volume_problem(hp, vol)
        if problem:
            message, fix = problem
            use = "use " + " and ".join(f"{k} {v}" for k, v in fix.items())
            info.errors.append(Problem(path, f"{info.name}: {message}; {use}.", fixes=[Fix(use, path, params=fix)],
                                       param=next(iter(fix))))
            return  # the declaration's shapes and costs assume neither
        info.params = sum(math.prod(shape) for shape in t.param_shapes(hp, vol).values())
        info.macs = t.macs(hp, vol, out)
        info.hp = hp
        if self.with_fixes:
            info.warnings += [Problem(path, f"{info.name}: {w}.") for w in t.warnings(hp, vol)]

    def hyper_problems(self, info: BlockInfo, t: LayerType, given: dict) -> bool:
        """Append a problem per unknown key and per bad value, in the order given; True when a value is bad."""
        names = [h.name for h in t.hypers]
        bad = False
        for key, h, problem in t.hyper_problems(given):
            if h is None:
                fixes = []
                if self.with_fixes:
                    fixes = [Fix(f"rename {key!r} to {match!r}", info.path, params={key: None, match: given[key]})
                             for match in difflib.get_close_matches(str(key), names, n=1, cutoff=0.5)
                             if match not in given]
                    fixes.append(Fix(f"remove {key!r}", info.path, params={key: None}))
                info.errors.append(Problem(info.path, f"{info.name} has no hyperparameter {key!r}; {problem}.",
                                           fixes=fixes, param=str(key)))
                continue
            bad = True
            if isinstance(h.default, str) and h.kind is not str:
                fix = Fix(f"use the default {h.name} (the {h.default})", info.path, params={h.name: None})
            else:
                shown = f"{h.default:g}" if h.kind in (int, float) else str(h.default).lower()
                fix = Fix(f"use {h.name} {shown} (the default)", info.path, params={h.name: h.default})
            info.errors.append(Problem(info.path, f"{info.name}: {h.name} {problem}.", fixes=[fix], param=h.name))
        return bad

    def volume_problem(self, info: BlockInfo, t: LayerType, given: dict, vol: Volume, e: VolumeError) -> Problem:
        """The volume rule failed: name the numbers and offer the nearest values that make it whole."""
        path = info.path
        expr = f"{formula(e.size, e.f, e.s, e.p, e.d)} = {e.value:g}"
        fixes = []
        if self.with_fixes:
            declared = {h.name for h in t.hypers}
            names = [n for n in VOLUME_HYPERS if n in declared]
            fixes = [fix for name in names for fix in _nearest_values(info, t, given, vol, (name,), reach=16)]
            if not fixes:  # no single change works (e.g. both axes need different ones): try two at once
                fixes = [fix for pair in itertools.combinations(names, 2)
                         for fix in _nearest_values(info, t, given, vol, pair, 4)]
            fixes += _other_fits(info, t, given, vol)
            if not fixes:
                fixes = [Fix(f"remove block {info.label}", path, remove=True)]
        hint = " or ".join(f.label for f in fixes)
        message = f"{info.name} does not fit its {vol} input: {e}" + (f"; {hint}." if hint else ".")
        return Problem(path, message, formula=expr, fixes=fixes)

    def container(self, info: BlockInfo, t: ContainerType, block, given: dict, text: str, vol, rf, depth: int) -> None:
        """Check a container, infer each lane from its input, then merge their outputs."""
        path = info.path
        for key in given:  # containers declare no hyperparameters
            info.errors.append(Problem(path, f"{info.name} has no hyperparameter {key!r}; it takes none.",
                                       fixes=[Fix(f"remove {key!r}", path, params={key: None})], param=str(key)))
        lanes = getattr(block, "lanes", None)
        if not (isinstance(lanes, list) and all(isinstance(lane, list) for lane in lanes)):
            self.junk_lanes = True
            info.errors.append(Problem(path, f"{info.name}: its lanes must be lists of blocks, got {lanes!r}.",
                                       fixes=[Fix("give it empty lanes", path, type=t.name)]))
            return
        if depth >= MAX_NESTING:
            self.too_deep = True
            info.errors.append(Problem(path, f"{info.name} lies {depth + 1} containers deep; containers nest at most "
                                             f"{MAX_NESTING} deep."))
            return
        count_ok = t.min_lanes <= len(lanes) <= t.max_lanes
        if not count_ok:
            takes = f"{t.min_lanes}" + (f" to {t.max_lanes}" if t.max_lanes != t.min_lanes else "")
            info.errors.append(Problem(path, f"{info.name} has {len(lanes)} lanes; it takes {takes}.",
                                       fixes=[Fix(f"remove block {info.label}", path, remove=True)]))
        names = t.lane_names(len(lanes))
        rfs = []
        for j, (name, seg, lane) in enumerate(zip(names, t.lane_keys(len(lanes)), lanes)):
            infos, out, lane_rf = self.lane(lane, path + (j,), f"{info.key}.{seg}.", f"{text}.{name}", vol, rf,
                                            depth + 1)
            info.lanes.append(infos)
            info.merge_inputs.append(out)
            rfs.append(lane_rf)
            for b in infos:
                info.params += b.params
                info.macs += b.macs
                info.memory_bytes += b.memory_bytes
        if not count_ok or vol is None or any(v is None for v in info.merge_inputs):
            return
        try:
            out = t.merge_volume(list(info.merge_inputs))
        except MergeError as e:
            info.errors.append(self.merge_problem(info, t, lanes, vol, e))
            return
        info.output = out
        info.memory_bytes += out.size * BYTES_PER_NUMBER
        info.receptive_field = ReceptiveField(max(r.size for r in rfs), max(r.jump for r in rfs),
                                              any(r.whole for r in rfs))

    def merge_problem(self, info: BlockInfo, t: ContainerType, lanes: list, vol: Volume, e: MergeError) -> Problem:
        """The lanes' volumes do not merge: each lane's volume with its formulas, and the single changes
        that make them merge (a 1x1 projection for an empty lane, a nearer hyperparameter in a lane)."""
        if not self.with_fixes:
            return Problem(info.path, f"{info.name}: {e}.")
        names = t.lane_names(len(lanes))
        lines = [_lane_formula(name, infos, vol, out) for name, infos, out in zip(names, info.lanes, info.merge_inputs)]
        fixes = _merge_fixes(info, t, lanes, vol) or [Fix(f"remove block {info.label}", info.path, remove=True)]
        return Problem(info.path, f"{info.name}: {e}.", formula="\n".join(lines), fixes=fixes)


def _block_formula(t: LayerType, hp: dict, vol: Volume, out: Volume) -> str | None:
    """BlockInfo.formula."""
    window = t.window(hp, vol)
    if window is None or "pad" not in hp:
        return None
    span, stride = window
    axes = [("", vol.width, out.width)] if vol.width == vol.height else [
        ("width ", vol.width, out.width), ("height ", vol.height, out.height)]
    parts = []
    for name, size, got in axes:
        value = (size - span + 2 * hp["pad"]) / stride + 1
        text = f"{name}{formula(size, span, stride, hp['pad'])} = {value:g}"
        if value != got:
            text += f" -> {got}" + (f" (fit {hp['fit']})" if "fit" in hp else "")
        parts.append(text)
    return ", ".join(parts)


def _lane_formula(name: str, infos: list[BlockInfo], vol: Volume, out: Volume | None) -> str:
    """How a lane reaches its output: "body: 3.body[0] (32 - 3 + 2)/2 + 1 = 16.5 -> 16 (fit crop), depth 32
    -> 16x16x32"; "shortcut: the identity -> 32x32x16"."""
    if not infos:
        return f"{name}: the identity -> {vol}"
    steps = []
    for b in infos:
        if b.input is None or b.output is None or b.output == b.input:
            continue
        if b.formula:
            depth = f", depth {b.output.depth}" if b.output.depth != b.input.depth else ""
            steps.append(f"{b.label} {b.formula}{depth}")
        else:
            steps.append(f"{b.label} ({b.title}) -> {b.output}")
    return f"{name}: " + ("; ".join(steps) + " " if steps else f"keeps {vol} ") + f"-> {out}"


def _nearest_values(info: BlockInfo, t: LayerType, given: dict, vol: Volume, names: tuple[str, ...],
                    reach: int) -> list[Fix]:
    """Fixes changing the hyperparameters `names` (each by 1 to reach) by the least total amount that
    gives a whole output volume the layer can use, ties all kept, each saying the volume it gives."""
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
        out = _leaf_volume(t, {**given, **values}, vol)
        if out is None:
            continue
        best = distance
        change = " and ".join(f"{k} {v}" for k, v in values.items())
        fixes.append(Fix(f"use {change}", info.path, params=values, gives=f"{out.width}x{out.height}"))
    return fixes


def _other_fits(info: BlockInfo, t: LayerType, given: dict, vol: Volume) -> list[Fix]:
    """Fixes choosing another way to fit a volume that is not whole (the declaration's "fit": "crop" rounds
    down as PyTorch does, "pad" rounds up), each saying what it gives."""
    fit = next((h for h in t.hypers if h.name == FIT_HYPER), None)
    if fit is None:
        return []
    current = t.resolve(given)[fit.name]
    fixes = []
    for choice in fit.choices:
        out = None if choice == current else _leaf_volume(t, {**given, fit.name: choice}, vol)
        if out is not None:
            fixes.append(Fix(f"use {fit.name} {choice}", info.path, params={fit.name: choice},
                             gives=f"{out.width}x{out.height}"))
    return fixes


def _leaf_volume(t: LayerType, given: dict, vol: Volume) -> Volume | None:
    """The output volume of a leaf with these hyperparameters, None when any is unusable."""
    if t.hyper_problems(given):
        return None
    hp = t.resolve(given)
    if t.problem(hp):
        return None
    try:
        out = t.output_volume(hp, vol)
    except VolumeError:
        return None
    return None if t.volume_problem(hp, vol) else out


def _volume_through(blocks: list, vol: Volume | None, depth: int = 0) -> Volume | None:
    """The output volume of a lane fed vol, None when any block cannot compute one. No messages."""
    for block in blocks:
        if vol is None:
            return None
        t = BLOCK_TYPES.get(getattr(block, "type", None)) if isinstance(getattr(block, "type", None), str) else None
        params = getattr(block, "params", None)
        if t is None or not isinstance(params, dict):
            return None
        if not t.is_container:
            vol = _leaf_volume(t, params, vol)
            continue
        lanes = getattr(block, "lanes", None)
        if (params or depth >= MAX_NESTING or not isinstance(lanes, list)
                or not t.min_lanes <= len(lanes) <= t.max_lanes):
            return None
        outs = [_volume_through(lane, vol, depth + 1) if isinstance(lane, list) else None for lane in lanes]
        if any(o is None for o in outs):
            return None
        try:
            vol = t.merge_volume(outs)
        except MergeError:
            return None
    return vol


def _merges(t: ContainerType, outs: list[Volume]) -> Volume | None:
    try:
        return t.merge_volume(outs)
    except MergeError:
        return None


def _merge_fixes(info: BlockInfo, t: ContainerType, lanes: list, vol: Volume) -> list[Fix]:
    """Single changes that make the lanes' volumes merge: an empty lane (the identity) replaced by a 1x1
    projection, then the nearest value of one hyperparameter of one block in one lane."""
    outs = list(info.merge_inputs)
    fixes = []
    for j, lane in enumerate(lanes):
        if not lane:
            fixes += _projections(info, t, lanes, j, vol, outs)
    found = []
    for j, lane in enumerate(lanes):
        dims = {n for i, o in enumerate(outs) if i != j for n in o}  # the other lanes' sizes: a depth to match
        for k, block in enumerate(lane):
            kind, params = getattr(block, "type", None), getattr(block, "params", None)
            t_block = LAYER_TYPES.get(kind) if isinstance(kind, str) else None
            if t_block is None or t_block.keeps_volume or not isinstance(params, dict):
                continue
            current = t_block.resolve(params)
            for h in t_block.hypers:
                if h.kind is not int or h.name not in (*VOLUME_HYPERS, "filters"):
                    continue
                near = {current[h.name] + d for d in range(-MERGE_REACH, MERGE_REACH + 1)} | dims
                for value in sorted(near - {current[h.name]}, key=lambda v: (abs(v - current[h.name]), v)):
                    if h.check(value):
                        continue
                    changed = LayerSpec(kind, {**params, h.name: value})
                    out = _volume_through([*lane[:k], changed, *lane[k + 1:]], vol)
                    merged = None if out is None else _merges(t, outs[:j] + [out] + outs[j + 1:])
                    if merged is None:
                        continue
                    label = info.lanes[j][k].label
                    found.append((abs(value - current[h.name]), Fix(f"use {h.name} {value} in block {label}",
                                                                    info.path + (j, k), params={h.name: value},
                                                                    gives=str(merged))))
                    break
    found.sort(key=lambda pair: pair[0])
    return fixes + [fix for _, fix in found[:4]]


def _projections(info: BlockInfo, t: ContainerType, lanes: list, j: int, vol: Volume, outs: list[Volume]) -> list[Fix]:
    """The empty lane j replaced by a 1x1 convolution (and the normalisation the other lanes use) with the
    depth of another lane's output and the stride that makes the lanes merge; "fit": "crop" when only
    rounding down gets there (said in the label). [] when none does."""
    conv = next(c for c in LAYER_TYPES.values() if c.has_filters)
    declared = {h.name: h for h in conv.hypers}
    others = [o for i, o in enumerate(outs) if i != j]
    filters = others[0].depth if others else vol.depth
    normaliser = next((b for i, lane in enumerate(lanes) if i != j for b in lane
                       if getattr(BLOCK_TYPES.get(getattr(b, "type", None)), "couples_batch", False)), None)
    fits = [{}] + ([{"fit": "crop"}] if "crop" in getattr(declared.get("fit"), "choices", ()) else [])
    for fit in fits:
        for stride in range(1, int(declared["stride"].maximum) + 1):
            params = {"filters": filters, "size": 1, "stride": stride, **fit}
            if normaliser is not None and "bias" in declared:
                params["bias"] = False
            blocks = [LayerSpec(conv.name, params)] + ([LayerSpec(normaliser.type)] if normaliser is not None else [])
            out = _volume_through(blocks, vol)
            merged = None if out is None else _merges(t, outs[:j] + [out] + outs[j + 1:])
            if merged is None:
                continue
            how = f"{filters} filters, stride {stride}"
            if fit:
                how += f", fit crop: ({vol.width} - 1)/{stride} + 1 = {(vol.width - 1) / stride + 1:g} rounded down"
            if normaliser is not None:
                how += f", then {BLOCK_TYPES[normaliser.type].title.lower()}"
            return [Fix(f"project the {t.lane_names(len(lanes))[j]} with a 1x1 conv: {how}", info.path,
                        replace_lane=(j, tuple(blocks)), gives=str(merged))]
    return []


def _structure_problems(layers: list, blocks: list[BlockInfo], classes: int | None, input_volume: Volume | None,
                        with_fixes: bool) -> list[Problem]:
    """The classifier rule (engine.plan.structure_problems: one softmax, the last top-level block).
    with_fixes False: the problems' places only."""
    problems = []
    found = structure_problems(layers)
    top = next((b for b in blocks if b.kind == "classifier"), None)
    n = len(blocks)
    for path, sentence in found:
        message = sentence[0].upper() + sentence[1:] + "."
        fixes = []
        if not with_fixes:
            problems.append(Problem(path or None, message))
            continue
        if not path:
            feeding = blocks[-1].output if blocks else input_volume
            fixes = [Fix("add softmax at the end", (n,), insert=(LayerSpec("softmax"),))]
            if classes and feeding is not None and feeding != Volume(1, 1, classes):
                fixes.insert(0, Fix(f"add fc {classes} and softmax at the end", (n,),
                                    insert=(LayerSpec("fc", {"units": classes}), LayerSpec("softmax"))))
        else:
            info = _block_at(blocks, path)
            label = info.label if info else ".".join(map(str, path))
            fixes = [Fix(f"remove block {label}", path, remove=True)]
            if len(path) > 1:
                fixes.append(Fix(f"move block {label} to the end", path, move_to_end=True))
            elif top is not None:
                fixes.append(Fix(f"move the softmax (block {top.label}) to the end", top.path, move_to_end=True))
        problems.append(Problem(path or None, message, fixes=fixes))
    return problems


def _classifier_input_problems(blocks: list[BlockInfo], classes: int | None) -> list[Problem]:
    """What the first top-level softmax is fed: a 1x1xC volume, after something that learns."""
    problems = []
    top = next((b for b in blocks if b.kind == "classifier"), None)
    if top is None:
        return problems
    i = top.path[0]
    feeding = top.input
    if classes is None or feeding is None:
        return problems
    want = Volume(1, 1, classes)
    if feeding == want:
        if not any(b.params for b in blocks[:i]):
            problems.append(Problem(top.path, f"{top.name}: no block before the classifier has parameters, so the "
                                              f"network has nothing to learn.",
                                    fixes=[Fix(f"add fc {classes} before softmax", top.path,
                                               insert=(LayerSpec("fc", {"units": classes}),))]))
        return problems
    before = blocks[i - 1] if i else None
    fixes = []
    if before is not None and before.kind == "dense":
        fixes.append(Fix(f"set block {before.label}'s units to {classes}", before.path, params={"units": classes},
                         gives=str(want)))
    fixes.append(Fix(f"add fc {classes} before softmax", top.path, insert=(LayerSpec("fc", {"units": classes}),)))
    source = f"block {before.label} ({before.title}) gives" if before else "the INPUT block gives"
    problems.append(Problem(top.path, f"{top.name} needs a {want} volume ({classes} classes), but {source} "
                                      f"{feeding}.", fixes=fixes))
    return problems


def _last_conv_receptive_field(blocks: list[BlockInfo]) -> ReceptiveField | None:
    """The receptive field after the last top-level block holding a filter bank (a conv, or a container
    with one): what the last convolution's units see."""
    for b in reversed(blocks):
        stack = [b]
        while stack:
            x = stack.pop()
            if getattr(BLOCK_TYPES.get(x.type), "has_filters", False):
                return b.receptive_field
            stack += [c for lane in x.lanes for c in lane]
    return None


def _add_warnings(result: Inference) -> None:
    """Legal but likely unwanted: an fc with over 10 million weights fed an unpooled volume, two
    activations in a row, convs or pools on 1x1, containers whose lanes are all empty."""
    lanes = [result.blocks] + [lane for b in result.walk() for lane in b.lanes]
    for lane in lanes:
        for prev, b in zip(lane, lane[1:]):
            if b.kind == "activation" and prev.kind == "activation":
                b.warnings.append(Problem(b.path, f"{b.name} follows another activation (block {prev.label}, "
                                                  f"{prev.title}); two in a row do no more than one.",
                                          fixes=[Fix(f"remove block {b.label}", b.path, remove=True)]))
    reached = None
    for b in result.walk():
        if (b.kind == "dense" and b.params > LARGE_FC_PARAMS and b.input is not None
                and b.input.width * b.input.height > POOLED_SIDE ** 2):
            b.warnings.append(Problem(b.path, f"{b.name} has {b.params:,} parameters (more than 10 million) because it "
                                              f"sees an unpooled {b.input} volume: pool it to {POOLED_SIDE}x"
                                              f"{POOLED_SIDE} or less first, as the published nets do (AlexNet "
                                              f"6x6, VGG16 7x7)."))
        if b.is_container and b.lanes and not any(b.lanes) and b.output is not None:
            b.warnings.append(Problem(b.path, f"{b.name}: all its lanes are empty, so it only merges copies of its "
                                              f"input and learns nothing."))
        if b.input is None or b.output is None or b.is_container:
            continue
        if reached is None:
            if b.output[:2] == (1, 1) and b.input[:2] != (1, 1):
                reached = b
        elif reached and b.kind in ("conv", "pool") and b.input[:2] == (1, 1):
            b.warnings.append(Problem(b.path, f"{b.name} works on a 1x1 input: the spatial size reached 1x1 at "
                                              f"block {reached.label}, long before the classifier."))
            reached = False  # said once


_NEW = ("new",)  # _origin of a block a fix adds


def _origin(fix: Fix, path: Path | None, top_count: int):
    """Where a block of the fixed network (at path) was before the fix: the same path shifted past
    removed, inserted or moved blocks; _NEW for a block the fix adds; None stays None (the network)."""
    if path is None or fix.path is None:
        return path
    p = tuple(fix.path)
    if fix.replace_lane is not None:
        inside = p + (fix.replace_lane[0],)
        return _NEW if len(path) > len(inside) and path[:len(inside)] == inside else path
    lane, i = p[:-1], p[-1]
    depth = len(lane)
    if fix.move_to_end:
        last = top_count - 1 if len(p) == 1 else top_count
        if path[0] == last:
            return p + path[1:]
    if not (len(path) > depth and path[:depth] == lane):
        return path
    q = path[depth]
    if fix.insert:
        k = len(fix.insert)
        if i <= q < i + k:
            return _NEW
        shift = -k if q >= i + k else 0
    elif fix.remove or fix.move_to_end:
        shift = 1 if q >= i else 0
    else:
        return path
    return path[:depth] + (q + shift,) + path[depth + 1:]


def _judge(arch: Architecture, result: Inference, base: _Base) -> None:
    """Apply each error's fixes and infer the fixed network again (from the first top-level block the fix
    changes): label each with what the network then is, sort those that leave it valid first, then those
    that break nothing new, and say so on a problem where no single fix keeps the rest working."""
    before = Counter(p.path for p in result.errors)
    top_count = len(_layers(arch))
    for problem in result.errors:
        if not problem.fixes:
            continue
        ranks = {}
        for fix in problem.fixes:
            same_types = fix.type is None and not (fix.insert or fix.remove or fix.move_to_end or fix.replace_lane)
            paths, blocks = _errors_after(fix.apply(arch), base, None if fix.path is None else fix.path[0], same_types)
            fix.valid = not paths
            if fix.valid:
                fix.outcome, ranks[id(fix)] = "the network is valid", 0
                continue
            broken = _first_new(paths, before, fix, problem.path, top_count)
            if broken is False:
                n = len(paths)
                fix.outcome, ranks[id(fix)] = f"{n} other error{'s' if n != 1 else ''} remain{'s' if n == 1 else ''}", 1
            else:
                where = None if broken is None else _block_at(blocks, broken)
                fix.outcome = f"block {where.label} then fails" if where else "the network then fails"
                ranks[id(fix)] = 2
        problem.fixes.sort(key=lambda f: ranks[id(f)])
        if all(r == 2 for r in ranks.values()):
            problem.message += " No single fix makes the whole network valid."


def _first_new(paths: list, before: Counter, fix: Fix, fixed: Path | None, top_count: int):
    """The path of the first error of the fixed network that is new: at a block the fix adds, or one more
    error at a place than it had before (one fewer expected where the fixed problem was); None for the
    network; False when there is none."""
    seen = Counter()
    for path in paths:
        origin = _origin(fix, path, top_count)
        seen[origin] += 1
        allowed = 0 if origin is _NEW else before.get(origin, 0) - (origin == fixed)
        if seen[origin] > allowed:
            return path
    return False
