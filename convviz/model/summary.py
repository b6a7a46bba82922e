"""`convviz summary NET`: a torchinfo-like table of every block as an indented tree (or every error),
or the same as JSON."""
from __future__ import annotations

import json
import sys

from ..engine.layers import CONTAINER_TYPES
from ..units import size_bytes
from . import memory
from .inference import BYTES_PER_NUMBER, BlockInfo, Inference, Problem, infer
from .presets import resolve_net
from .sharing import parameter_sharing
from .spec import Architecture

COLUMNS = ("block", "type", "hyperparameters", "output", "params", "without sharing", "mult-adds", "memory",
           "receptive field")


def _volume(v) -> list[int] | None:
    return None if v is None else [v.width, v.height, v.depth]


def _problem_dict(p: Problem) -> dict:
    """index: the top-level block the problem is in (None: the network or the INPUT block); path: exactly where."""
    return {"index": p.path[0] if p.path else None, "path": list(p.path) if p.path else None, "message": p.message,
            "formula": p.formula, "fixes": [f.label for f in p.fixes]}


def _block_dict(b: BlockInfo) -> dict:
    d = {"index": b.path[0], "path": list(b.path), "label": b.label, "key": b.key, "type": b.type,
         "input": _volume(b.input), "output": _volume(b.output), "params": b.params,
         "params_without_sharing": _unshared(b), "macs": b.macs,
         "memory_bytes": b.memory_bytes,
         "receptive_field": list(b.receptive_field[:2]) if b.receptive_field else None,
         "whole_input": b.receptive_field.whole if b.receptive_field else None}
    if b.is_container:
        d["lanes"] = [[_block_dict(c) for c in lane] for lane in b.lanes]
        d["merge_inputs"] = [_volume(v) for v in b.merge_inputs]
    return d


def summary_dict(arch: Architecture, inference: Inference) -> dict:
    """The JSON form: {"valid", "input", "classes", "layers": [...], totals, "errors", "warnings"}. "layers"
    lists every block in pre-order, each with its "path" (and "index", the top-level block it is in);
    a container's entry also holds its lanes' entries ("lanes") and the volumes meeting at its merge
    ("merge_inputs"); its params, macs and memory are its contents' totals."""
    return {
        "valid": inference.valid,
        "input": [getattr(arch.input, k, None) for k in ("width", "height", "depth")],
        "classes": arch.classes,
        "layers": [_block_dict(b) for b in inference.walk()],
        "total_params": inference.total_params,
        "total_macs": inference.total_macs,
        "total_memory_bytes": inference.total_memory_bytes,
        "errors": [_problem_dict(p) for p in inference.errors],
        "warnings": [_problem_dict(p) for p in inference.warnings],
    }


def _unshared(b: BlockInfo) -> int | None:
    """What a sliding-filter block would need with one set of weights per neuron; None for other blocks."""
    sharing = parameter_sharing(b)
    return None if sharing is None else sharing.unshared


def _hypers(params) -> str:
    if not isinstance(params, dict):
        return repr(params)
    return " ".join(f"{k}={v}" for k, v in params.items())


def _rows(blocks: list[BlockInfo], specs: list, depth: int) -> list[tuple[str, ...]]:
    """Table rows for one lane, containers followed by their lanes (indented) and their merge."""
    rows = []
    indent = "  " * depth
    for b, spec in zip(blocks, specs):
        rf = str(b.receptive_field) if b.receptive_field else "-"
        hypers = "" if b.is_container else _hypers(getattr(spec, "params", None))
        unshared = _unshared(b)
        rows.append((indent + b.label, b.type, hypers, str(b.output) if b.output else "?", f"{b.params:,}",
                     "" if unshared is None else f"{unshared:,}", f"{b.macs:,}",
                     size_bytes(b.memory_bytes) if b.output else "?", rf))
        if not b.is_container:
            continue
        t = CONTAINER_TYPES[b.type]
        names = t.lane_names(len(b.lanes))
        spec_lanes = spec.lanes if b.lanes else []  # inferred lanes come from lists of blocks
        for name, lane, lane_specs, out in zip(names, b.lanes, spec_lanes, b.merge_inputs):
            if lane:
                rows += _rows(lane, lane_specs, depth + 1)
            else:
                rows.append((f"{indent}  {b.label}.{name}", "identity", "", str(out) if out else "?", "", "", "", "",
                             ""))
        rows.append((f"{indent}  {t.merge_title}", "merge", "", str(b.output) if b.output else "?", "", "", "",
                     size_bytes(b.output.size * BYTES_PER_NUMBER) if b.output else "?", rf))
    return rows


def summary_table(arch: Architecture, inference: Inference) -> str:
    """Every block as an indented tree (a container, then its lanes' blocks, then its merge): output volume,
    parameters, mult-adds, memory and receptive field (a container's: its contents' totals), with the
    network's totals, then every error (with its formula and fixes) and warning."""
    rows = [("input", "INPUT", "", str(arch.input), "", "", "", size_bytes(_size(arch.input) * BYTES_PER_NUMBER),
             "1x1 (jump 1)")]
    rows += _rows(inference.blocks, arch.layers, 0)
    widths = [max(len(COLUMNS[c]), *(len(r[c]) for r in rows)) for c in range(len(COLUMNS))]
    right = {4, 5, 6, 7}

    def line(cells):
        padded = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        return "  ".join(padded).rstrip()

    rule = "-" * len(line(COLUMNS))
    out = [line(COLUMNS), rule, *map(line, rows), rule,
           f"Total parameters: {inference.total_params:,}",
           *_sharing_total(inference),
           f"Total mult-adds per image: {inference.total_macs:,}",
           f"Activation memory per image (float32): {size_bytes(inference.total_memory_bytes)}",
           f"Classes: {arch.classes}"]
    rf = inference.last_conv_receptive_field
    if rf:
        seen = f"the whole input ({rf.size}x{rf.size})" if rf.whole else f"{rf.size}x{rf.size} input pixels"
        out.append(f"Receptive field of the last conv: {seen}, jump {rf.jump}")
    for kind, problems in (("error", inference.errors), ("warning", inference.warnings)):
        for p in problems:
            out.append(f"{kind}: {p.message}")
            if p.formula and "\n" in p.formula:  # a merge's lanes (a leaf's formula is in its message)
                out.extend(f"    {line}" for line in p.formula.splitlines())
            out.extend(f"    fix: {f.label}" for f in p.fixes)
    out.append("valid" if inference.valid else f"invalid: {len(inference.errors)} error"
               f"{'s' if len(inference.errors) != 1 else ''}")
    return "\n".join(out)


def _sharing_total(inference: Inference) -> list[str]:
    """One line: the parameters the network would need if every conv's neurons had their own weights."""
    blocks = [b for b in inference.walk() if not b.is_container]
    sharing = [parameter_sharing(b) for b in blocks]
    if not any(sharing):
        return []
    total = sum(b.params if s is None else s.unshared for b, s in zip(blocks, sharing))
    return [f"Without parameter sharing (one set of weights per conv neuron): {total:,}"]


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
    verdict = refusal or warning or (f"fits: {size_bytes(available)} available" if available is not None
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
                              "errors": [{"index": None, "path": None, "message": m, "formula": None, "fixes": []}
                                         for m in getattr(e, "problems", [str(e)])]}, indent=2))
        else:
            print(f"convviz summary: {e}", file=sys.stderr)
        return 1
    inference = infer(arch)
    report = memory_report(arch, batch) if batch is not None and inference.valid else None
    if as_json:
        print(json.dumps({**summary_dict(arch, inference), **({"memory": report[0]} if report else {})}, indent=2))
    else:
        if arch.description:
            print(arch.description)
        print(summary_table(arch, inference))
        if report:
            print("\n".join(report[1]))
    return 0 if inference.valid else 1
