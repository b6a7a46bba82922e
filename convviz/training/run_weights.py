"""Weights for use outside a run (exports): a weights file, or a checkpoint's network and settings."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from . import checkpoint


def weights_and_settings(path) -> tuple[Path | dict[str, np.ndarray], dict | None]:
    """What path gives an export: a weights file stays a path, with no settings (nothing is read yet; the
    engine's reader checks it); a checkpoint gives its network's arrays, keyed like a weights file, and
    its run's training settings (TrainConfig.to_dict(), with what changed while it ran: lr the base rate
    before the schedule, momentum, weight decay). CheckpointError for a checkpoint that cannot be read."""
    path = Path(path)
    if not checkpoint.is_checkpoint(path):
        return path, None
    saved = checkpoint.read(path)  # every field checked: its settings are sound
    hyper = saved.meta["optimizer"]["hyper"]
    config = dataclasses.replace(saved.config, lr=float(saved.meta["optimizer"]["base_lr"]),
                                 weight_decay=hyper["weight_decay"], momentum=hyper.get("momentum", saved.config.momentum))
    return saved.state, config.to_dict()
