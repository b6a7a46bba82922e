"""Architecture JSON files: a checked loader that reports every problem with its path, and an
atomic writer. The document:

    {"version": 1, "input": {"width": 32, "height": 32, "depth": 3}, "classes": 10,
     "description": "...", "layers": [{"type": "conv", "filters": 16, "size": 5, "pad": 2}, ...]}

"classes" (default 10) and "description" (default "") may be left out. Hyperparameters are
checked against the engine's declarations; whether the volumes fit is infer()'s business, so a
half-edited network still loads.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from ..engine import LAYER_TYPES, Volume
from ..engine.files import atomic_write
from .inference import CLASSES_HYPER, INPUT_HYPERS
from .spec import DEFAULT_CLASSES, FORMAT_VERSION, Architecture, LayerSpec

MAX_FILE_BYTES = 5_000_000
MAX_LISTED = 50  # problems spelt out in the message (all are in .problems)
TOP_KEYS = ("version", "input", "classes", "description", "layers")


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
        raise ArchitectureFileError(source, ["malformed JSON: nested too deeply"]) from None
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
    return json.dumps(value) if isinstance(value, (str, int, float, bool)) or value is None else type(value).__name__


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
    layers = _check_layers(doc.get("layers"), problems)
    if problems:
        return None
    return Architecture(input_volume, layers, classes, description)


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


def _check_layers(value, problems: list[str]) -> list[LayerSpec]:
    if not isinstance(value, list):
        problems.append("layers: must be a list of blocks like {\"type\": \"conv\", \"filters\": 16}, got "
                        + ("nothing" if value is None else _describe(value)))
        return []
    layers = []
    for i, block in enumerate(value):
        where = f"layers[{i}]"
        if not isinstance(block, dict):
            problems.append(f"{where}: must be an object with a \"type\", got {_describe(block)}")
            continue
        kind = block.get("type")
        t = LAYER_TYPES.get(kind) if isinstance(kind, str) else None
        if t is None:
            got = "nothing" if "type" not in block else _describe(kind)
            problems.append(f"{where}.type: must be one of {', '.join(LAYER_TYPES)}, got {got}")
            continue
        _report_duplicates(block, f"{where}.", problems)
        params = {k: v for k, v in block.items() if k != "type"}
        for key, h, message in t.hyper_problems(params):
            if h is None:
                problems.append(f"{where}.{key}: {t.name} has no such hyperparameter ({message})")
            else:
                problems.append(f"{where}.{key}: {_json_quoted(message, params[key])}")
        layers.append(LayerSpec(kind, params))
    return layers


def format_architecture(arch: Architecture) -> str:
    """The JSON text save_architecture writes: one line per block, easy to read and diff."""
    d = arch.to_dict()
    blocks = ",\n".join(f"    {json.dumps(b, allow_nan=False)}" for b in d.pop("layers"))
    head = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, allow_nan=False)}" for k, v in d.items())
    return f"{{\n{head},\n  \"layers\": [\n{blocks}\n  ]\n}}\n" if blocks else f"{{\n{head},\n  \"layers\": []\n}}\n"


def save_architecture(arch: Architecture, path) -> None:
    """Write arch as JSON atomically (temp file in the same folder + os.replace), with the usual permissions."""
    text = format_architecture(arch)
    with atomic_write(path, text=True) as f:
        f.write(text)
