"""Architecture JSON files: a checked loader that reports every problem with its path, and an
atomic writer. The document:

    {"version": 1, "input": {"width": 32, "height": 32, "depth": 3}, "classes": 10,
     "description": "...", "layers": [{"type": "conv", "filters": 16, "size": 5, "pad": 2}, ...]}

Version 2 adds containers, whose lanes hold blocks (see spec.py):
    {"type": "residual", "body": [...], "shortcut": [...]}   (a missing shortcut is the identity)
    {"type": "concat", "branches": [[...], [...]]}

"classes" (default 10), "description" (default "") and "group" (presets: "train" or "reference")
may be left out. Hyperparameters are checked against the engine's declarations; whether the
volumes fit is infer()'s business, so a half-edited network still loads. Problems name their place
as a JSON path: "layers[3].body[0].stride: ...".
"""
from __future__ import annotations

import difflib
import json
from collections import Counter
from pathlib import Path

from ..engine import Volume
from ..engine.layers import BLOCK_TYPES
from ..engine.files import atomic_write
from .inference import CLASSES_HYPER, INPUT_HYPERS
from .spec import DEFAULT_CLASSES, FORMAT_VERSION, GROUPS, MAX_NESTING, Architecture, LayerSpec

MAX_FILE_BYTES = 5_000_000
MAX_LISTED = 50  # problems spelt out in the message (all are in .problems)
TOP_KEYS = ("version", "input", "classes", "description", "group", "layers")
MAX_BLOCKS = 10_000  # blocks in a file, containers' contents included (the largest preset has a few hundred)


class ArchitectureFileError(ValueError):
    """An architecture document that cannot be used. problems: every "path: message" found; str()
    lists them (the first MAX_LISTED)."""

    def __init__(self, source: str, problems: list[str]):
        self.source, self.problems = source, problems
        lines = "\n".join(f"  {p}" for p in problems[:MAX_LISTED])
        if len(problems) > MAX_LISTED:
            lines += f"\n  ... and {len(problems) - MAX_LISTED:,} more"
        super().__init__(f"{source} is not a usable architecture ({len(problems)} problem"
                         f"{'s' if len(problems) != 1 else ''}):\n{lines}")


class _JsonObject(dict):
    """A JSON object that remembers the keys it held more than once (json keeps only the last)."""

    def __init__(self, pairs):
        super().__init__(pairs)
        self.duplicates = sorted(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)


def _report_duplicates(obj, where: str, problems: list[str]) -> None:
    for key in getattr(obj, "duplicates", ()):
        problems.append(f"{where}{key}: given more than once (only the last would count)")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed (numbers must be finite)")


def parse_architecture(text: str, source: str = "<text>") -> Architecture:
    """Parse and check a JSON document; raise ArchitectureFileError listing every problem."""
    try:
        doc = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_JsonObject)
    except json.JSONDecodeError as e:
        raise ArchitectureFileError(source, [f"line {e.lineno}, column {e.colno}: malformed JSON: {e.msg}"]) from None
    except ValueError as e:
        raise ArchitectureFileError(source, [f"malformed JSON: {e}"]) from None
    except RecursionError:
        raise ArchitectureFileError(source, [f"the JSON is nested too deeply to read (containers nest at most "
                                             f"{MAX_NESTING} deep)"]) from None
    problems: list[str] = []
    arch = _check_document(doc, problems)
    if problems:
        raise ArchitectureFileError(source, problems)
    return arch


def load_architecture(path) -> Architecture:
    """Read and check an architecture file; raise ArchitectureFileError naming every problem."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ArchitectureFileError(str(path), [f"the file is {size:,} bytes; an architecture file is at most "
                                                    f"{MAX_FILE_BYTES:,}"])
        data = path.read_bytes()
    except OSError as e:
        raise ArchitectureFileError(str(path), [f"cannot read the file: {e.strerror or e}"]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ArchitectureFileError(str(path), [f"byte {e.start}: not UTF-8 text"]) from None
    return parse_architecture(text, str(path))


def _describe(value) -> str:
    """A value as the file spells it (a number, text, true, null), or what kind of value it is."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return json.dumps(value)
    return "an object" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__


def _check_document(doc, problems: list[str]) -> Architecture | None:
    """Append a "path: message" per problem; return the architecture when there are none."""
    if not isinstance(doc, dict):
        problems.append(f"document: must be a JSON object with {', '.join(TOP_KEYS)}, got {_describe(doc)}")
        return None
    _report_duplicates(doc, "", problems)
    for key in doc:
        if key not in TOP_KEYS:
            problems.append(f"{key}: unknown key (allowed: {', '.join(TOP_KEYS)})")
    version = doc.get("version", FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        problems.append(f"version: must be a whole number from 1, got {_describe(version)}")
    elif version > FORMAT_VERSION:
        problems.append(f"version: the file uses format {version}, this ConvViz reads format {FORMAT_VERSION} "
                        f"and older; update ConvViz to open it")
    input_volume = _check_input(doc.get("input"), problems)
    classes = doc.get("classes", DEFAULT_CLASSES)
    if message := _value_problem(CLASSES_HYPER, classes):
        problems.append(f"classes: {message}")
    description = doc.get("description", "")
    if not isinstance(description, str):
        problems.append(f"description: must be text, got {_describe(description)}")
    group = doc.get("group", "")
    if group != "" and not (isinstance(group, str) and group in GROUPS):
        problems.append(f"group: must be one of {', '.join(GROUPS)}, got {_describe(group)}")
    layers = _check_layers(doc.get("layers"), problems, version)
    if problems:
        return None
    return Architecture(input_volume, layers, classes, description, group)


def _value_problem(h, value) -> str | None:
    """Hyper.check's complaint about value, quoted as JSON."""
    message = h.check(value)
    return None if message is None else _json_quoted(message, value)


def _json_quoted(message: str, value) -> str:
    """A Hyper.check complaint with the value quoted as JSON (the file's language) rather than Python."""
    head, sep, _ = message.rpartition(", got ")
    return f"{head}, got {_describe(value)}" if sep else message


def _check_input(value, problems: list[str]) -> Volume | None:
    if not isinstance(value, dict):
        problems.append("input: must be an object like {\"width\": 32, \"height\": 32, \"depth\": 3}, got "
                        + ("nothing" if value is None else _describe(value)))
        return None
    names = [h.name for h in INPUT_HYPERS]
    _report_duplicates(value, "input.", problems)
    for key in value:
        if key not in names:
            problems.append(f"input.{key}: unknown key (allowed: {', '.join(names)})")
    ok = True
    for h in INPUT_HYPERS:
        if h.name not in value:
            problems.append(f"input.{h.name}: missing (a whole number from {h.minimum:g} to {h.maximum:g})")
            ok = False
        elif message := _value_problem(h, value[h.name]):
            problems.append(f"input.{h.name}: {message}")
            ok = False
    return Volume(*(value[n] for n in names)) if ok else None


def _check_layers(value, problems: list[str], version) -> list[LayerSpec]:
    if not isinstance(value, list):
        problems.append("layers: must be a list of blocks like {\"type\": \"conv\", \"filters\": 16}, got "
                        + ("nothing" if value is None else _describe(value)))
        return []
    checker = _BlockChecker(problems, version)
    return checker.lane(value, "layers", 0)


class _BlockChecker:
    """Checks a tree of block documents against the declarations. Bounded: containers nest at most
    MAX_NESTING deep, and at most MAX_BLOCKS blocks are read (the rest is one problem)."""

    def __init__(self, problems: list[str], version):
        self.problems = problems
        self.version = version
        self.blocks = 0

    def lane(self, value: list, where: str, depth: int) -> list[LayerSpec]:
        layers = []
        for i, block in enumerate(value):
            if self.blocks >= MAX_BLOCKS:
                self.problems.append(f"{where}[{i}]: the network has more than {MAX_BLOCKS:,} blocks; ConvViz "
                                     f"reads at most {MAX_BLOCKS:,}")
                self.blocks += 1  # said once
                return layers
            self.blocks += 1
            spec = self.block(block, f"{where}[{i}]", depth)
            if spec is not None:
                layers.append(spec)
        return layers

    def block(self, block, where: str, depth: int) -> LayerSpec | None:
        problems = self.problems
        if not isinstance(block, dict):
            problems.append(f"{where}: must be an object with a \"type\", got {_describe(block)}")
            return None
        kind = block.get("type")
        t = BLOCK_TYPES.get(kind) if isinstance(kind, str) else None
        if t is None:
            got = "nothing" if "type" not in block else _describe(kind)
            guess = []
            if isinstance(kind, str):
                guess = difflib.get_close_matches(kind.lower(), list(BLOCK_TYPES), n=1, cutoff=0.5)
            hint = f" (did you mean \"{guess[0]}\"?)" if guess else ""
            problems.append(f"{where}.type: must be one of {', '.join(BLOCK_TYPES)}, got {got}{hint}")
            return None
        _report_duplicates(block, f"{where}.", problems)
        if not t.is_container:
            params = {k: v for k, v in block.items() if k != "type"}
            for key, h, message in t.hyper_problems(params):
                if h is None:
                    problems.append(f"{where}.{key}: {t.name} has no such hyperparameter ({message})")
                else:
                    problems.append(f"{where}.{key}: {_json_quoted(message, params[key])}")
            return LayerSpec(kind, params)
        if isinstance(self.version, int) and self.version < 2:
            problems.append(f"{where}: a {t.name} block needs format version 2; the file says \"version\": "
                            f"{self.version}")
        fields = t.lane_fields or (t.lane_list,)
        for key in block:
            if key not in ("type", *fields):
                problems.append(f"{where}.{key}: unknown key (a {t.name} block takes {', '.join(fields)})")
        if depth >= MAX_NESTING:
            problems.append(f"{where}: containers nest more than {MAX_NESTING} deep")
            return None
        if t.lane_fields:
            lanes = []
            for name in t.lane_fields:  # a missing lane is empty (a residual's missing shortcut: the identity)
                lane = block.get(name, [])
                if not isinstance(lane, list):
                    problems.append(f"{where}.{name}: must be a list of blocks, got {_describe(lane)}")
                    lane = []
                lanes.append(self.lane(lane, f"{where}.{name}", depth + 1))
        else:
            listed = block.get(t.lane_list)
            if not isinstance(listed, list):
                got = "nothing" if listed is None else _describe(listed)
                problems.append(f"{where}.{t.lane_list}: must be a list of lanes, each a list of blocks, got {got}")
                return None
            if not t.min_lanes <= len(listed) <= t.max_lanes:
                takes = f"{t.min_lanes}" + (f" to {t.max_lanes}" if t.max_lanes != t.min_lanes else "")
                problems.append(f"{where}.{t.lane_list}: a {t.name} block takes {takes} lanes, got {len(listed)}")
            lanes = []
            for j, lane in enumerate(listed[:t.max_lanes]):
                if not isinstance(lane, list):
                    problems.append(f"{where}.{t.lane_list}[{j}]: must be a list of blocks, got {_describe(lane)}")
                    lane = []
                lanes.append(self.lane(lane, f"{where}.{t.lane_list}[{j}]", depth + 1))
        return LayerSpec(kind, {}, lanes)


def format_architecture(arch: Architecture) -> str:
    """The JSON text save_architecture writes, easy to read and diff: one line per leaf block; a
    container opens on a line with its type, each lane indented below it."""
    d = arch.to_dict()
    layers = d.pop("layers")
    head = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, allow_nan=False)}" for k, v in d.items())
    return f"{{\n{head},\n  \"layers\": {_format_lane(layers, 2)}\n}}\n"


def _format_lane(blocks: list, indent: int) -> str:
    """A list of block documents: "[]", or one block per line, indented by indent + 2."""
    if not blocks:
        return "[]"
    pad = " " * (indent + 2)
    return "[\n" + ",\n".join(pad + _format_block(b, indent + 2) for b in blocks) + f"\n{' ' * indent}]"


def _format_block(block: dict, indent: int) -> str:
    t = BLOCK_TYPES.get(block.get("type")) if isinstance(block.get("type"), str) else None
    if t is None or not t.is_container:
        return json.dumps(block, allow_nan=False)
    pad = " " * (indent + 2)
    lines = []
    for key, value in block.items():
        if key in t.lane_fields:
            text = _format_lane(value, indent + 2)
        elif key == t.lane_list:
            text = ("[\n" + ",\n".join(pad + "  " + _format_lane(lane, indent + 4) for lane in value)
                    + f"\n{pad}]") if value else "[]"
        else:
            text = json.dumps(value, allow_nan=False)
        lines.append(f"{pad}{json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(lines) + f"\n{' ' * indent}}}"


def save_architecture(arch: Architecture, path) -> None:
    """Write arch as JSON atomically (temp file in the same folder + os.replace), with the usual permissions."""
    text = format_architecture(arch)
    with atomic_write(path, text=True) as f:
        f.write(text)
