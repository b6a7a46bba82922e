"""An image folder as a data set: one subfolder of pictures per class (torchvision's ImageFolder
convention), any sizes, fitted to the INPUT volume; classes from the subfolders' names, sorted; a
seeded, stratified held-out test split. Files that cannot be used are listed and skipped.

load_data() is the one place that tells a CIFAR-10 folder from an image folder.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar

import numpy as np

from ..engine import Volume
from ..engine.machine import available_memory
from .cifar import Cifar10, has_cifar10_files, load_cifar10
from .errors import DataError, LoadCancelled
from .images import ImageError, depth_problem, read_image

TEST_FRACTION = 0.2
SPLIT_SEED = 0  # fixed, so a folder splits the same way every time (a checkpoint resumes on the same split)
PROGRESS_EVERY = 32  # files between two progress reports


@dataclass
class ImageFolder:
    """Looks to the trainer like Cifar10: train_images, test_images uint8 (N, D, H, W); train_labels,
    test_labels int64 (N,); label_names; source (the folder). skipped: (file, why) for every file left out."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    label_names: list[str]
    source: Path
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    resizable: ClassVar[bool] = True  # can be loaded again at another INPUT volume

    @property
    def name(self) -> str:
        return f"the image folder {self.source.name}"

    def summary(self, listed: int = 10) -> str:
        """Its classes, the pictures in each split, then the files skipped, one per line (the first `listed`)."""
        d, h, w = self.train_images.shape[1:]
        lines = [f"Image folder {self.source}: {len(self.label_names)} classes ({', '.join(self.label_names)}), "
                 f"{len(self.train_labels):,} training and {len(self.test_labels):,} test pictures at {w}x{h}x{d}"
                 + (f"; {len(self.skipped)} files skipped:" if self.skipped else ".")]
        lines += [f"  - {path}: {why}" for path, why in self.skipped[:listed]]
        if len(self.skipped) > listed:
            lines.append(f"  ... and {len(self.skipped) - listed} more")
        return "\n".join(lines)


def class_folders(folder: Path) -> list[Path]:
    """The visible subfolders of folder, sorted by name (one per class)."""
    try:
        return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    except OSError:
        return []


def load_data(folder, volume: Volume, progress: Callable[[int, int], None] | None = None,
              cancel: threading.Event | None = None) -> Cifar10 | ImageFolder:
    """CIFAR-10 when folder holds it (or a part of it: then DataError says what is missing), else the
    image folder at folder fitted to volume. Raises DataError saying what is wrong and how to fix it."""
    folder = Path(folder).expanduser()
    if has_cifar10_files(folder) or not class_folders(folder):
        return load_cifar10(folder)  # its message names both kinds when folder holds neither
    return load_image_folder(folder, volume, progress, cancel)


def load_image_folder(folder, volume: Volume, progress: Callable[[int, int], None] | None = None,
                      cancel: threading.Event | None = None) -> ImageFolder:
    """Every picture under folder/<class>/ (at any depth below it; hidden files skipped silently)
    fitted to volume, decoded on every core. progress(done, total) is called now and then; cancel
    set makes it raise LoadCancelled. Raises DataError for a folder that cannot make a data set."""
    folder = Path(folder).expanduser()
    if problem := depth_problem(volume.depth):
        raise DataError(f"{folder}: {problem}.")
    classes = class_folders(folder)
    if len(classes) < 2:
        raise DataError(f"{folder}: an image folder needs one subfolder of pictures per class, at least two; "
                        f"found {len(classes)}.")
    files, labels = [], []
    for label, sub in enumerate(classes):
        found = _files_under(sub)
        files += found
        labels += [label] * len(found)
    _check_memory(folder, len(files), volume)
    images = np.empty((len(files), volume.depth, volume.height, volume.width), np.uint8)
    good = np.zeros(len(files), bool)
    skipped: list[tuple[Path, str]] = []

    def read(k: int) -> str | None:
        if cancel is not None and cancel.is_set():
            return None
        try:
            images[k] = read_image(files[k], volume)
        except ImageError as e:
            return str(e).removeprefix(f"{files[k]}: ")
        good[k] = True
        return None

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # Pillow decodes without the GIL
        for k, why in enumerate(pool.map(read, range(len(files)))):
            if why is not None:
                skipped.append((files[k], why))
            if progress is not None and (k % PROGRESS_EVERY == PROGRESS_EVERY - 1 or k == len(files) - 1):
                progress(k + 1, len(files))
    if cancel is not None and cancel.is_set():
        raise LoadCancelled(f"loading {folder} was cancelled")
    labels = np.array(labels, np.int64)
    for label, sub in enumerate(classes):
        if not good[labels == label].any():
            raise DataError(f"{sub}: the class {sub.name} has no usable picture: add some, or remove the folder "
                            f"(see the files skipped: {_skip_summary(skipped)}).")
    images, labels = images[good], labels[good]
    test = stratified_test_split(labels, TEST_FRACTION, SPLIT_SEED)
    if not test.any():
        raise DataError(f"{folder}: {len(labels)} pictures leave none to test on: give a class at least two.")
    return ImageFolder(images[~test], labels[~test], images[test], labels[test],
                       [sub.name for sub in classes], folder, skipped)


def stratified_test_split(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A bool mask over labels (N,) choosing round(fraction * n) of each class's n items at random
    (seeded) for testing, at least one of a class with two or more and never all of a class."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        n = len(members)
        k = min(max(round(fraction * n), 1), n - 1)
        test[rng.choice(members, size=k, replace=False)] = True
    return test


def _files_under(folder: Path) -> list[Path]:
    """The visible files below folder, in sorted order (hidden files and folders are left out)."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / n for n in sorted(names) if not n.startswith(".")]
    return found


def _check_memory(folder: Path, count: int, volume: Volume) -> None:
    """Refuse a folder whose pictures, at volume, would take more than half the memory available now
    (they are held twice for a moment, while the unusable files are dropped)."""
    needed = count * volume.size
    available = available_memory()
    if available is not None and needed > available // 2:
        raise DataError(f"{folder}: {count:,} pictures at {volume} take {needed / 2**20:,.1f} MiB, more than half "
                        f"of the {available / 2**20:,.1f} MiB of memory available: use a smaller INPUT block or "
                        "fewer pictures.")


def _skip_summary(skipped: list[tuple[Path, str]], shown: int = 3) -> str:
    parts = [f"{path.name}: {why}" for path, why in skipped[:shown]]
    return "; ".join(parts) + (f"; and {len(skipped) - shown} more" if len(skipped) > shown else "") if parts else "none"
