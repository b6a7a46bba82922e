"""A network built from an architecture: parameters, forward, loss and gradients, weights files.

The architecture is anything with `.input` (width, height, depth) and `.layers` (each with
`.type` and `.params`), normally `convviz.model.Architecture`; the engine does not import it.
Parameters are keyed like the weights file: "{i}.weight", "{i}.bias" with i the layer index,
in PyTorch layouts (conv [out, in, kh, kw], fc [out, in]); batchnorm buffers "{i}.running_mean",
"{i}.running_var".

Each batch is split into one chunk per core (threads.py); every chunk runs through whole runs of
layers in its own thread, and only a batchnorm in training, which needs the whole batch's
statistics, joins the chunks back together.
"""
from __future__ import annotations

import numpy as np

from .files import atomic_write, read_npz
from .layers import LAYER_TYPES, Context, LayerType, Volume, VolumeError, softmax, softmax_cross_entropy
from .threads import batch_chunks, run_chunks

_RELU_LIKE = {"relu", "leakyrelu"}
_PASS_THROUGH = {"batchnorm", "dropout", "maxpool", "avgpool"}


class WeightsError(ValueError):
    """A weights file that does not fit the network, or cannot be read."""


class Network:
    """Parameters and passes for one architecture. Inputs are float32 (N, depth, height, width).
    An architecture that cannot run (what model.infer reports, bar the number of classes) raises
    ValueError naming the first problem and its layer."""

    def __init__(self, arch, seed: int = 0, dtype=np.float32):
        self.arch = arch
        self.dtype = np.dtype(dtype)
        self.types = [_layer_type(i, layer) for i, layer in enumerate(arch.layers)]
        self.hps = [_checked_hypers(i, t, layer.params) for i, (t, layer) in enumerate(zip(self.types, arch.layers))]
        names = [t.name for t in self.types]
        if "softmax" not in names or names.index("softmax") != len(names) - 1:
            raise ValueError("the last layer, and only it, must be softmax (the classifier)")
        vol = Volume(arch.input.width, arch.input.height, arch.input.depth)
        if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1 for n in vol):
            raise ValueError(f"the input volume must be three whole numbers from 1, got {vol}")
        self.volumes = [vol]
        for i, (t, hp) in enumerate(zip(self.types, self.hps)):
            try:
                vol = t.output_volume(hp, vol)
            except VolumeError as e:
                raise VolumeError(f"layer {i} ({t.name}) does not fit its {vol} input: {e}",
                                  e.axis, e.size, e.f, e.s, e.p, e.d) from None
            self.volumes.append(vol)
        if vol.width != 1 or vol.height != 1:
            source = f"layer {len(names) - 2}" if len(names) > 1 else "the input"
            raise ValueError(f"the softmax needs a 1x1xC volume (C classes), but {source} gives {vol}: "
                             f"end with an fc layer of C units")
        self.classes = vol.depth
        self.layer_params: list[dict[str, np.ndarray]] = []
        self.layer_buffers: list[dict[str, np.ndarray]] = []
        init_rng = np.random.default_rng(seed)
        for i, (t, hp) in enumerate(zip(self.types, self.hps)):
            shapes = t.param_shapes(hp, self.volumes[i])
            self.layer_params.append(self._initial_params(i, shapes, init_rng))
            self.layer_buffers.append({k: (np.ones if k == "running_var" else np.zeros)(s, self.dtype)
                                       for k, s in t.buffer_shapes(hp, self.volumes[i]).items()})
        self.params = {f"{i}.{k}": a for i, ps in enumerate(self.layer_params) for k, a in ps.items()}
        self.buffers = {f"{i}.{k}": a for i, bs in enumerate(self.layer_buffers) for k, a in bs.items()}
        self.rng = np.random.default_rng(seed + 1)  # dropout masks

    def _initial_params(self, i: int, shapes: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """He normal for weights feeding a ReLU, Glorot uniform otherwise; zero biases; batchnorm 1, 0."""
        params = {}
        for name, shape in shapes.items():
            if self.types[i].name == "batchnorm" or name == "bias":
                params[name] = (np.ones if name == "weight" else np.zeros)(shape, self.dtype)
                continue
            fan_out, fan_in = shape[0] * int(np.prod(shape[2:])), int(np.prod(shape[1:]))
            if self._feeds_relu(i):
                w = rng.normal(0.0, np.sqrt(2.0 / fan_in), shape)
            else:
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                w = rng.uniform(-limit, limit, shape)
            params[name] = w.astype(self.dtype)
        return params

    def _feeds_relu(self, i: int) -> bool:
        for t in self.types[i + 1 :]:
            if t.name in _PASS_THROUGH:
                continue
            return t.name in _RELU_LIKE
        return False

    @property
    def parameter_count(self) -> int:
        return sum(a.size for a in self.params.values())

    def _check_input(self, x: np.ndarray, allow_empty: bool = False) -> np.ndarray:
        """x as (N, D, H, W) of self.dtype. An empty batch only for an evaluation forward: a loss of
        no images is undefined, and batchnorm's statistics would become NaN."""
        v = self.volumes[0]
        want = (v.depth, v.height, v.width)
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(f"input must be (N, {want[0]}, {want[1]}, {want[2]}) NCHW, got {tuple(x.shape)}")
        if not len(x) and not allow_empty:
            raise ValueError("training and the loss need at least one image, got an empty batch")
        return np.asarray(x, dtype=self.dtype)

    def _coupled(self, i: int, train: bool) -> bool:
        """Whether layer i mixes the images of a batch (batchnorm while training): it sees the whole batch."""
        return train and self.types[i].name == "batchnorm"

    def _segments(self, stop: int, train: bool) -> list[tuple[int, int]]:
        """Layers [0, stop) as runs [lo, hi): each coupled layer alone, the others in maximal runs."""
        segments, lo = [], 0
        for i in range(stop):
            if self._coupled(i, train):
                segments += [(lo, i)] * (lo < i) + [(i, i + 1)]
                lo = i + 1
        return segments + [(lo, stop)] * (lo < stop)

    def _contexts(self, train: bool, count: int) -> list[Context]:
        """One context per batch chunk; several chunks draw dropout masks from generators seeded by self.rng."""
        if count == 1 or not train:
            return [Context(train=train, rng=self.rng)] * count
        return [Context(train=train, rng=np.random.default_rng(seed)) for seed in self.rng.integers(2**63, size=count)]

    def _run(self, x, stop: int, train: bool, keep: bool = False):
        """Layers [0, stop) on x (N, D, H, W), each batch chunk in its own thread between coupled layers.
        -> (chunks (slices of the batch), the last output per chunk, caches[i] (per chunk, or one for a
        coupled layer), outputs[i] of every layer (whole batch) if keep)."""
        chunks = batch_chunks(len(x))
        parts = [x[sl] for sl in chunks]
        ctxs = self._contexts(train, len(chunks))
        caches, outs = [None] * stop, [None] * stop

        def run_segment(k: int, lo: int, hi: int):
            h, seg_caches, seg_outs = parts[k], [], []
            for i in range(lo, hi):
                ctx = Context(ctxs[k].train, ctxs[k].rng, input_grad=i > 0)
                h, cache = self.types[i].forward(self.hps[i], self.layer_params[i], self.layer_buffers[i], h, ctx)
                seg_caches.append(cache)
                seg_outs.append(h if keep else None)
            return h, seg_caches, seg_outs

        for lo, hi in self._segments(stop, train):
            if self._coupled(lo, train):
                whole = _join(parts)
                ctx = Context(train, self.rng, input_grad=lo > 0)
                y, caches[lo] = self.types[lo].forward(self.hps[lo], self.layer_params[lo], self.layer_buffers[lo], whole, ctx)
                parts, outs[lo] = [y[sl] for sl in chunks], y
                continue
            results = run_chunks(lambda k: run_segment(k, lo, hi), range(len(chunks)))
            parts = [r[0] for r in results]
            for i in range(lo, hi):
                caches[i] = [r[1][i - lo] for r in results]
                if keep:
                    outs[i] = _join([r[2][i - lo] for r in results])
        return chunks, parts, caches, outs

    def _backward(self, chunks, douts, caches, start: int, train: bool, keep: bool = False):
        """Backprop douts (per chunk, the gradient at layer start-1's output) through layers start-1 .. 0.
        -> (grads keyed like params, d loss / d output of every layer (whole batch) if keep)."""
        grads, kept = {}, [None] * start

        def add(i: int, g: dict) -> None:
            for k, a in g.items():
                key = f"{i}.{k}"
                grads[key] = grads[key] + a if key in grads else a

        def back_segment(k: int, lo: int, hi: int):
            dout, seg_grads, seg_douts = douts[k], [], []
            for i in range(hi - 1, lo - 1, -1):
                seg_douts.append(dout if keep else None)
                dout, g = self.types[i].backward(self.hps[i], self.layer_params[i], dout, caches[i][k])
                seg_grads.append(g)
            return dout, seg_grads, seg_douts

        for lo, hi in reversed(self._segments(start, train)):
            if self._coupled(lo, train):
                whole = _join(douts)
                kept[lo] = whole
                dx, g = self.types[lo].backward(self.hps[lo], self.layer_params[lo], whole, caches[lo])
                add(lo, g)
                douts = [dx[sl] for sl in chunks]
                continue
            results = run_chunks(lambda k: back_segment(k, lo, hi), range(len(chunks)))
            douts = [r[0] for r in results]
            for n, i in enumerate(range(hi - 1, lo - 1, -1)):
                for r in results:
                    add(i, r[1][n])
                if keep:
                    kept[i] = _join([r[2][n] for r in results])
        return grads, kept

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        """x (N, D, H, W) -> logits (N, classes): the input of the final softmax."""
        _, parts, _, _ = self._run(self._check_input(x, allow_empty=not train), len(self.types) - 1, train)
        return _join(parts).reshape(len(x), self.classes)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """x (N, D, H, W) -> class probabilities (N, classes), evaluation mode."""
        return softmax(self.forward(x))

    def _loss(self, parts, y):
        """Per-chunk logits, labels (N,) -> (loss, d loss / d logits shaped like the logits, probabilities (N, classes))."""
        logits = _join(parts)
        n = len(logits)
        y = np.asarray(y)
        if y.shape != (n,) or y.dtype.kind not in "iu" or (n and (y.min() < 0 or y.max() >= self.classes)):
            raise ValueError(f"labels must be {n} whole numbers from 0 to {self.classes - 1}, "
                             f"got {y.dtype} array of shape {y.shape}" + (f" from {y.min()} to {y.max()}" if y.size else ""))
        loss, dlogits, probs = softmax_cross_entropy(logits.reshape(n, self.classes), y)
        dlogits = dlogits.reshape(logits.shape).astype(self.dtype, copy=False)
        return loss, dlogits, probs

    def backprop(self, x: np.ndarray, y: np.ndarray, train: bool = True):
        """One training pass -> (mean cross-entropy loss, grads keyed like params, probabilities (N, classes))."""
        last = len(self.types) - 1
        chunks, parts, caches, _ = self._run(self._check_input(x), last, train)
        loss, dlogits, probs = self._loss(parts, y)
        grads, _ = self._backward(chunks, [dlogits[sl] for sl in chunks], caches, last, train)
        return loss, grads, probs

    def loss_and_gradients(self, x: np.ndarray, y: np.ndarray):
        """x (N, D, H, W), integer labels y (N,) -> (loss, grads keyed like the weights file)."""
        loss, grads, _ = self.backprop(x, y)
        return loss, grads

    def trace(self, x: np.ndarray, y: np.ndarray):
        """Evaluation-mode pass over a few images, keeping everything the views show.
        -> (outputs of every layer, the last being the class probabilities,
            d loss / d output of every layer, the last being d loss / d logits)."""
        last = len(self.types) - 1
        chunks, parts, caches, outs = self._run(self._check_input(x), last, train=False, keep=True)
        _, dlogits, probs = self._loss(parts, y)
        _, douts = self._backward(chunks, [dlogits[sl] for sl in chunks], caches, last, train=False, keep=True)
        return outs + [probs.reshape(dlogits.shape).astype(self.dtype, copy=False)], douts + [dlogits]

    def state(self) -> dict[str, np.ndarray]:
        """Parameters and buffers, keyed like the weights file."""
        return {**self.params, **self.buffers}

    def save_weights(self, path) -> None:
        """Write an .npz of parameters and buffers, atomically (temp file + rename)."""
        with atomic_write(path) as f:
            np.savez(f, **self.state())

    def load_weights(self, path) -> None:
        """Read an .npz written by save_weights (or from a PyTorch state_dict, see README).
        Checks every key, shape and dtype first; nothing changes unless all fit. Never unpickles."""
        try:
            arrays = read_npz(path)
        except (OSError, ValueError) as e:
            raise WeightsError(f"cannot read weights file {path}: {e}") from e
        self.set_state(arrays, source=str(path))

    def set_state(self, arrays: dict[str, np.ndarray], source: str = "weights") -> None:
        """Copy arrays keyed like the weights file into the parameters and buffers, after checking them all.
        PyTorch's batchnorm counters ("{i}.num_batches_tracked") are ignored."""
        arrays = {k: np.asarray(a) for k, a in arrays.items() if not k.endswith(".num_batches_tracked")}
        want = self.state()
        missing, extra = sorted(set(want) - set(arrays)), sorted(set(arrays) - set(want))
        problems = [f"missing {k}" for k in missing] + [f"unexpected {k}" for k in extra]
        problems += [f"{k}: shape {tuple(arrays[k].shape)}, the network needs {tuple(a.shape)}"
                     for k, a in want.items() if k in arrays and arrays[k].shape != a.shape]
        problems += [f"{k}: dtype {arrays[k].dtype} is not numbers" for k in want
                     if k in arrays and arrays[k].dtype.kind not in "fiub"]
        if problems:
            raise WeightsError(f"{source} does not fit this architecture: " + "; ".join(problems))
        for k, a in want.items():
            np.copyto(a, arrays[k], casting="unsafe")


def _layer_type(i: int, layer) -> LayerType:
    if not isinstance(layer.type, str) or layer.type not in LAYER_TYPES:
        raise ValueError(f"layer {i}: unknown layer type {layer.type!r}; the known types are {', '.join(LAYER_TYPES)}")
    return LAYER_TYPES[layer.type]


def _checked_hypers(i: int, t: LayerType, given) -> dict:
    """Layer i's hyperparameters with the defaults filled in; ValueError naming the first unknown key,
    bad value, or combination the layer refuses (model.infer reports them all, with fixes)."""
    where = f"layer {i} ({t.name})"
    if not isinstance(given, dict):
        raise ValueError(f"{where}: hyperparameters must be a mapping of names to numbers, got {given!r}")
    problems = t.hyper_problems(given)
    if problems:
        key, h, message = problems[0]
        raise ValueError(f"{where}: " + (f"no hyperparameter {key!r} ({message})" if h is None else f"{key} {message}"))
    hp = t.resolve(given)
    problem = t.problem(hp)
    if problem:
        message, fix = problem
        use = " and ".join(f"{k} {v}" for k, v in fix.items())
        raise ValueError(f"{where}: {message}: use {use}")
    return hp


def _join(parts: list[np.ndarray]) -> np.ndarray:
    """Batch chunks back into one array (no copy for a single chunk)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
