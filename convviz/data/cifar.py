"""Loading CIFAR-10 from the official python layout (cifar-10-batches-py/) or binary layout
(cifar-10-batches-bin/), with every array checked. Images stay uint8 (N, 3, 32, 32), NCHW."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from .errors import DataError
from .safe_pickle import load_pickle

PY_DIR, BIN_DIR = "cifar-10-batches-py", "cifar-10-batches-bin"
PY_FILES = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch", "batches.meta"]
BIN_FILES = [f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin", "batches.meta.txt"]
IMAGE_SHAPE = (3, 32, 32)
PIXELS = 3 * 32 * 32
CLASSES = 10
FIX = "Delete the folder and download CIFAR-10 again (convviz download)."


@dataclass
class Cifar10:
    """train_images, test_images: uint8 (N, 3, 32, 32); train_labels, test_labels: int64 (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    label_names: list[str]
    source: Path
    name: ClassVar[str] = "CIFAR-10"  # for messages
    resizable: ClassVar[bool] = False  # 32x32x3 only (an ImageFolder can be loaded at any INPUT volume)


def _places(folder: Path) -> list[tuple[Path, str, list[str]]]:
    """(where, "py" | "bin", the files that layout needs) for every place folder may hold CIFAR-10 in:
    folder itself, then its cifar-10-batches-py/ and cifar-10-batches-bin/."""
    return [(sub, kind, names) for sub in (folder, folder / PY_DIR, folder / BIN_DIR)
            for kind, names in (("py", PY_FILES), ("bin", BIN_FILES))]


def dataset_folder(folder) -> tuple[Path, str] | None:
    """(the dataset folder, "py" | "bin") if folder is one or directly holds one, else None."""
    for sub, kind, names in _places(Path(folder)):
        if all((sub / n).is_file() for n in names):
            return sub, kind
    return None


def has_cifar10_files(folder) -> bool:
    """Whether folder holds CIFAR-10 or a part of it (any of its folders or files)."""
    return any((sub / n).exists() for sub, _, names in _places(Path(folder)) for n in names) or \
        any((Path(folder) / d).exists() for d in (PY_DIR, BIN_DIR))


def load_cifar10(folder) -> Cifar10:
    """Load and check CIFAR-10 from folder: cifar-10-batches-py/, cifar-10-batches-bin/ or a folder
    holding one. Raises DataError naming the file and the fix."""
    folder = Path(folder).expanduser()
    found = dataset_folder(folder)
    if found is None:
        raise DataError(_missing_message(folder))
    path, kind = found
    if kind == "py":
        names = _py_label_names(path / "batches.meta")
        parts = [_py_batch(path / f"data_batch_{k}", len(names)) for k in range(1, 6)]
        test = _py_batch(path / "test_batch", len(names))
    else:
        names = _bin_label_names(path / "batches.meta.txt")
        parts = [_bin_batch(path / f"data_batch_{k}.bin", len(names)) for k in range(1, 6)]
        test = _bin_batch(path / "test_batch.bin", len(names))
    train_images = np.concatenate([p[0] for p in parts]).reshape(-1, *IMAGE_SHAPE)
    train_labels = np.concatenate([p[1] for p in parts])
    test_images = np.ascontiguousarray(test[0]).reshape(-1, *IMAGE_SHAPE)
    return Cifar10(train_images, train_labels, test_images, test[1], names, path)


def _missing_message(folder: Path) -> str:
    if not folder.is_dir():
        what = "a file, not a folder" if folder.exists() else "no such folder"
        return f"{folder}: {what}. Give the folder holding {PY_DIR}/, or download CIFAR-10 (convviz download)."
    for sub, _, files in _places(folder):
        present = [n for n in files if (sub / n).is_file()]
        if present:
            missing = [n for n in files if n not in present]
            return f"{sub}: incomplete CIFAR-10, missing {', '.join(missing)}. {FIX}"
    return (f"{folder}: no CIFAR-10 here (looked for {PY_DIR}/ or {BIN_DIR}/ and their files), nor an image "
            "folder (one subfolder of pictures per class). Choose the folder that holds either, or download "
            "CIFAR-10 (convviz download).")


def _text(value) -> str:
    return value.decode("latin1") if isinstance(value, bytes) else value


def _py_label_names(path: Path) -> list[str]:
    meta = load_pickle(path)
    names = meta.get("label_names", meta.get(b"label_names")) if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != CLASSES or not all(isinstance(n, (str, bytes)) for n in names):
        raise DataError(f"{path}: expected a dict whose 'label_names' is a list of {CLASSES} names. {FIX}")
    return [_text(n) for n in names]


def _py_batch(path: Path, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> (uint8 (n, 3072), int64 (n,)), checked."""
    batch = load_pickle(path)
    if not isinstance(batch, dict):
        raise DataError(f"{path}: expected a dict with 'data' and 'labels', found {type(batch).__name__}. {FIX}")
    batch = {_text(k): v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise DataError(f"{path}: the batch has no {'data' if 'data' not in batch else 'labels'} entry. {FIX}")
    data, labels = batch["data"], batch["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        what = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: 'data' must be a uint8 array of shape (N, {PIXELS}), found a {what}. {FIX}")
    return data, _checked_labels(path, labels, len(data), classes)


def _checked_labels(path: Path, labels, images: int, classes: int) -> np.ndarray:
    """A list of ints or a 1-D integer array of any width -> int64 (images,), each from 0 to classes - 1.
    The range is checked before any conversion, so 2**70 or a uint64 past 2**63 is refused, not wrapped."""
    if isinstance(labels, list) and all(type(v) is int for v in labels):
        outside = next((v for v in labels if not 0 <= v < classes), None)
        found = f"{outside}" if outside is not None else ""
    elif isinstance(labels, np.ndarray) and labels.ndim == 1 and labels.dtype.kind in "iu":
        wrong = (labels < 0) | (labels >= classes)
        found = f"{labels[wrong.argmax()]}" if wrong.any() else ""
    else:
        raise DataError(f"{path}: 'labels' must be a list of integers. {FIX}")
    if len(labels) != images:
        raise DataError(f"{path}: {images} images but {len(labels)} labels. {FIX}")
    if found:
        raise DataError(f"{path}: labels must lie in 0..{classes - 1}, found {found}. {FIX}")
    return np.asarray(labels, dtype=np.int64)


def _bin_label_names(path: Path) -> list[str]:
    try:
        names = [line.strip() for line in path.read_text(encoding="latin1").splitlines() if line.strip()]
    except OSError as e:
        raise DataError(f"{path}: cannot read the file ({e.strerror or e}). {FIX}") from None
    if len(names) != CLASSES:
        raise DataError(f"{path}: expected {CLASSES} label names, one per line, found {len(names)}. {FIX}")
    return names


def _bin_batch(path: Path, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch (records of 1 label byte + 3072 pixel bytes) -> (uint8 (n, 3072), int64 (n,))."""
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise DataError(f"{path}: cannot read the file ({e.strerror or e}). {FIX}") from None
    if raw.size == 0 or raw.size % (PIXELS + 1):
        raise DataError(f"{path}: {raw.size} bytes is not a whole number of {PIXELS + 1}-byte records "
                        f"(the file is truncated or corrupt). {FIX}")
    records = raw.reshape(-1, PIXELS + 1)
    return records[:, 1:], _checked_labels(path, records[:, 0], len(records), classes)
