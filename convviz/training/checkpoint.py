"""The checkpoint file: one .npz of arrays plus a JSON document (key "meta") holding everything else.

Read with allow_pickle=False, so a hostile file can hold data but never run code. Written
atomically (engine.files.atomic_write): a temporary file in the same folder, then os.replace.
"""
from __future__ import annotations

import json

import numpy as np

from ..engine import BLOCK_TYPES
from ..engine.tree import walk
from ..model.spec import Architecture
from ..engine.files import atomic_write, read_npz

FORMAT = "convviz-checkpoint"
VERSION = 1
META_KEY = "meta"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or does not fit the architecture or data it is used with."""


def write(path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write arrays and the JSON-serialisable meta to path, atomically."""
    document = json.dumps({"format": FORMAT, "version": VERSION, **meta})
    with atomic_write(path) as f:
        np.savez(f, **arrays, **{META_KEY: np.array(document)})


def read(path) -> tuple[dict[str, np.ndarray], dict]:
    """-> (arrays, meta). Raises CheckpointError naming the file and the problem."""
    try:
        arrays = read_npz(path)
    except FileNotFoundError as e:
        raise CheckpointError(f"{path}: no such checkpoint file") from e
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable checkpoint (damaged or another kind of file): {e}") from e
    text = arrays.pop(META_KEY, None)
    if text is None or text.dtype.kind != "U" or text.ndim != 0:
        raise CheckpointError(f"{path} is not a ConvViz checkpoint (no description inside): write it again with convviz")
    try:
        meta = json.loads(str(text))
    except ValueError as e:
        raise CheckpointError(f"{path}: the checkpoint's description is damaged ({e})") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a ConvViz checkpoint")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path} is a version {meta.get('version')} checkpoint; this ConvViz reads version {VERSION}")
    return arrays, meta


def architecture_difference(saved: dict, wanted: dict) -> str:
    """'' when the two architecture documents describe the same network, else the first difference,
    naming the block by its path. Blocks compare with their defaults filled in: a hyperparameter
    written out at its default value (conv "stride": 1) is the same network as one that leaves it out."""
    saved, wanted = json.loads(json.dumps(saved)), json.loads(json.dumps(wanted))
    if saved["input"] != wanted["input"]:
        return f"input {_volume(saved['input'])} in the checkpoint, {_volume(wanted['input'])} here"
    a = list(walk(Architecture.from_dict(saved).layers))
    b = list(walk(Architecture.from_dict(wanted).layers))
    for x, y in zip(a, b):
        if x.path != y.path:
            return (f"the checkpoint has block {x.label} ({x.block.type}) where this network has block {y.label} "
                    f"({y.block.type})")
        if _resolved(x.block) != _resolved(y.block):
            return f"block {x.label} is {_layer(x.block)} in the checkpoint, {_layer(y.block)} here"
    if len(a) != len(b):
        return f"{len(a)} blocks in the checkpoint, {len(b)} here"
    return ""


def _resolved(block) -> tuple:
    """A block's type with every hyperparameter its type declares, defaults filled in, and its lane count."""
    t = BLOCK_TYPES.get(block.type)
    params = t.resolve(block.params) if t is not None and not t.is_container else block.params
    return block.type, params, len(block.lanes or [])


def _volume(d: dict) -> str:
    return f"{d['width']}x{d['height']}x{d['depth']}"


def _layer(block) -> str:
    params = ", ".join(f"{k} {v}" for k, v in block.params.items())
    return f"{block.type} ({params})" if params else block.type
