"""A network built from an architecture: parameters, forward, loss and gradients, weights files.

The architecture is anything with `.input` (width, height, depth) and `.layers` (each with
`.type` and `.params`), normally `convviz.model.Architecture`; the engine does not import it.
Parameters are keyed like the weights file: "{i}.weight", "{i}.bias" with i the layer index,
in PyTorch layouts (conv [out, in, kh, kw], fc [out, in]); batchnorm buffers "{i}.running_mean",
"{i}.running_var".
"""
from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .layers import ACTIVATIONS, LAYER_TYPES, Context, Volume, softmax, softmax_cross_entropy

_RELU_LIKE = {"relu", "leakyrelu"}
_PASS_THROUGH = {"batchnorm", "dropout", "maxpool", "avgpool"}


class WeightsError(ValueError):
    """A weights file that does not fit the network, or cannot be read."""


class Network:
    """Parameters and passes for one architecture. Inputs are float32 (N, depth, height, width)."""

    def __init__(self, arch, seed: int = 0, dtype=np.float32):
        self.arch = arch
        self.dtype = np.dtype(dtype)
        self.types = []
        self.hps = []
        for i, layer in enumerate(arch.layers):
            if layer.type not in LAYER_TYPES:
                raise ValueError(f"layer {i}: unknown layer type {layer.type!r}")
            self.types.append(LAYER_TYPES[layer.type])
            self.hps.append(self.types[-1].resolve(dict(layer.params)))
        if not self.types or self.types[-1].name != "softmax":
            raise ValueError("the last layer must be softmax (the classifier)")
        vol = Volume(arch.input.width, arch.input.height, arch.input.depth)
        self.volumes = [vol]
        for i, (t, hp) in enumerate(zip(self.types, self.hps)):
            vol = t.output_volume(hp, vol)
            self.volumes.append(vol)
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

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        v = self.volumes[0]
        want = (v.depth, v.height, v.width)
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(f"input must be (N, {want[0]}, {want[1]}, {want[2]}) NCHW, got {tuple(x.shape)}")
        return np.asarray(x, dtype=self.dtype)

    def _run(self, x, stop: int, train: bool):
        """Layers [0, stop) on x -> (list of outputs, list of caches)."""
        ctx = Context(train=train, rng=self.rng)
        outs, caches = [], []
        for i in range(stop):
            x, cache = self.types[i].forward(self.hps[i], self.layer_params[i], self.layer_buffers[i], x, ctx)
            outs.append(x)
            caches.append(cache)
        return outs, caches

    def _backward(self, dout, caches, start: int, keep: bool = False):
        """Backprop dout (the gradient at layer start-1's output) through layers start-1 .. 0.
        -> (grads keyed like params, list of d loss / d output of each layer if keep)."""
        grads, douts = {}, [None] * start
        for i in range(start - 1, -1, -1):
            if keep:
                douts[i] = dout
            dout, g = self.types[i].backward(self.hps[i], self.layer_params[i], dout, caches[i])
            for k, a in g.items():
                grads[f"{i}.{k}"] = a
        return grads, douts

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        """x (N, D, H, W) -> logits (N, classes): the input of the final softmax."""
        outs, _ = self._run(self._check_input(x), len(self.types) - 1, train)
        return outs[-1].reshape(len(x), -1)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """x (N, D, H, W) -> class probabilities (N, classes), evaluation mode."""
        return softmax(self.forward(x))

    def backprop(self, x: np.ndarray, y: np.ndarray, train: bool = True):
        """One training pass -> (mean cross-entropy loss, grads keyed like params, probabilities (N, classes))."""
        last = len(self.types) - 1
        outs, caches = self._run(self._check_input(x), last, train)
        logits = outs[-1]
        loss, dlogits, probs = softmax_cross_entropy(logits.reshape(len(x), -1), np.asarray(y))
        grads, _ = self._backward(dlogits.reshape(logits.shape).astype(self.dtype), caches, last)
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
        outs, caches = self._run(self._check_input(x), last, train=False)
        loss, dlogits, probs = softmax_cross_entropy(outs[-1].reshape(len(x), -1), np.asarray(y))
        dlogits = dlogits.reshape(outs[-1].shape).astype(self.dtype)
        _, douts = self._backward(dlogits, caches, last, keep=True)
        return outs + [probs.reshape(outs[-1].shape)], douts + [dlogits]

    def state(self) -> dict[str, np.ndarray]:
        """Parameters and buffers, keyed like the weights file."""
        return {**self.params, **self.buffers}

    def save_weights(self, path) -> None:
        """Write an .npz of parameters and buffers, atomically (temp file + rename)."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **self.state())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load_weights(self, path) -> None:
        """Read an .npz written by save_weights (or from a PyTorch state_dict, see README).
        Checks every key, shape and dtype first; nothing changes unless all fit. Never unpickles."""
        try:
            loaded = np.load(path, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise ValueError("it holds one array, not an .npz archive of named arrays (write one with numpy.savez)")
            with loaded as f:
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            reason = str(e)
            if "pickle" in reason:  # NumPy's message suggests unpickling: never do that
                reason = "it is not an .npz archive of arrays (pickles and text files are refused)"
            raise WeightsError(f"cannot read weights file {path}: {reason}") from e
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
