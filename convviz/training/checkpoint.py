"""The checkpoint file: one .npz of arrays plus a JSON document (array "meta") holding everything else.

Written atomically (engine.files.atomic_write). Read without trusting anything in it: nothing is
unpickled; the description is bounded (META_MAX_CHARS) and every field is checked for its type and
range (settings, optimiser, normalisation, random generators, position, history); the architecture it
describes is checked and the memory training it would take compared with what the machine has before
any array is read; every array's header must match what that architecture and the data need (names,
shapes, kinds: no zip bombs, no giant headers); indices must lie in the data, without repeats, and
the training and validation splits must be disjoint and cover the training images. A bad file gives
a CheckpointError of one line naming the file and the field.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from typing import get_type_hints

import numpy as np

from ..data import Cifar10, ImageFolder, Normalizer
from ..engine import BLOCK_TYPES, OPTIMIZERS
from ..engine.files import NpzReader, atomic_write
from ..engine.machine import available_memory
from ..engine.plan import compile_plan
from ..engine.tree import walk
from ..model.io import parse_architecture
from ..model.memory import memory_problem, state_shapes
from ..model.spec import Architecture
from ..units import size_bytes
from .config import LIVE_HYPER, TrainConfig, hyper_problem

FORMAT = "convviz-checkpoint"
VERSION = 1
META_KEY = "meta"
META_MAX_CHARS = 64 << 20  # the description: its history grows by about 80 characters a step
MAX_SLOTS = 4  # optimiser arrays per parameter (Adam and Adadelta keep 2)
HISTORY_PER_STEP = ("step", "loss", "accuracy", "lr")
HISTORY_PER_EPOCH = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss",
                     "test_accuracy", "epoch_seconds")
MAY_BE_NONE = ("val_loss", "val_accuracy", "test_loss", "test_accuracy")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or does not fit the architecture or data it is used with."""


@dataclass
class Checkpoint:
    """A checkpoint read and checked: meta is its description (every field valid), state its network's
    arrays keyed like Network.state(), slots the optimiser's ({slot: {parameter key: array}})."""

    arch: Architecture
    config: TrainConfig
    normalizer: Normalizer
    meta: dict
    state: dict[str, np.ndarray]
    slots: dict[str, dict[str, np.ndarray]]
    train_idx: np.ndarray
    val_idx: np.ndarray
    order: np.ndarray | None


def write(path, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write arrays and the JSON-serialisable meta to path, atomically."""
    document = json.dumps({"format": FORMAT, "version": VERSION, **meta})
    with atomic_write(path) as f:
        np.savez(f, **arrays, **{META_KEY: np.array(document)})


class _Bad(Exception):
    """A field that is not what a checkpoint holds: (field, what is wrong)."""


def _describe(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 40 else value[:40] + "...")
    return {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)


def _object(d: dict, key: str, field: str) -> dict:
    value = d.get(key) if isinstance(d, dict) else None
    if not isinstance(value, dict):
        raise _Bad(field, f"must be an object, found {_describe(value) if key in d else 'nothing'}")
    return value


def _number(d, key, field: str, low: float = -math.inf, high: float = math.inf,
            whole: bool = False, none: bool = False):
    """d[key] (d an object or a list) as a finite number (whole: an int) from low to high (None allowed
    when none)."""
    value = d.get(key, ...) if isinstance(d, dict) else d[key]
    if value is None and none:
        return None
    kind = "a whole number" if whole else "a number"
    if value is ... or isinstance(value, bool) or not isinstance(value, int if whole else (int, float)) \
            or not math.isfinite(value) or not low <= value <= high:
        bounds = (f" from {low:g}" if low > -math.inf else "") + (f" to {high:g}" if high < math.inf else "")
        raise _Bad(field, f"must be {kind}{bounds}, found {_describe(value) if value is not ... else 'nothing'}")
    return value


def _config(d) -> TrainConfig:
    """The training settings: every field of TrainConfig, of its type, in its range."""
    if not isinstance(d, dict):
        raise _Bad("config", f"must be an object of training settings, found {_describe(d)}")
    hints = get_type_hints(TrainConfig)
    values = {}
    for f in fields(TrainConfig):
        if f.name not in d:
            raise _Bad(f"config.{f.name}", "is missing")
        value, hint = d[f.name], hints[f.name]
        allowed = tuple(t for t in getattr(hint, "__args__", (hint,)))
        if float in allowed:
            allowed += (int,)
        ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
        if not ok or (isinstance(value, float) and not math.isfinite(value)):
            raise _Bad(f"config.{f.name}", f"must be {_type_words(allowed)}, found {_describe(value)}")
        values[f.name] = value
    config = TrainConfig(**values)
    for field, problem in config.field_problems():
        raise _Bad(f"config.{field}", f"is wrong: {problem}")
    return config


def _type_words(types: tuple) -> str:
    words = {int: "a whole number", float: "a number", str: "text", bool: "true or false", type(None): "null"}
    return " or ".join(dict.fromkeys(words.get(t, t.__name__) for t in types if not (t is int and float in types)))


def _optimizer(d: dict, config: TrainConfig) -> dict:
    opt = _object(d, "optimizer", "optimizer")
    if opt.get("name") != config.optimizer:
        raise _Bad("optimizer.name", f"must be {json.dumps(config.optimizer)} (config.optimizer), "
                                     f"found {_describe(opt.get('name'))}")
    _number(opt, "steps", "optimizer.steps", 0, whole=True)
    _number(opt, "base_lr", "optimizer.base_lr", 0)
    if opt["base_lr"] <= 0:
        raise _Bad("optimizer.base_lr", f"must be a positive number, found {_describe(opt['base_lr'])}")
    hyper = _object(opt, "hyper", "optimizer.hyper")
    wanted = OPTIMIZERS[config.optimizer]({}, lr=1.0).hyper()
    for key, default in wanted.items():
        field = f"optimizer.hyper.{key}"
        if key not in hyper:
            raise _Bad(field, "is missing")
        value = hyper[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise _Bad(field, f"must be true or false, found {_describe(value)}")
        elif key in LIVE_HYPER:
            _number(hyper, key, field)
            if problem := hyper_problem(key, value):
                raise _Bad(field, problem)
        else:
            _number(hyper, key, field, 0)
    extra = sorted(set(hyper) - set(wanted))
    if extra:
        raise _Bad(f"optimizer.hyper.{extra[0]}", f"is not a setting of {config.optimizer}")
    return opt


def _normalizer(d: dict, depth: int) -> Normalizer:
    value = _object(d, "normalizer", "normalizer")
    for key in ("mean", "std"):
        numbers = value.get(key)
        if not isinstance(numbers, list) or len(numbers) != depth:
            raise _Bad(f"normalizer.{key}", f"must be a list of {depth} numbers (one per channel), "
                                            f"found {_describe(numbers)}")
        for i in range(depth):
            _number(numbers, i, f"normalizer.{key}[{i}]", 0 if key == "std" else -math.inf)
            if key == "std" and numbers[i] == 0:
                raise _Bad(f"normalizer.std[{i}]", "must be a positive number, found 0")
    return Normalizer(value["mean"], value["std"])


def _generators(d: dict) -> None:
    rng = _object(d, "rng", "rng")
    for key in ("shuffle", "augment", "dropout"):
        try:
            np.random.default_rng().bit_generator.state = rng.get(key)
        except Exception:  # NumPy's own check of the state (TypeError, ValueError, KeyError, OverflowError)
            raise _Bad(f"rng.{key}", f"is not the state of a random generator, found {_describe(rng.get(key))}") \
                from None


def _position(d: dict, config: TrainConfig, train_size: int, has_order: bool) -> None:
    """Where training stands. Within an epoch (an order saved) its totals count the batches done; between
    epochs they are the last epoch's."""
    pos = _object(d, "position", "position")
    _number(pos, "step", "position.step", 0, whole=True)
    _number(pos, "epoch", "position.epoch", 0, config.epochs, whole=True)
    batches = -(-train_size // config.batch_size)
    index = _number(pos, "batch_index", "position.batch_index", 0, batches if has_order else 0, whole=True)
    totals = _object(pos, "epoch_totals", "position.epoch_totals")
    most = min(index * config.batch_size, train_size) if has_order else train_size
    images = _number(totals, "images", "position.epoch_totals.images", 0, most, whole=True)
    _number(totals, "correct", "position.epoch_totals.correct", 0, images, whole=True)
    _number(totals, "loss", "position.epoch_totals.loss", 0)
    _number(totals, "seconds", "position.epoch_totals.seconds", 0)
    if index and not images:
        raise _Bad("position.epoch_totals.images", f"is 0 after {index} batches of this epoch")


def _history(d: dict, steps: int, epochs: int) -> None:
    history = d.get("history")
    if not isinstance(history, dict):
        raise _Bad("history", f"must be an object of lists, found {_describe(history)}")
    for keys, length, unit in ((HISTORY_PER_STEP, steps, "step"), (HISTORY_PER_EPOCH, epochs, "epoch")):
        for key in keys:
            values = history.get(key)
            if not isinstance(values, list) or len(values) != length:
                found = f"{len(values)} values" if isinstance(values, list) else _describe(values)
                raise _Bad(f"history.{key}", f"must be a list of one value per {unit} ({length}), found {found}")
            for i, v in enumerate(values):
                if not (v is None and key in MAY_BE_NONE) and (isinstance(v, bool) or not isinstance(v, (int, float))
                                                                or not math.isfinite(v)):
                    raise _Bad(f"history.{key}[{i}]", f"must be a number, found {_describe(v)}")
    extra = sorted(set(history) - set(HISTORY_PER_STEP) - set(HISTORY_PER_EPOCH))
    if extra:
        raise _Bad(f"history.{extra[0]}", "is not a curve ConvViz keeps")


def is_checkpoint(path) -> bool:
    """Whether path is an .npz holding a checkpoint's description (only the names are read; False for a
    missing or unreadable file, which read() then explains)."""
    try:
        with NpzReader(path) as npz:
            return META_KEY in npz.headers
    except (OSError, ValueError):
        return False


def read(path, data: Cifar10 | ImageFolder | None = None) -> Checkpoint:
    """Read and check the checkpoint at path, for training on data, or (data None) for its network and
    weights alone (the data sizes and class names it records are then only checked for sense). Raises
    CheckpointError naming the file and the field at fault (see the module docstring for all checked)."""
    return _reading(path, lambda npz: _read(npz, data))


def read_meta(path) -> dict:
    """The checkpoint's description alone, its format and version checked and nothing else (no array is
    read): to say what a file holds. Raises CheckpointError."""
    return _reading(path, _description)


def _reading(path, job):
    """job(NpzReader of path), its faults as CheckpointErrors naming the file."""
    try:
        npz = NpzReader(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint file") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path} is not a readable checkpoint (damaged or another kind of file): {e}") from None
    with npz:
        try:
            return job(npz)
        except _Bad as e:
            field, problem = e.args
            raise CheckpointError(f"{path}: the checkpoint's {field} {problem}") from None
        except CheckpointError:
            raise
        except ValueError as e:  # an array refused by NpzReader
            raise CheckpointError(f"{path} is not a readable checkpoint (damaged or another kind of file): {e}") \
                from None


def _description(npz: NpzReader) -> dict:
    """The JSON description, bounded, of this format and version."""
    path = npz.path
    header = npz.headers.get(META_KEY)
    if header is None or header.dtype.kind != "U" or header.shape != ():
        raise CheckpointError(f"{path} is not a ConvViz checkpoint (no description inside): write it again with convviz")
    if header.dtype.itemsize // 4 > META_MAX_CHARS:
        raise _Bad("description", f"claims {header.dtype.itemsize // 4:,} characters, more than the "
                                  f"{META_MAX_CHARS:,} a checkpoint's description may hold")
    try:
        meta = json.loads(str(npz.read(META_KEY)), parse_constant=_not_a_number)
    except (ValueError, RecursionError) as e:
        raise _Bad("description", f"is not valid JSON ({str(e).splitlines()[0]})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a ConvViz checkpoint")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path} is a version {_describe(meta.get('version'))} checkpoint; this ConvViz "
                              f"reads version {VERSION}")
    return meta


def _read(npz: NpzReader, data: Cifar10 | ImageFolder | None) -> Checkpoint:
    path = npz.path
    meta = _description(npz)
    if data is None:  # read for its network (exports, explanations): the sizes it says
        sizes = _object(meta, "data", "data")
        n_train, n_test = _number(sizes, "train", "data.train", 1, whole=True), _number(sizes, "test", "data.test", 0,
                                                                                       whole=True)
    else:
        n_train, n_test = len(data.train_labels), len(data.test_labels)
        sizes = meta.get("data")
        if sizes != {"train": n_train, "test": n_test}:
            said = (f"{sizes.get('train')} training and {sizes.get('test')} test images" if isinstance(sizes, dict)
                    else f"data described as {_describe(sizes)}")
            raise CheckpointError(f"{path} was trained on {said}, but {data.name} has {n_train} and {n_test}: "
                                  "resume with the same data folder.")
    try:
        arch = parse_architecture(json.dumps(meta.get("architecture")), "architecture")
        plan = compile_plan(arch)
    except ValueError as e:
        first = getattr(e, "problems", [str(e)])[0]
        raise _Bad("architecture", f"is not a network ConvViz can run ({first})") from None
    config = _config(meta.get("config"))
    if config.val_split >= n_train:
        raise _Bad("config.val_split", f"holds {config.val_split} of the {n_train} training images out: none "
                                       "would be left to train on")
    opt = _optimizer(meta, config)
    normalizer = _normalizer(meta, arch.input.depth if data is None else data.train_images.shape[1])
    _generators(meta)
    names = meta.get("label_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _Bad("label_names", f"must be a list of class names, found {_describe(names)}")
    if data is None and len(names) != arch.classes:
        raise _Bad("label_names", f"names {len(names)} classes, the network ends with {arch.classes}")
    if data is not None and names != list(data.label_names):
        raise CheckpointError(f"{path} was trained on the classes {', '.join(names)}, but {data.name} has "
                              f"{', '.join(data.label_names)}: resume with the same data folder.")
    has_order = "order" in npz.headers
    train_size = n_train - config.val_split
    _position(meta, config, train_size, has_order)
    _history(meta, meta["position"]["step"], meta["position"]["epoch"])

    refusal, _ = memory_problem(arch, config.batch_size, config.optimizer, config.momentum) if data is not None \
        else (None, None)
    if refusal:
        raise CheckpointError(f"{path} cannot be resumed here: {refusal}")
    params, buffers = state_shapes(plan)
    expect = {f"state/{k}": s for k, s in {**params, **buffers}.items()}
    expect.update({"train_idx": (train_size,), "val_idx": (config.val_split,), "order": (train_size,),
                   META_KEY: ()})
    slot_names = sorted({name.split("/")[1] for name in npz.headers if name.startswith("optimizer/")
                         and name.count("/") >= 2})
    if len(slot_names) > MAX_SLOTS:
        raise _Bad("optimizer", f"has {len(slot_names)} kinds of state, at most {MAX_SLOTS} exist")
    for name in npz.headers:
        if name.startswith("optimizer/") and name.count("/") >= 2:
            key = name.split("/", 2)[2]
            if key not in params:
                raise _Bad(f"array {name}", f"is optimizer state for unknown parameter {key}: it does not fit "
                                            "the checkpoint's network")
            expect[name] = params[key]
    npz.check(expect=expect, spare=0, what="the checkpoint's network needs")
    holds, available = sum(h.nbytes for h in npz.headers.values()), available_memory()
    if available is not None and holds > available:
        raise CheckpointError(f"{path} holds {size_bytes(holds)} of arrays, more than the {size_bytes(available)} of "
                              "memory this machine has available")
    for name, h in npz.headers.items():
        if name == META_KEY:
            continue
        kind = "f" if name.startswith(("state/", "optimizer/")) else "iu"
        if h.dtype.kind not in kind:
            raise _Bad(f"array {name}", f"holds {h.dtype}, not {'floating-point numbers' if kind == 'f' else 'indices'}")
        if h.shape != tuple(expect[name]):
            needs = "network needs" if kind == "f" else "data and config.val_split need"
            raise _Bad(f"array {name}", f"has shape {h.shape}, the checkpoint's {needs} {tuple(expect[name])}: "
                                        "it does not fit")
    missing = sorted(k for k in expect if k not in npz.headers and k != "order")
    if missing:
        raise _Bad(f"array {missing[0]}", "is missing: it does not fit the checkpoint's network")
    if opt["steps"] and config.optimizer != "sgd" and not slot_names:
        raise _Bad("optimizer", f"has taken {opt['steps']} steps but holds no state")

    arrays = {name: npz.read(name) for name in npz.headers if name != META_KEY}
    for name, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise _Bad(f"array {name}", "holds NaN or infinite numbers")
    train_idx, val_idx, order = arrays["train_idx"], arrays["val_idx"], arrays.get("order")
    for name, idx in (("train_idx", train_idx), ("val_idx", val_idx), ("order", order)):
        if idx is not None and len(idx) and (idx.min() < 0 or idx.max() >= n_train):
            raise _Bad(f"array {name}", f"holds index {idx.min() if idx.min() < 0 else idx.max()}, outside the "
                                        f"{n_train} training images")
    seen = np.zeros(n_train, np.int64)
    np.add.at(seen, train_idx, 1)
    np.add.at(seen, val_idx, 1)
    if (seen > 1).any():
        twice = int(np.flatnonzero(seen > 1)[0])
        both = twice in set(train_idx.tolist()) and twice in set(val_idx.tolist())
        raise _Bad("array val_idx" if both else "array train_idx",
                   f"{'overlaps the training split' if both else 'repeats an image'} (image {twice}): the "
                   "training and validation splits must be disjoint")
    if not train_size:
        raise _Bad("array train_idx", "is empty: there is nothing to train on")
    if order is not None and not np.array_equal(np.sort(order), np.sort(train_idx)):
        raise _Bad("array order", "is not an ordering of the training split")
    state = {k[len("state/"):]: a for k, a in arrays.items() if k.startswith("state/")}
    slots: dict[str, dict[str, np.ndarray]] = {}
    for name, a in arrays.items():
        if name.startswith("optimizer/"):
            _, slot, key = name.split("/", 2)
            slots.setdefault(slot, {})[key] = a
    return Checkpoint(arch, config, normalizer, meta, state, slots, train_idx.astype(np.int64),
                      val_idx.astype(np.int64), None if order is None else order.astype(np.int64))


def _not_a_number(name: str):
    raise ValueError(f"{name} is not a number a checkpoint holds")


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
