"""Weights for use outside a run (exports): a weights file, or a checkpoint's network and settings."""
from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import numpy as np

from . import checkpoint
from .checkpoint import CheckpointError
from .config import TrainConfig


def weights_and_settings(path) -> tuple[Path | dict[str, np.ndarray], dict | None]:
    """What path gives an export: a weights file stays a path, with no settings (nothing is read yet; the
    engine's reader checks it); a checkpoint gives its network's arrays, keyed like a weights file, and
    its run's training settings (TrainConfig.to_dict(), with what changed while it ran: lr the base rate
    before the schedule, momentum, weight decay). CheckpointError for a checkpoint that cannot be read."""
    path = Path(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return path, None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        return path, None
    with archive:
        if checkpoint.META_KEY not in archive.files:
            return path, None
    arrays, meta = checkpoint.read(path)
    try:
        hyper, config = meta["optimizer"]["hyper"], TrainConfig.from_dict(meta["config"])
        config = dataclasses.replace(config, lr=float(meta["optimizer"]["base_lr"]), weight_decay=hyper["weight_decay"],
                                     momentum=hyper.get("momentum", config.momentum))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: the checkpoint's settings are unreadable ({e})") from e
    state = {key[len("state/"):]: a for key, a in arrays.items() if key.startswith("state/")}
    return state, config.to_dict()
