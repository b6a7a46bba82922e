"""`convviz summary NET`: a torchinfo-like table of every block (or every error), or the same as JSON."""
from __future__ import annotations

import json
import sys

from ..engine.files import size_text
from .inference import BYTES_PER_NUMBER, Inference, Problem, infer
from . import memory
from .presets import resolve_net
from .spec import Architecture

COLUMNS = ("block", "type", "hyperparameters", "output", "params", "mult-adds", "memory", "receptive field")


def _volume(v) -> list[int] | None:
    return None if v is None else [v.width, v.height, v.depth]


def _problem_dict(p: Problem) -> dict:
    return {"index": p.index, "message": p.message, "formula": p.formula, "fixes": [f.label for f in p.fixes]}


def summary_dict(arch: Architecture, inference: Inference) -> dict:
    """The JSON form: {"valid", "input", "classes", "layers": [...], totals, "errors", "warnings"}."""
    return {
        "valid": inference.valid,
        "input": [getattr(arch.input, k, None) for k in ("width", "height", "depth")],
        "classes": arch.classes,
        "layers": [{"index": b.index, "type": b.type, "input": _volume(b.input), "output": _volume(b.output),
                    "params": b.params, "macs": b.macs, "memory_bytes": b.memory_bytes,
                    "receptive_field": list(b.receptive_field) if b.receptive_field else None}
                   for b in inference.blocks],
        "total_params": inference.total_params,
        "total_macs": inference.total_macs,
        "total_memory_bytes": inference.total_memory_bytes,
        "errors": [_problem_dict(p) for p in inference.errors],
        "warnings": [_problem_dict(p) for p in inference.warnings],
    }


def _bytes(n: int) -> str:
    for unit, size in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _hypers(params) -> str:
    if not isinstance(params, dict):
        return repr(params)
    return " ".join(f"{k}={v}" for k, v in params.items())


def summary_table(arch: Architecture, inference: Inference) -> str:
    """Every block's output volume, parameters, mult-adds, memory and receptive field, with totals,
    then every error (with its fixes) and warning."""
    rows = [("input", "INPUT", "", str(arch.input), "", "", _bytes(_size(arch.input) * BYTES_PER_NUMBER),
             "1x1 (jump 1)")]
    for b, layer in zip(inference.blocks, arch.layers):
        rf = "-"
        if b.receptive_field:
            size, jump = b.receptive_field
            rf = f"{size}x{size} (jump {jump})"
        rows.append((str(b.index), b.type, _hypers(layer.params), str(b.output) if b.output else "?",
                     f"{b.params:,}", f"{b.macs:,}", _bytes(b.memory_bytes) if b.output else "?", rf))
    widths = [max(len(COLUMNS[c]), *(len(r[c]) for r in rows)) for c in range(len(COLUMNS))]
    right = {4, 5, 6}

    def line(cells):
        padded = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        return "  ".join(padded).rstrip()

    rule = "-" * len(line(COLUMNS))
    out = [line(COLUMNS), rule, *map(line, rows), rule,
           f"Total parameters: {inference.total_params:,}",
           f"Total mult-adds per image: {inference.total_macs:,}",
           f"Activation memory per image (float32): {_bytes(inference.total_memory_bytes)}",
           f"Classes: {arch.classes}"]
    if inference.last_conv_receptive_field:
        size, jump = inference.last_conv_receptive_field
        out.append(f"Receptive field of the last conv: {size}x{size} input pixels, jump {jump}")
    for kind, problems in (("error", inference.errors), ("warning", inference.warnings)):
        for p in problems:
            out.append(f"{kind}: {p.message}")
            out.extend(f"    fix: {f.label}" for f in p.fixes)
    out.append("valid" if inference.valid else f"invalid: {len(inference.errors)} error"
               f"{'s' if len(inference.errors) != 1 else ''}")
    return "\n".join(out)


def _size(v) -> int:
    try:
        return int(v.width) * int(v.height) * int(v.depth)
    except (AttributeError, TypeError, ValueError):
        return 0


def memory_report(arch: Architecture, batch: int) -> tuple[dict, list[str]]:
    """The estimated memory to train arch at batch size `batch` (SGD with momentum, the default) against
    what this machine has available -> (JSON form, text lines)."""
    e = memory.estimate(arch, batch)
    available = memory.available_memory()
    refusal, warning = memory.memory_problem(arch, batch, available=available) if available else (None, None)
    verdict = refusal or warning or (f"fits: {size_text(available)} available" if available is not None
                                     else "the memory available is unknown on this system")
    lines = [f"Memory to train at batch size {batch} (SGD with momentum), besides ConvViz itself and the data:"]
    lines += [f"  {line}" for line in e.lines()] + [verdict]
    return ({"batch": batch, "bytes": e.total, "available": available, "fits": refusal is None,
             "message": verdict, **{k: getattr(e, k) for k in ("parameters", "kept_state", "optimizer",
                                                                 "gradients", "activations", "workspace")}},
            lines)


def summary_command(net: str, as_json: bool = False, batch: int | None = None) -> int:
    """Print the summary of a preset or JSON file (with batch: and the memory training it takes);
    0 when the network is valid, 1 otherwise."""
    try:
        arch = resolve_net(net)
    except ValueError as e:
        if as_json:
            print(json.dumps({"valid": False, "layers": [], "total_params": 0, "total_macs": 0,
                              "total_memory_bytes": 0, "warnings": [],
                              "errors": [{"index": None, "message": m, "formula": None, "fixes": []}
                                         for m in getattr(e, "problems", [str(e)])]}, indent=2))
        else:
            print(f"convviz summary: {e}", file=sys.stderr)
        return 1
    inference = infer(arch)
    memory = memory_report(arch, batch) if batch is not None and inference.valid else None
    if as_json:
        print(json.dumps({**summary_dict(arch, inference), **({"memory": memory[0]} if memory else {})}, indent=2))
    else:
        if arch.description:
            print(arch.description)
        print(summary_table(arch, inference))
        if memory:
            print("\n".join(memory[1]))
    return 0 if inference.valid else 1
