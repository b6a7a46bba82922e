"""FC layers as convolutions, the notes' "Converting FC layers to CONV layers": every fc layer becomes
the conv layer that computes the same numbers (the first after a W x H x D volume a conv with a W x H
filter per unit, later ones 1x1 convs; the batch norms, dropouts and activations after them stay as
they are), and trained weights are carried over (an fc weight (units, D*H*W), flattened depth, height,
width, is the conv weight (units, D, H, W)). The converted network gives the same class scores, and
is fully convolutional: it can slide over a larger image in one pass (interpret.slide).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..engine import LAYER_TYPES, Network, WeightsError
from .inference import infer
from .io import save_architecture
from .presets import resolve_net
from .spec import Architecture


@dataclass(frozen=True)
class Change:
    """One layer converted: its key (weight keys "{key}.weight"), label, and what it was and became."""

    key: str
    label: str
    before: str
    after: str


@dataclass
class Conversion:
    """arch: the converted copy; changes: one per converted layer, in pre-order (none: nothing to convert)."""

    arch: Architecture
    changes: list[Change]
    _params: dict[str, Callable[[dict], dict]] = field(default_factory=dict)

    def weights(self, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The original network's parameters and buffers (keyed like Network.state()) -> the converted
        network's (the same arrays, reshaped where a layer was converted)."""
        out = dict(state)
        for key, convert in self._params.items():
            prefix = key + "."
            own = {k[len(prefix):]: a for k, a in state.items() if k.startswith(prefix) and "." not in k[len(prefix):]}
            for k in own:
                del out[prefix + k]
            out.update({prefix + k: a for k, a in convert(own).items()})
        return out


def convert_fc(arch: Architecture) -> Conversion:
    """Convert every layer whose declaration has an equivalent conv (LayerType.as_conv). ValueError naming
    the first error of an invalid network, or every layer that cannot be converted and why."""
    inference = infer(arch)
    if not inference.valid:
        raise ValueError(f"the network is not valid: {inference.errors[0].message}")
    new = arch.copy()
    changes, params, problems = [], {}, []
    for b in inference.walk():
        t = LAYER_TYPES.get(b.type)
        if t is None:
            continue
        try:
            conv = t.as_conv(b.hp, b.input)
        except ValueError as e:
            problems.append(f"{b.name}: {e}")
            continue
        if conv is None:
            continue
        kind, hp, params[b.key] = conv
        spec = new.block(b.path)
        spec.type, spec.params = kind, hp
        declared = LAYER_TYPES[kind]
        filters = declared.param_shapes(declared.resolve(hp), b.input)["weight"]
        changes.append(Change(b.key, b.label, f"{b.title} {b.output.depth} on a {b.input} volume",
                              f"{declared.title} {filters[0]} filters of {filters[3]}x{filters[2]}x{filters[1]}"))
    if problems:
        raise ValueError("cannot convert " + "; ".join(problems))
    if changes:
        note = "Its fc layers converted to convolutions."
        new.description = f"{arch.description} {note}".strip()
    return Conversion(new, changes, params)


def convert_command(args) -> int:
    """`convviz convert NET --out NEW.json [--weights W.npz --out-weights NEW.npz]`: 0 when written."""
    def fail(message: str) -> int:
        print(f"convviz convert: {message}", file=sys.stderr)
        return 1

    if (args.weights is None) != (args.out_weights is None):
        return fail("--weights and --out-weights go together: the converted weights are written to --out-weights")
    try:
        arch = resolve_net(args.net)
        conversion = convert_fc(arch)
    except ValueError as e:
        return fail(str(e))
    converted = None
    if args.weights is not None:
        try:
            net = Network(arch)
            net.load_weights(args.weights)
            converted = Network(conversion.arch)
            converted.set_state(conversion.weights(net.state()), source="the converted weights")
        except WeightsError as e:
            return fail(str(e))
    try:
        save_architecture(conversion.arch, args.out)
        if converted is not None:
            converted.save_weights(args.out_weights)
    except OSError as e:
        return fail(f"cannot write {e.filename or args.out}: {e.strerror or e}")
    if not conversion.changes:
        print(f"{args.net} has no fc layer: written unchanged.")
    for c in conversion.changes:
        print(f"block {c.label}: {c.before} -> {c.after}")
    print(f"Wrote {args.out}" + (f" and {args.out_weights}" if converted is not None else "") + ".")
    return 0
