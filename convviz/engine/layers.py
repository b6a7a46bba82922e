"""Every layer type, declared once: its hyperparameters (with limits), its output volume for an
input volume (pure arithmetic, no arrays), its parameter shapes, its cost, and its forward and
backward. Everything else (shape inference, the inspector form, JSON validation, the engine)
reads these declarations.

Inside the engine a batch chunk of volumes is an array (D, H, W, N): depth, height, width, then the
images ("batch last": see kernels.py for why). Everything outside the engine (inputs, outputs,
gradients, snapshots) is (N, D, H, W); `to_engine` and `to_nchw` convert. Layers after `fc` keep four
axes: fc gives (units, 1, 1, N).
forward(hp, params, buffers, x, ctx) -> (out, cache); backward(hp, params, dout, cache) -> (dx, grads),
dx None when ctx.input_grad was False. A layer that couples the images of a batch (couples_batch) also
splits its forward and backward at the whole batch's statistics, so the engine can run it on batch
chunks in parallel: see BatchNorm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import numpy as np

from . import kernels
from .recipe import Recipe, patch, window_rows


TRANSPOSE_IMAGES = 8  # to_engine copies this many images at a time


def to_engine(x: np.ndarray) -> np.ndarray:
    """(N, D, H, W) -> the engine's (D, H, W, N), contiguous. Copied TRANSPOSE_IMAGES images at a time:
    NumPy's transposing copy of a whole batch at once was 2.7 times slower (each write strode the batch)."""
    n = len(x)
    images = x.reshape(n, math.prod(x.shape[1:]))
    out = np.empty((images.shape[1], n), dtype=x.dtype)
    for i in range(0, n, TRANSPOSE_IMAGES):
        out[:, i : i + TRANSPOSE_IMAGES] = images[i : i + TRANSPOSE_IMAGES].T
    return out.reshape(x.shape[1:] + (n,))


def to_nchw(parts: list[np.ndarray]) -> np.ndarray:
    """Batch chunks (D, H, W, n) in the engine's layout -> one contiguous (N, D, H, W) array."""
    return np.concatenate([np.moveaxis(a, -1, 0) for a in parts]) if len(parts) > 1 else np.ascontiguousarray(
        np.moveaxis(parts[0], -1, 0))


class Volume(NamedTuple):
    """An activation volume, width x height x depth (the seed's convention)."""

    width: int
    height: int
    depth: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}x{self.depth}"

    @property
    def size(self) -> int:
        return self.width * self.height * self.depth


class VolumeError(ValueError):
    """A layer's output volume is not a whole positive number; str() says why, with the formula and
    its numbers, which it also carries."""

    def __init__(self, message: str, axis: str = "", size: int = 0, f: int = 0, s: int = 1, p: int = 0, d: int = 1):
        super().__init__(message)
        self.axis, self.size, self.f, self.s, self.p, self.d = axis, size, f, s, p, d

    @property
    def value(self) -> float:
        """What the formula gives (not a whole number, or below 1)."""
        return (self.size - (self.d * (self.f - 1) + 1) + 2 * self.p) / self.s + 1


def formula(size: int, f: int, s: int, p: int, d: int = 1) -> str:
    """The seed's volume rule with numbers: '(10 - 3 + 0)/2 + 1'. A dilated filter counts as D(F-1)+1."""
    span = d * (f - 1) + 1
    return f"({size} - {span} + {2 * p})/{s} + 1"


def spatial_out(axis: str, size: int, f: int, s: int, p: int, d: int = 1, fit: str = "exact") -> int:
    """Output length along one axis, or VolumeError saying why, with the numbers. fit "exact" (the
    notes' rule) never rounds: a formula that is not whole is an error; "crop" rounds down (PyTorch's
    default: the last input rows no window reaches are never seen); "pad" rounds up (PyTorch's
    ceil_mode, see kernels.out_size). Either way a filter larger than the padded input is an error."""
    span = d * (f - 1) + 1
    num = size - span + 2 * p
    if fit == "exact" and num >= 0 and num % s == 0:
        return num // s + 1
    if fit != "exact" and (out := kernels.out_size(size, f, s, p, d, ceil=fit == "pad")) >= 1:
        return out
    expr = f"{formula(size, f, s, p, d)} = {num / s + 1:g}"
    if num < 0:
        why = (f"its {'dilated ' if d > 1 else ''}filter ({span}) is larger than the padded input {axis} "
               f"({size} + {2 * p} = {size + 2 * p}), so the output {axis} {expr} is below 1")
    else:
        why = f"the output {axis} {expr} is not a whole number"
    raise VolumeError(why, axis, size, f, s, p, d)


def _unseen(size: int, f: int, s: int, p: int, d: int = 1) -> int:
    """How many of the last input rows (or columns) of size no window reaches when the output length
    is rounded down (fit "crop"), beyond the gap a stride wider than the filter leaves after every
    window anyway (a 1x1 stride-2 conv skips every other row by design); 0 when only padding is dropped."""
    span = d * (f - 1) + 1
    last_end = (kernels.out_size(size, f, s, p, d) - 1) * s + span  # in padded coordinates
    return max(p + size - last_end - max(s - span, 0), 0)


def _crop_warnings(hp: dict, vol: Volume, d: int = 1) -> list[str]:
    """For fit "crop": one sentence naming the input rows and columns no window reaches, if any."""
    if hp["fit"] != "crop":
        return []
    f, s, p = hp["size"], hp["stride"], hp["pad"]
    rows, cols = _unseen(vol.height, f, s, p, d), _unseen(vol.width, f, s, p, d)
    row_text = f"{rows} input row{'s' * (rows != 1)}"
    col_text = f"{cols} {'' if rows else 'input '}column{'s' * (cols != 1)}"
    if rows and cols:
        return [f"fit crop: the last {row_text} and {col_text} are never seen"]
    if rows or cols:
        n = rows or cols
        return [f"fit crop: the last {row_text if rows else col_text} {'is' if n == 1 else 'are'} never seen"]
    return []


@dataclass(frozen=True)
class Hyper:
    """One hyperparameter: JSON key, kind (int, float, bool, or str with `choices`), default (a value,
    or for int the name of another hyperparameter whose value it copies), inclusive limits for numbers,
    and a sentence for the inspector."""

    name: str
    kind: type
    default: Any
    minimum: float
    maximum: float
    help: str
    choices: tuple[str, ...] = ()

    def show(self, value: Any) -> str:
        """A value as messages and the UI write it: 0.0001 as "0.0001", True as "true", "crop" as is."""
        if isinstance(value, bool):
            return "true" if value else "false"
        return f"{value:g}" if isinstance(value, (int, float)) else str(value)

    def check(self, value: Any) -> str | None:
        """None when value is acceptable, else what is wrong with it."""
        if self.kind is bool:
            return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
        if self.kind is str:
            return None if value in self.choices else f"must be one of {', '.join(self.choices)}, got {value!r}"
        if self.kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
            wanted = "a whole number"
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (isinstance(value, int) or np.isfinite(value))
            wanted = "a number"
        if not ok:
            return f"must be {wanted} from {self.minimum:g} to {self.maximum:g}, got {value!r}"
        if not self.minimum <= value <= self.maximum:
            return f"must be from {self.minimum:g} to {self.maximum:g}, got {value!r}"
        return None


@dataclass
class Context:
    """What a forward pass needs besides its input: training or evaluation, the dropout RNG, whether
    the backward pass will need the gradient of the layer's input (not for the first layer), whether
    a backward pass may follow at all (when not, the cache may be None and what only backward needs is
    skipped), and for a layer that takes_epilogue, the element-wise layer fused after it, if any:
    epilogue(out) -> band, with band(c0, c1) applying that layer in place to columns c0 .. c1-1 of the
    output's depth rows (D, H*W*N); the layer calls band over every column, each soon after writing it."""

    train: bool
    rng: np.random.Generator | None = None
    input_grad: bool = True
    backward: bool = True
    epilogue: Callable[[np.ndarray], Callable[[int, int], None]] | None = None


@dataclass(frozen=True)
class OnnxNode:
    """One ONNX operator of a layer's mapping (see OnnxMapping). inputs name the layer's input "x", its
    parameters and buffers ("weight", "running_mean"), the mapping's constants, or outputs of earlier
    nodes of the mapping; output names this node's result."""

    op_type: str
    inputs: tuple[str, ...] = ("x",)
    attributes: dict = field(default_factory=dict)
    output: str = "y"


@dataclass(frozen=True)
class OnnxMapping:
    """A leaf layer in evaluation mode as ONNX operators, pure data (convviz.export.onnx writes it with the
    onnx package): nodes in order, the last one's output being the layer's output, and the constant
    tensors they read, by name."""

    nodes: tuple[OnnxNode, ...]
    constants: dict[str, np.ndarray] = field(default_factory=dict)


def onnx_op(op_type: str, inputs: tuple[str, ...] = ("x",), **attributes) -> OnnxMapping:
    """The mapping of a layer that is one ONNX operator."""
    return OnnxMapping((OnnxNode(op_type, tuple(inputs), attributes),))


class LayerType:
    """Base declaration of a leaf layer. Subclasses set the class attributes and override what applies.

    The facts other code must read here rather than derive from `name`:
    couples_batch: mixes the images of a batch while training (batchnorm), so the engine runs it on
    the whole batch; has_filters: its "weight" is a bank of filters (K, C, F, F) the filters view shows;
    keeps_volume: its output volume always equals its input volume (element-wise layers);
    rectifies: its output is exactly zero where a unit did not fire and such a unit passes no gradient
    back (ReLU), so a unit that is zero for every image has stopped learning (training.health counts them);
    formula: for an element-wise layer, what it does to a number, in words (the neuron explanation);
    takes_epilogue: its forward applies Context.epilogue (in place: its output is always a new array of
    its own); affine_at_evaluation: at evaluation it is
    out = scale * x + shift per depth (`affine`); absorbs_affine: `absorb` folds such a layer after it
    into its parameters; pools_max: it keeps the largest number of each window, first one on ties;
    commutes_with_max: an element-wise layer f with max(f(a), f(b)) = f(max(a, b)) whose gradient routed
    to either of tied numbers is the same (ReLU: ties it makes are at 0, where its gradient is 0). The
    engine fuses layers where the value between them is read by nothing else: an element-wise layer
    with an `epilogue` runs in place on its producer's output, or after a max pool that reads it when
    it commutes_with_max; at inference an affine layer folds into the producer that absorbs it."""

    name = ""          # the JSON "type"
    title = ""         # palette label
    summary = ""       # one sentence for tooltips
    kind = ""          # colour group: conv, pool, activation, regularizer, dense, classifier
    hypers: tuple[Hyper, ...] = ()
    couples_batch = False
    has_filters = False
    keeps_volume = True
    rectifies = False
    is_container = False
    formula = ""
    takes_epilogue = False
    affine_at_evaluation = False
    absorbs_affine = False
    pools_max = False
    commutes_with_max = False
    # An element-wise layer that can run in place on its producer's output defines
    # epilogue(hp, out, backward) -> (band, cache): band as Context.epilogue's, cache as its forward's.
    epilogue: Callable | None = None

    def resolve(self, given: dict) -> dict:
        """Hyperparameters with defaults filled in (values unchecked: see Hyper.check)."""
        hp = {h.name: given.get(h.name, h.default) for h in self.hypers}
        for h in self.hypers:
            if h.kind is not str and isinstance(h.default, str) and h.name not in given:
                hp[h.name] = hp[h.default]
        return hp

    def hyper_problems(self, given: dict) -> list[tuple[Any, Hyper | None, str]]:
        """Every given hyperparameter this layer cannot use, in the order given: (key, None, "it takes
        <the names it declares>") for a key it does not declare, (key, its Hyper, what is wrong) for a
        bad value (see Hyper.check)."""
        declared = {h.name: h for h in self.hypers}
        problems = []
        for key, value in given.items():
            h = declared.get(key)
            if h is None:
                problems.append((key, None, f"it takes {', '.join(declared) or 'none'}"))
            elif message := h.check(value):
                problems.append((key, h, message))
        return problems

    def output_volume(self, hp: dict, vol: Volume) -> Volume:
        return vol

    def param_shapes(self, hp: dict, vol: Volume) -> dict[str, tuple[int, ...]]:
        return {}

    def buffer_shapes(self, hp: dict, vol: Volume) -> dict[str, tuple[int, ...]]:
        return {}

    def init_params(self, hp: dict, vol: Volume, rng: np.random.Generator, dtype) -> dict[str, np.ndarray]:
        """Initial parameters, as PyTorch's default for the mirrored module: weights and biases
        uniform in +-1/sqrt(fan_in), fan_in = the inputs one output number sees. Made in dtype directly
        (no float64 copy of a large fc)."""
        out = {}
        for key, shape in self.param_shapes(hp, vol).items():
            bound = 1.0 / math.sqrt(self.fan_in(hp, vol))
            a = rng.random(shape, dtype=np.float32 if np.dtype(dtype) == np.float32 else np.float64).astype(dtype, copy=False)
            a *= 2 * bound
            a -= bound
            out[key] = a
        return out

    def fan_in(self, hp: dict, vol: Volume) -> int:
        """Inputs one output number sees (for the initialisation)."""
        return vol.size

    def initial_buffers(self, hp: dict, vol: Volume, dtype) -> dict[str, np.ndarray]:
        return {k: np.zeros(s, dtype) for k, s in self.buffer_shapes(hp, vol).items()}

    def macs(self, hp: dict, vol: Volume, out: Volume) -> int:
        """Multiply-adds per image."""
        return 0

    def window(self, hp: dict, vol: Volume) -> tuple[int, int] | None:
        """(span, stride) of the input window one output position sees, for the receptive field;
        None for layers that work number by number."""
        return None

    def padding(self, hp: dict) -> int:
        """P: how far the first window starts before the input's first row and column (zero padding)."""
        return 0

    def number(self, hp: dict, params: dict, buffers: dict, x: np.ndarray, k: int, i: int, j: int) -> Recipe:
        """How output number (depth k, row i, column j) is made from the input x (C, H, W) of one image,
        in evaluation mode. This default serves element-wise layers: the numbers at (i, j) of the depths
        depth_reach gives, through forward."""
        depths = self.depth_reach(hp, k, x.shape[0])
        out, _ = self.forward(hp, params, buffers, x[:, i:i + 1, j:j + 1, None], Context(train=False))  # (C, 1, 1, 1)
        return Recipe("map", x[depths.start:depths.stop, i, j].astype(np.float64), depths, range(i, i + 1),
                      range(j, j + 1), float(out[k, 0, 0, 0]), formula=self.formula,
                      terms=self.terms(hp, params, buffers, k))

    def depth_reach(self, hp: dict, k: int, depth: int) -> range:
        """The input depths output depth k of an element-wise layer reads at its own position."""
        return range(k, k + 1)

    def as_conv(self, hp: dict, vol: Volume) -> tuple[str, dict, "Callable[[dict], dict]"] | None:
        """The conv layer that computes the same numbers on this input volume, as (its type, its
        hyperparameters, a function of this layer's parameters giving the conv's); None when this layer
        has none (it is not a dense layer). ValueError when it is one but this volume cannot be."""
        return None

    def terms(self, hp: dict, params: dict, buffers: dict, k: int) -> dict[str, float] | None:
        """Named numbers an element-wise layer's formula uses for output depth k."""
        return None

    def cache_bytes(self, hp: dict, vol: Volume, out: Volume, itemsize: int) -> int:
        """Bytes per image that forward, while training, keeps for backward (counting the input or output
        when the cache holds that array); model.memory sums them. Default: a copy of the input."""
        return vol.size * itemsize

    def workspace_bytes(self, hp: dict, vol: Volume, out: Volume, itemsize: int, images: int) -> int:
        """Bytes of scratch the forward or backward of a batch chunk of `images` images allocates beyond
        its input, output and their gradients (model.memory adds the largest)."""
        return 0

    def problem(self, hp: dict) -> tuple[str, dict] | None:
        """What makes these (individually valid) hyperparameters unusable together, with the
        hyperparameter values that fix it; None when they work."""
        return None

    def volume_problem(self, hp: dict, vol: Volume) -> tuple[str, dict] | None:
        """What makes these hyperparameters (free of `problem`s) unusable on this input volume other
        than the volume formula (that is output_volume's VolumeError), with the hyperparameter values
        that fix it; None when they work. E.g. conv groups that do not divide the input depth.
        param_shapes, init_params and forward assume problem and volume_problem are both None."""
        return None

    def warnings(self, hp: dict, vol: Volume) -> list[str]:
        """Legal but worth saying for this input volume (e.g. input rows a "crop" fit never sees)."""
        return []

    def torch_module(self, hp: dict, vol: Volume) -> tuple[str, dict]:
        """The mirrored PyTorch module for this input volume: (class name in torch.nn, or "FlattenLinear" /
        "FlattenSoftmax" defined by convviz.export.torch, keyword arguments). Its state_dict keys equal this layer's parameter
        and buffer names."""
        raise NotImplementedError

    def affine(self, hp, params, buffers) -> tuple[np.ndarray, np.ndarray]:
        """(scale, shift) per depth of a layer affine_at_evaluation: out = scale * x + shift."""
        raise NotImplementedError

    def absorb(self, hp, params, scale, shift) -> dict[str, np.ndarray]:
        """For a layer that absorbs_affine: parameters whose output is scale * (this output) + shift per depth."""
        raise NotImplementedError

    def onnx_mapping(self, hp: dict, vol: Volume) -> OnnxMapping:
        """This layer on an input volume as ONNX operators in evaluation mode (batchnorm with its running
        statistics, dropout off), giving what forward(train=False) gives."""
        raise NotImplementedError

    def forward(self, hp, params, buffers, x, ctx: Context):
        raise NotImplementedError

    def backward(self, hp, params, dout, cache):
        raise NotImplementedError


FIT_HELP = ("when (W - F + 2P)/S + 1 is not whole: exact refuses it, crop drops the last input rows and "
            "columns no window reaches (PyTorch's default)")


class Conv(LayerType):
    name, title, kind = "conv", "Conv", "conv"
    has_filters, keeps_volume, takes_epilogue, absorbs_affine = True, False, True, True
    summary = "Slides learned filters over the input volume; each filter gives one depth slice of the output."
    hypers = (
        Hyper("filters", int, 16, 1, 4096, "number of filters K: the output depth"),
        Hyper("size", int, 3, 1, 64, "filter size F (F x F)"),
        Hyper("stride", int, 1, 1, 64, "step S between filter positions"),
        Hyper("pad", int, 0, 0, 64, "zero padding P on each border"),
        Hyper("dilation", int, 1, 1, 16, "spacing D between filter taps"),
        Hyper("groups", int, 1, 1, 4096, "split the input depth and the filters into G groups, each filter seeing "
                                         "only its group's depth slices (G = input depth: depthwise)"),
        Hyper("bias", bool, True, 0, 1, "add a learned number to each filter's output"),
        Hyper("fit", str, "exact", 0, 0, FIT_HELP, choices=("exact", "crop")),
    )

    def output_volume(self, hp, vol):
        f, s, p, d, fit = hp["size"], hp["stride"], hp["pad"], hp["dilation"], hp["fit"]
        return Volume(spatial_out("width", vol.width, f, s, p, d, fit), spatial_out("height", vol.height, f, s, p, d, fit),
                      hp["filters"])

    def param_shapes(self, hp, vol):
        weight = (hp["filters"], vol.depth // hp["groups"], hp["size"], hp["size"])
        return {"weight": weight, "bias": (hp["filters"],)} if hp["bias"] else {"weight": weight}

    def fan_in(self, hp, vol):
        return vol.depth // hp["groups"] * hp["size"] ** 2

    def macs(self, hp, vol, out):
        return out.size * self.fan_in(hp, vol)

    def window(self, hp, vol):
        return hp["dilation"] * (hp["size"] - 1) + 1, hp["stride"]

    def padding(self, hp):
        return hp["pad"]

    def number(self, hp, params, buffers, x, k, i, j):
        """The filter k times the window of its group's depth slices (zero padding), plus its bias."""
        w = params["weight"]
        per_group = w.shape[0] // hp["groups"]
        first = k // per_group * w.shape[1]
        span, s, p, d = hp["dilation"] * (hp["size"] - 1) + 1, hp["stride"], hp["pad"], hp["dilation"]
        depths = range(first, first + w.shape[1])
        rows, cols = window_rows(i, span, s, p, d), window_rows(j, span, s, p, d)
        window, padded = patch(x, depths, rows, cols)
        weights = w[k].astype(np.float64)
        bias = float(params["bias"][k]) if "bias" in params else None
        result = float((window * weights).sum() + (bias or 0.0))
        return Recipe("dot", window, depths, rows, cols, result, padded, weights, bias)

    def workspace_bytes(self, hp, vol, out, itemsize, images):
        """Its largest band of columns (kernels.conv_workspace)."""
        return kernels.conv_workspace(vol.depth, vol.height, vol.width, hp["filters"], hp["size"], hp["stride"],
                                      hp["pad"], hp["dilation"], hp["groups"], images, itemsize)

    def problem(self, hp):
        k, g = hp["filters"], hp["groups"]
        if k % g:
            multiples = [m for m in (k // g * g, (k // g + 1) * g) if g <= m <= self.hypers[0].maximum]
            return f"filters {k} is not divisible by groups {g}", {"filters": min(multiples, key=lambda m: abs(m - k))}
        return None

    def volume_problem(self, hp, vol):
        c, k, g = vol.depth, hp["filters"], hp["groups"]
        if c % g:
            common = math.gcd(c, k)
            nearest = min((n for n in range(1, common + 1) if common % n == 0), key=lambda n: (abs(n - g), -n))
            return f"the input depth {c} is not divisible by groups {g}", {"groups": nearest}
        return None

    def warnings(self, hp, vol):
        return _crop_warnings(hp, vol, hp["dilation"])

    def torch_module(self, hp, vol):
        return "Conv2d", {"in_channels": vol.depth, "out_channels": hp["filters"], "kernel_size": hp["size"],
                          "stride": hp["stride"], "padding": hp["pad"], "dilation": hp["dilation"],
                          "groups": hp["groups"], "bias": hp["bias"]}

    def absorb(self, hp, params, scale, shift):
        bias = params["bias"] * scale + shift if hp["bias"] else shift
        return {"weight": params["weight"] * scale.astype(params["weight"].dtype)[:, None, None, None],
                "bias": bias.astype(params["weight"].dtype)}

    def onnx_mapping(self, hp, vol):
        f, s, p, d = hp["size"], hp["stride"], hp["pad"], hp["dilation"]
        return onnx_op("Conv", ("x", *self.param_shapes(hp, vol)), kernel_shape=[f, f], strides=[s, s], pads=[p] * 4,
                       dilations=[d, d], group=hp["groups"])  # ONNX rounds the output size down, like fit "crop"

    def forward(self, hp, params, buffers, x, ctx):
        return kernels.conv_forward(x, params["weight"], params.get("bias"), hp["stride"], hp["pad"], hp["dilation"],
                                    need_dx=ctx.input_grad, groups=hp["groups"], epilogue=ctx.epilogue)

    def backward(self, hp, params, dout, cache):
        dx, dw, db = kernels.conv_backward(dout, cache)
        return dx, ({"weight": dw, "bias": db} if hp["bias"] else {"weight": dw})


class _Pool(LayerType):
    kind = "pool"
    keeps_volume = False
    hypers = (
        Hyper("size", int, 2, 1, 64, "window size F (F x F)"),
        Hyper("stride", int, "size", 1, 64, "step S between windows (default: the window size)"),
        Hyper("pad", int, 0, 0, 32, "padding P on each border"),
        Hyper("fit", str, "exact", 0, 0, FIT_HELP + "; pad adds a last window hanging over the edge (PyTorch's "
                                                    "ceil_mode)", choices=("exact", "crop", "pad")),
    )

    def output_volume(self, hp, vol):
        f, s, p, fit = hp["size"], hp["stride"], hp["pad"], hp["fit"]
        return Volume(spatial_out("width", vol.width, f, s, p, 1, fit), spatial_out("height", vol.height, f, s, p, 1, fit),
                      vol.depth)

    def macs(self, hp, vol, out):
        return out.size * hp["size"] ** 2

    def window(self, hp, vol):
        return hp["size"], hp["stride"]

    def padding(self, hp):
        return hp["pad"]

    def _window(self, hp, x, k, i, j, fill):
        """The window of output (k, i, j) in slice k -> (depths, rows, cols, window, padded)."""
        f, s, p = hp["size"], hp["stride"], hp["pad"]
        depths, rows, cols = range(k, k + 1), window_rows(i, f, s, p), window_rows(j, f, s, p)
        return (depths, rows, cols) + patch(x, depths, rows, cols, fill)

    def problem(self, hp):
        f, p = hp["size"], hp["pad"]
        if 2 * p > f:  # as PyTorch: a corner window would then hold padding only
            return f"pad {p} is more than half the window size {f}, so some windows see only padding", {"pad": f // 2}
        return None

    def warnings(self, hp, vol):
        return _crop_warnings(hp, vol)

    def _torch_kwargs(self, hp):
        return {"kernel_size": hp["size"], "stride": hp["stride"], "padding": hp["pad"], "ceil_mode": hp["fit"] == "pad"}

    def _overhang(self, hp, vol) -> tuple[int, int]:
        """(rows, columns) the last window reaches past the padded input: not 0 only for fit "pad".
        ONNX's ceil_mode rounds up without PyTorch's rule about where the last window may start (and
        onnx's shape inference disagrees with runtimes), so the ONNX mappings pad this much more at the end."""
        out, f, s, p = self.output_volume(hp, vol), hp["size"], hp["stride"], hp["pad"]
        return tuple(max(0, (o - 1) * s + f - (n + 2 * p)) for o, n in ((out.height, vol.height), (out.width, vol.width)))

    def _onnx_attributes(self, hp, pads: list[int]):
        f, s = hp["size"], hp["stride"]
        return {"kernel_shape": [f, f], "strides": [s, s], "pads": pads}  # pads: top, left, bottom, right


class MaxPool(_Pool):
    name, title = "maxpool", "Max pool"
    summary = "Keeps the largest value in each window, shrinking width and height; depth is unchanged."
    pools_max = takes_epilogue = True

    def cache_bytes(self, hp, vol, out, itemsize):
        """The window offset of each maximum: uint8 (int16 past 16x16 windows)."""
        return out.size * (1 if hp["size"] ** 2 <= 256 else 2)

    def torch_module(self, hp, vol):
        return "MaxPool2d", self._torch_kwargs(hp)

    def onnx_mapping(self, hp, vol):
        p, (rows, cols) = hp["pad"], self._overhang(hp, vol)
        return onnx_op("MaxPool", **self._onnx_attributes(hp, [p, p, p + rows, p + cols]))  # max ignores padding

    def forward(self, hp, params, buffers, x, ctx):
        out, cache = kernels.maxpool_forward(x, hp["size"], hp["stride"], hp["pad"], ceil=hp["fit"] == "pad",
                                             keep_arg=ctx.backward)
        if ctx.epilogue:
            ctx.epilogue(out)(0, _depth_rows(out).shape[1])
        return out, cache

    def number(self, hp, params, buffers, x, k, i, j):
        """The largest number of the window (padding is -inf: it never wins; ties: the first)."""
        depths, rows, cols, window, padded = self._window(hp, x, k, i, j, -np.inf)
        chosen = np.unravel_index(int(np.argmax(window)), window.shape)
        return Recipe("max", window, depths, rows, cols, float(window[chosen]), padded, chosen=tuple(map(int, chosen)))

    def backward(self, hp, params, dout, cache):
        return kernels.maxpool_backward(dout, cache), {}


class AvgPool(_Pool):
    name, title = "avgpool", "Avg pool"
    summary = "Averages each window (zero padding counts), shrinking width and height; depth is unchanged."

    def cache_bytes(self, hp, vol, out, itemsize):
        return 0

    def torch_module(self, hp, vol):
        return "AvgPool2d", self._torch_kwargs(hp)

    def onnx_mapping(self, hp, vol):
        """Zero padding counts in the average; the overhang of a last window (fit "pad") does not, as in
        PyTorch: then the zeros are written out (Pad) and only the overhang is ONNX's uncounted padding."""
        p, (rows, cols) = hp["pad"], self._overhang(hp, vol)
        if not rows and not cols:
            return onnx_op("AveragePool", count_include_pad=1, **self._onnx_attributes(hp, [p] * 4))
        return OnnxMapping((OnnxNode("Pad", ("x", "pads"), output="padded"),
                            OnnxNode("AveragePool", ("padded",), {"count_include_pad": 0,
                                                                  **self._onnx_attributes(hp, [0, 0, rows, cols])})),
                           {"pads": np.array([0, 0, p, p, 0, 0, p, p])})  # N, C, H, W begins, then ends

    def forward(self, hp, params, buffers, x, ctx):
        return kernels.avgpool_forward(x, hp["size"], hp["stride"], hp["pad"], ceil=hp["fit"] == "pad")

    def number(self, hp, params, buffers, x, k, i, j):
        """The window's sum over its size, zero padding counted; a last window hanging past the padded
        input (fit pad) counts only its part inside it, as PyTorch."""
        depths, rows, cols, window, padded = self._window(hp, x, k, i, j, 0.0)
        p = hp["pad"]
        inside = [sum(-p <= r < size + p for r in axis) for axis, size in ((rows, x.shape[1]), (cols, x.shape[2]))]
        divisor = inside[0] * inside[1]
        return Recipe("mean", window, depths, rows, cols, float(window.sum() / divisor), padded, divisor=divisor)

    def backward(self, hp, params, dout, cache):
        return kernels.avgpool_backward(dout, cache), {}


class GlobalAvgPool(LayerType):
    name, title, kind = "globalavgpool", "Global avg pool", "pool"
    keeps_volume = False
    summary = "Averages each depth slice over its whole width and height: W x H x D becomes 1 x 1 x D."

    def output_volume(self, hp, vol):
        return Volume(1, 1, vol.depth)

    def macs(self, hp, vol, out):
        return vol.size

    def window(self, hp, vol):
        return max(vol.width, vol.height), 1

    def cache_bytes(self, hp, vol, out, itemsize):
        return 0  # the input's shape only

    def torch_module(self, hp, vol):
        return "AdaptiveAvgPool2d", {"output_size": 1}

    def onnx_mapping(self, hp, vol):
        return onnx_op("GlobalAveragePool")

    def forward(self, hp, params, buffers, x, ctx):
        return x.mean(axis=(1, 2), keepdims=True), x.shape

    def number(self, hp, params, buffers, x, k, i, j):
        """The mean of the whole depth slice k."""
        depths, rows, cols = range(k, k + 1), range(x.shape[1]), range(x.shape[2])
        window = x[k:k + 1].astype(np.float64)
        return Recipe("mean", window, depths, rows, cols, float(window.sum() / window.size), divisor=window.size)

    def backward(self, hp, params, dout, cache):
        dx = np.empty(cache, dtype=dout.dtype)
        dx[...] = dout / (cache[1] * cache[2])
        return dx, {}


class LRN(LayerType):
    name, title, kind = "lrn", "Local response norm", "regularizer"
    summary = ("Divides each number by (k + alpha/size * the sum of squares of its size neighbours across depth)^beta, "
               "the normalisation of AlexNet and GoogLeNet.")
    hypers = (
        Hyper("size", int, 5, 1, 64, "depth slices n in each neighbourhood (n//2 before, (n-1)//2 after)"),
        Hyper("alpha", float, 1e-4, 0.0, 1.0, "scale of the sum of squares (divided by size, as PyTorch)"),
        Hyper("beta", float, 0.75, 0.0, 4.0, "exponent of the divisor"),
        Hyper("k", float, 1.0, 0.01, 100.0, "constant added to the scaled sum of squares"),
    )

    formula = "x / (k + alpha/n * (the sum of the squares of the n neighbouring depths))^beta"

    def macs(self, hp, vol, out):
        return (hp["size"] + 3) * vol.size

    def depth_reach(self, hp, k, depth):
        n = hp["size"]
        return range(max(k - n // 2, 0), min(k + (n - 1) // 2 + 1, depth))

    def terms(self, hp, params, buffers, k):
        return {"n": hp["size"], "alpha": hp["alpha"], "beta": hp["beta"], "k": hp["k"]}

    def cache_bytes(self, hp, vol, out, itemsize):
        return 3 * vol.size * itemsize  # the input, the divisor's base and its power

    def torch_module(self, hp, vol):
        return "LocalResponseNorm", {"size": hp["size"], "alpha": hp["alpha"], "beta": hp["beta"], "k": hp["k"]}

    def onnx_mapping(self, hp, vol):
        """ONNX's LRN operator sums (n-1)//2 slices before and n//2 after, this layer (and PyTorch) n//2
        before and (n-1)//2 after: the same for odd n (and onnxruntime runs odd n only). For even n the sum
        of squares is a 1x1 conv with fixed weights (alpha/n on each slice's neighbourhood, bias k), then
        x / s^beta."""
        n, c = hp["size"], vol.depth
        if n % 2:
            return onnx_op("LRN", size=n, alpha=hp["alpha"], beta=hp["beta"], bias=hp["k"])
        offset = np.arange(c)[None, :] - np.arange(c)[:, None]  # [out slice, in slice]: in - out
        neighbourhood = (offset >= -(n // 2)) & (offset <= (n - 1) // 2)
        return OnnxMapping(
            (OnnxNode("Mul", ("x", "x"), output="squares"),
             OnnxNode("Conv", ("squares", "window", "k"), {"kernel_shape": [1, 1]}, output="scale"),
             OnnxNode("Pow", ("scale", "beta"), output="divisor"),
             OnnxNode("Div", ("x", "divisor"))),
            {"window": (neighbourhood * (hp["alpha"] / n))[:, :, None, None], "k": np.full(c, hp["k"]),
             "beta": np.array(hp["beta"])})

    def forward(self, hp, params, buffers, x, ctx):
        n = hp["size"]
        scale = _depth_window_sum(x * x, n // 2, (n - 1) // 2)
        scale *= hp["alpha"] / n
        scale += hp["k"]  # s = k + alpha/n * the sum of squares: the output is x * s^-beta
        inv = scale ** -hp["beta"]
        return x * inv, (x, scale, inv)

    def backward(self, hp, params, dout, cache):
        """dx_j = dout_j s_j^-beta - 2 alpha beta / n * x_j * (the sum of dout_c x_c s_c^(-beta-1) over the
        c whose window holds j: the window transposed, (n-1)//2 before and n//2 after)."""
        x, scale, inv = cache
        n = hp["size"]
        t = _depth_window_sum(dout * x * inv / scale, (n - 1) // 2, n // 2)
        return dout * inv - (2 * hp["alpha"] * hp["beta"] / n) * x * t, {}


def _depth_window_sum(a: np.ndarray, before: int, after: int) -> np.ndarray:
    """(C, H, W, N) -> same shape: at depth c, the sum of a over depths c - before .. c + after that exist."""
    c = a.shape[0]
    out = a.copy()
    for k in range(1, min(before, c - 1) + 1):
        out[k:] += a[: c - k]
    for k in range(1, min(after, c - 1) + 1):
        out[: c - k] += a[k:]
    return out


class ReLU(LayerType):
    name, title, kind = "relu", "ReLU", "activation"
    rectifies = True
    summary = "max(0, x) on every number: keeps positives, zeroes negatives."
    formula = "max(0, x)"
    commutes_with_max = True

    def cache_bytes(self, hp, vol, out, itemsize):
        return vol.size  # the mask x > 0, one byte a number

    def torch_module(self, hp, vol):
        return "ReLU", {}

    def onnx_mapping(self, hp, vol):
        return onnx_op("Relu")

    def forward(self, hp, params, buffers, x, ctx):
        out = np.empty(x.shape, dtype=x.dtype)  # contiguous, so its depth rows are a view
        kernels.relu(_depth_rows(x), _depth_rows(out))
        return out, (x > 0 if ctx.backward else None)

    def epilogue(self, hp, out, backward: bool = True):
        rows = _depth_rows(out)
        mask = np.empty(out.shape, dtype=bool) if backward else None
        mask_rows = mask.reshape(rows.shape) if backward else None

        def band(c0: int, c1: int) -> None:
            part = rows[:, c0:c1]
            if backward:
                np.greater(part, 0, out=mask_rows[:, c0:c1])
            kernels.relu(part, part)

        return band, mask

    def backward(self, hp, params, dout, cache):
        return dout * cache, {}


class LeakyReLU(LayerType):
    name, title, kind = "leakyrelu", "Leaky ReLU", "activation"
    summary = "x for positives, slope * x for negatives, so negative units still learn."
    hypers = (Hyper("slope", float, 0.01, 0.0, 1.0, "gradient for negative inputs"),)
    formula = "x if x > 0, else slope * x"

    def terms(self, hp, params, buffers, k):
        return {"slope": hp["slope"]}

    def torch_module(self, hp, vol):
        return "LeakyReLU", {"negative_slope": hp["slope"]}

    def onnx_mapping(self, hp, vol):
        return onnx_op("LeakyRelu", alpha=hp["slope"])

    def forward(self, hp, params, buffers, x, ctx):
        scale = np.maximum((x > 0).astype(x.dtype), x.dtype.type(hp["slope"]))  # 1 or slope (np.where: 5x slower)
        return x * scale, scale

    def backward(self, hp, params, dout, cache):
        return dout * cache, {}


class Tanh(LayerType):
    name, title, kind = "tanh", "Tanh", "activation"
    summary = "Squashes every number into (-1, 1)."
    formula = "tanh(x)"

    def cache_bytes(self, hp, vol, out, itemsize):
        return out.size * itemsize  # its output

    def torch_module(self, hp, vol):
        return "Tanh", {}

    def onnx_mapping(self, hp, vol):
        return onnx_op("Tanh")

    def forward(self, hp, params, buffers, x, ctx):
        y = np.tanh(x)
        return y, y

    def backward(self, hp, params, dout, cache):
        return dout * (1 - cache * cache), {}


class Sigmoid(LayerType):
    name, title, kind = "sigmoid", "Sigmoid", "activation"
    summary = "Squashes every number into (0, 1)."
    formula = "1 / (1 + e^-x)"

    def cache_bytes(self, hp, vol, out, itemsize):
        return out.size * itemsize  # its output

    def torch_module(self, hp, vol):
        return "Sigmoid", {}

    def onnx_mapping(self, hp, vol):
        return onnx_op("Sigmoid")

    def forward(self, hp, params, buffers, x, ctx):
        y = (0.5 * (np.tanh(0.5 * x) + 1)).astype(x.dtype)  # stable for large |x|
        return y, y

    def backward(self, hp, params, dout, cache):
        return dout * cache * (1 - cache), {}


class Dropout(LayerType):
    name, title, kind = "dropout", "Dropout", "regularizer"
    summary = "While training, zeroes each number with probability rate (and rescales the rest); does nothing at evaluation."
    hypers = (Hyper("rate", float, 0.5, 0.0, 0.95, "probability of dropping a unit while training"),)
    formula = "x (at evaluation dropout passes every number)"

    def cache_bytes(self, hp, vol, out, itemsize):
        return vol.size * itemsize if hp["rate"] > 0 else 0  # the scaled mask

    def torch_module(self, hp, vol):
        return "Dropout", {"p": hp["rate"]}

    def onnx_mapping(self, hp, vol):
        # without the training_mode input, ONNX's Dropout passes its input through
        return OnnxMapping((OnnxNode("Dropout", ("x", "ratio")),), {"ratio": np.array(hp["rate"])})

    def forward(self, hp, params, buffers, x, ctx):
        if not ctx.train or hp["rate"] == 0:
            return x, None
        keep = 1.0 - hp["rate"]
        mask = (ctx.rng.random(x.shape, dtype=np.float32) < keep).astype(x.dtype) / np.asarray(keep, x.dtype)
        return x * mask, mask

    def backward(self, hp, params, dout, cache):
        return (dout if cache is None else dout * cache), {}


class BatchNorm(LayerType):
    name, title, kind = "batchnorm", "Batch norm", "regularizer"
    summary = "Normalises each depth slice (or each fc unit) over the batch, then scales and shifts it with learned numbers."
    hypers = (Hyper("momentum", float, 0.1, 0.0, 1.0, "weight of the newest batch in the running statistics"),)
    eps = 1e-5
    couples_batch = True
    takes_epilogue = affine_at_evaluation = True
    formula = "gamma * (x - mean) / sqrt(var + 1e-5) + beta (the running mean and variance at evaluation)"

    def terms(self, hp, params, buffers, k):
        return {"gamma": float(params["weight"][k]), "beta": float(params["bias"][k]),
                "mean": float(buffers["running_mean"][k]), "var": float(buffers["running_var"][k])}

    def param_shapes(self, hp, vol):
        return {"weight": (vol.depth,), "bias": (vol.depth,)}

    def buffer_shapes(self, hp, vol):
        return {"running_mean": (vol.depth,), "running_var": (vol.depth,)}

    def init_params(self, hp, vol, rng, dtype):
        return {"weight": np.ones(vol.depth, dtype), "bias": np.zeros(vol.depth, dtype)}

    def initial_buffers(self, hp, vol, dtype):
        return {"running_mean": np.zeros(vol.depth, dtype), "running_var": np.ones(vol.depth, dtype)}

    def torch_module(self, hp, vol):
        return "BatchNorm2d", {"num_features": vol.depth, "eps": self.eps, "momentum": hp["momentum"]}

    def onnx_mapping(self, hp, vol):
        # ONNX's momentum weighs the running statistic, this layer's (and PyTorch's) the newest batch
        return onnx_op("BatchNormalization", ("x", "weight", "bias", "running_mean", "running_var"), epsilon=self.eps,
                       momentum=1 - hp["momentum"])

    def macs(self, hp, vol, out):
        return 2 * vol.size

    # Statistics over the batch: the engine runs a batch's chunks in parallel, each giving its partial
    # statistics, merged once for the whole batch (forward_merge, backward_merge) before each chunk
    # goes on with the whole batch's (forward(..., stats), backward(..., sums)). Called on one array,
    # forward and backward do all three on it.

    def forward_partial(self, hp, x):
        """One chunk's share of the batch statistics: (count, mean per depth, sum of squared deviations)."""
        rows = _depth_rows(x)
        mean = kernels.row_sums(rows) / rows.shape[1]
        dev = rows - mean[:, None]
        return rows.shape[1], mean, kernels.row_dots(dev, dev)

    def forward_merge(self, hp, buffers, partials):
        """The whole batch's (mean, 1/sqrt(var + eps)) per depth, in float64, from its chunks' forward_partial
        (Chan, Golub and LeVeque's pairwise update); updates the running statistics once, as PyTorch
        (the running variance unbiased)."""
        counts = np.array([p[0] for p in partials], dtype=np.float64)
        count = counts.sum()
        means = np.array([p[1] for p in partials], dtype=np.float64)
        mean = counts @ means / count
        var = (np.sum([p[2] for p in partials], axis=0, dtype=np.float64) + counts @ (means - mean) ** 2) / count
        m = hp["momentum"]
        buffers["running_mean"] *= 1 - m
        buffers["running_mean"] += m * mean
        buffers["running_var"] *= 1 - m
        buffers["running_var"] += m * var * (count / max(count - 1, 1))
        return mean, 1.0 / np.sqrt(var + self.eps)

    def forward(self, hp, params, buffers, x, ctx, stats=None):
        """x (C, H, W, N) -> (out, cache). Training normalises with the batch's statistics: stats, the whole
        batch's forward_merge when x is one chunk of it, else x's own; evaluation with the running ones."""
        if not ctx.train:
            stats = buffers["running_mean"].astype(np.float64), 1.0 / np.sqrt(buffers["running_var"] + np.float64(self.eps))
        elif stats is None:
            stats = self.forward_merge(hp, buffers, [self.forward_partial(hp, x)])
        mean, inv = stats
        scale = params["weight"] * inv
        shift = (params["bias"] - mean * scale).astype(x.dtype)[:, None]
        scale = scale.astype(x.dtype)[:, None]
        rows = _depth_rows(x)
        out = rows * scale  # whole rows: bands of a few thousand columns were slower (numpy's per-call cost)
        out += shift
        out = out.reshape(x.shape)
        if ctx.epilogue:
            ctx.epilogue(out)(0, rows.shape[1])
        return out, (x, mean.astype(x.dtype), inv.astype(x.dtype), ctx.train)  # float32 like PyTorch's saved statistics

    def affine(self, hp, params, buffers):
        scale = params["weight"] / np.sqrt(buffers["running_var"] + np.float64(self.eps))
        return scale, params["bias"] - buffers["running_mean"] * scale

    def backward_partial(self, hp, params, dout, cache):
        """One chunk's (count, sum of dout * xhat, sum of dout) per depth: its share of the weight and bias
        gradients."""
        x, mean, inv, _ = cache
        rows, drows = _depth_rows(x), _depth_rows(dout)
        dbeta = kernels.row_sums(drows)
        return rows.shape[1], (kernels.row_dots(drows, rows) - mean * dbeta) * inv, dbeta

    def backward_merge(self, hp, partials):
        """The chunks' backward_partial -> (the whole batch's sums for backward, the parameter gradients)."""
        count = sum(p[0] for p in partials)
        dgamma, dbeta = np.sum([p[1] for p in partials], axis=0), np.sum([p[2] for p in partials], axis=0)
        dtype = partials[0][2].dtype
        return (count, dgamma, dbeta), {"weight": dgamma.astype(dtype), "bias": dbeta.astype(dtype)}

    def backward(self, hp, params, dout, cache, sums=None):
        """dout (C, H, W, N) -> (dx, grads). sums: the whole batch's backward_merge when this is one chunk of
        it; the parameter gradients are then the merge's, and grads is empty."""
        x, mean, inv, train = cache
        grads = {}
        if sums is None:
            sums, grads = self.backward_merge(hp, [self.backward_partial(hp, params, dout, cache)])
        count, dgamma, dbeta = sums
        g = params["weight"] * inv
        drows = _depth_rows(dout)
        dx = drows * g.astype(dout.dtype)[:, None]
        if train:  # dx = g * (dout - dbeta/M - xhat * dgamma/M), xhat = (x - mean) * inv
            dev = _depth_rows(x) - mean.astype(x.dtype)[:, None]
            dev *= (-g * inv * dgamma / count).astype(x.dtype)[:, None]
            dx += dev
            dx -= (g * dbeta / count).astype(x.dtype)[:, None]
        return dx.reshape(dout.shape), grads


def _depth_rows(x: np.ndarray) -> np.ndarray:
    """(C, H, W, N) as (C, H*W*N): one row per depth slice (a view when x is contiguous)."""
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))


class FC(LayerType):
    name, title, kind = "fc", "FC", "dense"
    keeps_volume, takes_epilogue, absorbs_affine = False, True, True
    summary = "Fully connected: every output unit sees the whole input volume (flattened depth, height, width)."
    hypers = (Hyper("units", int, 10, 1, 65536, "number of output units"),)

    def output_volume(self, hp, vol):
        return Volume(1, 1, hp["units"])

    def param_shapes(self, hp, vol):
        return {"weight": (hp["units"], vol.size), "bias": (hp["units"],)}

    def macs(self, hp, vol, out):
        return vol.size * hp["units"]

    def window(self, hp, vol):
        return max(vol.width, vol.height), 1

    def as_conv(self, hp, vol):
        """Every unit sees the whole W x H x D input: a conv of `units` filters of W x H x D, each unit's
        weights (in the flattening's depth-height-width order) reshaped into its filter."""
        if vol.width != vol.height:
            raise ValueError(f"it sees a {vol} volume, and conv filters are square here: pool or crop it to "
                             f"{min(vol.width, vol.height)}x{min(vol.width, vol.height)} first")
        units = hp["units"]
        shape = (units, vol.depth, vol.height, vol.width)
        return Conv.name, {"filters": units, "size": vol.width}, lambda p: {"weight": p["weight"].reshape(shape),
                                                                            "bias": p["bias"]}

    def number(self, hp, params, buffers, x, k, i, j):
        """Unit k's weights (as a volume like the input) times the whole input volume, plus its bias."""
        window, weights = x.astype(np.float64), params["weight"][k].reshape(x.shape).astype(np.float64)
        bias = float(params["bias"][k])
        return Recipe("dot", window, range(x.shape[0]), range(x.shape[1]), range(x.shape[2]),
                      float((window * weights).sum() + bias), weights=weights, bias=bias)

    def torch_module(self, hp, vol):
        return "FlattenLinear", {"in_features": vol.size, "out_features": hp["units"]}

    def absorb(self, hp, params, scale, shift):
        dtype = params["weight"].dtype
        return {"weight": params["weight"] * scale.astype(dtype)[:, None], "bias": (params["bias"] * scale + shift).astype(dtype)}

    def onnx_mapping(self, hp, vol):
        return OnnxMapping((OnnxNode("Flatten", attributes={"axis": 1}, output="flat"),
                            OnnxNode("Gemm", ("flat", "weight", "bias"), {"transB": 1}, output="units"),
                            OnnxNode("Unsqueeze", ("units", "axes"))),  # (N, units) -> (N, units, 1, 1)
                           {"axes": np.array([2, 3])})

    def forward(self, hp, params, buffers, x, ctx):
        x2 = x.reshape(math.prod(x.shape[:3]), x.shape[3])  # (D*H*W, N): the weight's column order
        out = params["weight"] @ x2
        out += params["bias"][:, None]
        out = out.reshape(out.shape[:1] + (1, 1) + out.shape[1:])
        if ctx.epilogue:
            ctx.epilogue(out)(0, out.shape[3])
        return out, (x2, x.shape)

    def backward(self, hp, params, dout, cache):
        x2, shape = cache
        d2 = dout.reshape(dout.shape[0], dout.shape[3])
        return (params["weight"].T @ d2).reshape(shape), {"weight": d2 @ x2.T, "bias": d2.sum(axis=1)}


class Softmax(LayerType):
    name, title, kind = "softmax", "Softmax", "classifier"
    summary = "The classifier: turns the last 1x1xC volume into C class probabilities (trained with cross-entropy)."
    formula = "e^x_k / (the sum of e^x over the C class scores)"

    def depth_reach(self, hp, k, depth):
        return range(depth)

    def cache_bytes(self, hp, vol, out, itemsize):
        return out.size * itemsize  # the probabilities

    def torch_module(self, hp, vol):
        return "FlattenSoftmax", {}

    def onnx_mapping(self, hp, vol):
        return OnnxMapping((OnnxNode("Flatten", attributes={"axis": 1}, output="scores"),
                            OnnxNode("Softmax", ("scores",), {"axis": 1})))  # (N, classes)

    def forward(self, hp, params, buffers, x, ctx):
        e = np.exp(x - x.max(axis=0, keepdims=True))  # over depth at each position: a 1x1xC volume, or a
        p = e / e.sum(axis=0, keepdims=True)  # class-score map (see plan.compile_plan)
        return p, p

    def backward(self, hp, params, dout, cache):
        p = cache
        return p * (dout - (dout * p).sum(axis=0, keepdims=True)), {}


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over axis 1: the classes of (N, C) or of every position of (N, C, H, W)."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """logits (N, C), integer labels y (N,) -> (mean loss, dlogits (N, C), probabilities (N, C))."""
    z = logits - logits.max(axis=1, keepdims=True)
    logsum = np.log(np.exp(z).sum(axis=1, keepdims=True))
    logp = z - logsum
    n = logits.shape[0]
    loss = float(-logp[np.arange(n), y].mean())
    p = np.exp(logp)
    d = p.copy()
    d[np.arange(n), y] -= 1
    return loss, d / n, p


class MergeError(ValueError):
    """The volumes meeting at a container's merge do not fit together; str() says why with the numbers.
    volumes: each lane's output volume, in lane order."""

    def __init__(self, message: str, volumes: list[Volume]):
        super().__init__(message)
        self.volumes = volumes


class ContainerType:
    """Base declaration of a container block: lanes of blocks that all receive the container's input,
    and a merge of their outputs. An empty lane passes its input through unchanged.

    A container's lanes are stored either under fixed JSON keys, one list each (`lane_fields`, e.g.
    residual's "body" and "shortcut"), or as one JSON list of lists (`lane_list`, e.g. concat's
    "branches"). Paths and weight keys name a lane "body" / "branches[1]" and "body" / "branches.1";
    the mirrored PyTorch module has the same attributes."""

    name = ""
    title = ""
    summary = ""
    kind = "container"
    merge_title = ""   # what the merge is called in the views: "+", "concat"
    hypers: tuple[Hyper, ...] = ()
    is_container = True
    has_filters = False
    couples_batch = False
    takes_epilogue = False  # merge_forward applies an epilogue (see Context)
    merges_in_place = False  # merge_forward(xs, reuse=True) writes its result into xs[0]
    absorbs_affine = False
    rectifies = False
    lane_fields: tuple[str, ...] = ()
    lane_list = ""
    min_lanes, max_lanes = 1, 16

    def lane_names(self, count: int) -> list[str]:
        """How a path names each of count lanes: ["body", "shortcut"] or ["branches[0]", ...]."""
        return list(self.lane_fields) if self.lane_fields else [f"{self.lane_list}[{i}]" for i in range(count)]

    def lane_keys(self, count: int) -> list[str]:
        """The weight-key (and PyTorch attribute) segment of each lane: "body" or "branches.0"."""
        return list(self.lane_fields) if self.lane_fields else [f"{self.lane_list}.{i}" for i in range(count)]

    def new_lanes(self) -> list[list]:
        """The lanes a container dropped from the palette starts with (all empty)."""
        return [[] for _ in range(len(self.lane_fields) or 2)]

    def merge_volume(self, volumes: list[Volume]) -> Volume:
        """The output volume for the lanes' output volumes; MergeError when they do not fit together."""
        raise NotImplementedError

    def merge_forward(self, xs: list[np.ndarray], epilogue=None, reuse: bool = False):
        """The lanes' outputs (D_i, H, W, N) -> (merged output, cache); epilogue as Context.epilogue, for
        a container that takes_epilogue; reuse: xs[0] is the pass's to overwrite, for a container that
        merges_in_place."""
        raise NotImplementedError

    def merge_backward(self, dout: np.ndarray, cache) -> list[np.ndarray]:
        """d loss / d merged output -> d loss / d each lane's output."""
        raise NotImplementedError

    def merge_number(self, xs: list[np.ndarray], k: int, i: int, j: int) -> Recipe:
        """How merged output number (k, i, j) is made from the lanes' outputs xs, each (D_l, H, W)."""
        raise NotImplementedError

    def torch_module(self) -> str:
        """The class name convviz.export gives the mirrored module ("Residual" or "Concat")."""
        raise NotImplementedError

    def onnx_merge(self) -> tuple[str, dict]:
        """The ONNX operator that merges the lanes' outputs, in lane order: (op_type, attributes)."""
        raise NotImplementedError


class Residual(ContainerType):
    name, title, merge_title = "residual", "Residual", "+"
    summary = "Adds its body's output to its input (through the shortcut, if any): the block of ResNets."
    lane_fields = ("body", "shortcut")
    min_lanes = max_lanes = 2
    takes_epilogue = merges_in_place = True

    def merge_volume(self, volumes):
        body, shortcut = volumes
        if body != shortcut:
            raise MergeError(f"the body gives {body} but the shortcut gives {shortcut}; they must be equal "
                             f"to be added", volumes)
        return body

    def merge_forward(self, xs, epilogue=None, reuse=False):
        body, shortcut = xs
        out = np.add(body, shortcut, out=body if reuse else None)
        if epilogue:
            epilogue(out)(0, _depth_rows(out).shape[1])
        return out, None

    def merge_backward(self, dout, cache):
        return [dout, dout]

    def merge_number(self, xs, k, i, j):
        window = np.array([x[k, i, j] for x in xs], np.float64)
        return Recipe("add", window, range(k, k + 1), range(i, i + 1), range(j, j + 1), float(window.sum()))

    def torch_module(self):
        return "Residual"

    def onnx_merge(self):
        return "Add", {}


class Concat(ContainerType):
    name, title, merge_title = "concat", "Concat", "concat"
    summary = "Feeds its input to every branch and stacks their outputs along depth: the inception module of GoogLeNet."
    lane_list = "branches"

    def merge_volume(self, volumes):
        if len({(v.width, v.height) for v in volumes}) > 1:
            listed = ", ".join(f"branch {i} gives {v}" for i, v in enumerate(volumes))
            raise MergeError(f"the branches' widths and heights must agree to be stacked along depth: {listed}",
                             volumes)
        return Volume(volumes[0].width, volumes[0].height, sum(v.depth for v in volumes))

    def merge_forward(self, xs, epilogue=None, reuse=False):
        return np.concatenate(xs, axis=0), [x.shape[0] for x in xs]

    def merge_backward(self, dout, cache):
        return np.split(dout, np.cumsum(cache)[:-1], axis=0)

    def merge_number(self, xs, k, i, j):
        lane, first = 0, 0
        while k >= first + xs[lane].shape[0]:
            first += xs[lane].shape[0]
            lane += 1
        d = k - first
        return Recipe("pick", np.array([xs[lane][d, i, j]], np.float64), range(d, d + 1), range(i, i + 1),
                      range(j, j + 1), float(xs[lane][d, i, j]), lane=lane)

    def torch_module(self):
        return "Concat"

    def onnx_merge(self):
        return "Concat", {"axis": 1}


LAYER_TYPES: dict[str, LayerType] = {t.name: t for t in (
    Conv(), MaxPool(), AvgPool(), GlobalAvgPool(), ReLU(), LeakyReLU(), Tanh(), Sigmoid(), Dropout(), BatchNorm(), LRN(), FC(), Softmax())}
CONTAINER_TYPES: dict[str, ContainerType] = {t.name: t for t in (Residual(), Concat())}
BLOCK_TYPES: dict[str, LayerType | ContainerType] = {**LAYER_TYPES, **CONTAINER_TYPES}
ACTIVATIONS = frozenset(t.name for t in LAYER_TYPES.values() if t.kind == "activation")
