"""One export for the command line and the app: an architecture, with weights or without, as a PyTorch
file or an ONNX model."""
from __future__ import annotations

from pathlib import Path

from ..engine import Network
from .onnx import OPSET, write_onnx
from .torch_code import write_torch_file

FORMATS = {"torch": ".py", "onnx": ".onnx"}  # a format -> the suffix of its file


def format_of(path) -> str:
    """The format a file name asks for by its suffix; ValueError naming the choices when it asks for none."""
    suffix = Path(path).suffix.lower()
    for name, wanted in FORMATS.items():
        if suffix == wanted:
            return name
    raise ValueError(f"{path}: say which format with --to {' or '.join(FORMATS)} (or name the file "
                     f"{' or '.join('*' + s for s in FORMATS.values())})")


def weights_beside(path) -> Path:
    """Where a PyTorch file at path gets weights that are in no file yet: "net.py" -> "net-weights.npz"."""
    path = Path(path)
    return path.with_name(f"{path.stem}-weights.npz")


def export_network(arch, to: str, path, settings: dict, weights=None, title: str | None = None,
                   settings_source: str = "", source=None) -> str:
    """Write arch at path as a PyTorch file (to "torch") or an ONNX model ("onnx") -> one line saying what
    was written. Raises ValueError for an architecture that cannot run, weights that do not fit it (the
    engine's checks) or a file it would overwrite with its own output, ImportError without the onnx
    package, OSError when path cannot be written.

    weights: None (a PyTorch file only), a weights file, or arrays keyed like the weights file (the app's
    run, a checkpoint's network: a PyTorch file then gets them beside it, see weights_beside); source: the
    file those arrays came from, never overwritten. settings and settings_source: ConvViz's training
    settings (TrainConfig.to_dict()) for the PyTorch file's train command, and where they come from
    (" (the run's)")."""
    if to not in FORMATS:
        raise ValueError(f"unknown export format {to!r}: choose {' or '.join(FORMATS)}")
    if to == "onnx" and weights is None:
        raise ValueError("an ONNX model carries its weights: give a weights file (--weights W.npz)")
    path = Path(path)
    beside = weights_beside(path) if to == "torch" and isinstance(weights, dict) else None
    source = Path(weights) if isinstance(weights, (str, Path)) else source
    for written in (path, beside):
        if written is not None and source is not None and written.resolve() == Path(source).resolve():
            raise ValueError(f"{written} is the weights file the export reads: choose another name")
    net = None
    if weights is not None:
        net = Network(arch)  # the engine's checks of the architecture and, below, of the weights
        if isinstance(weights, dict):
            net.set_state(weights, source=str(source or "the run's weights"))
        else:
            net.load_weights(weights)
    title = title or path.stem
    if to == "onnx":
        write_onnx(arch, net.state(), path, title)
        return f"Wrote {path} (ONNX opset {OPSET}; outputs logits and probabilities)"
    write_torch_file(arch, path, settings, title, (beside or Path(weights or "weights.npz")).name, settings_source)
    if beside is not None:
        net.save_weights(beside)
        return f"Wrote {path} and its weights {beside.name} (PyTorch)"
    return f"Wrote {path} (PyTorch)"
