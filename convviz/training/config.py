"""Training settings and learning-rate schedules."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from ..engine import OPTIMIZERS

SCHEDULES = ("constant", "step", "cosine")
# the settings a run may change live: name -> (what it is called, test of a finite value, the values allowed)
LIVE_HYPER = {"lr": ("learning rate", lambda v: v > 0, "a positive number"),
              "momentum": ("momentum", lambda v: 0 <= v < 1, "from 0 to below 1"),
              "weight_decay": ("weight decay", lambda v: v >= 0, "0 or more")}


def hyper_problem(name: str, value: float) -> str | None:
    """What is wrong with value for the live setting name ("lr", "momentum", "weight_decay"), or None."""
    label, ok, wanted = LIVE_HYPER[name]
    return None if math.isfinite(value) and ok(value) else f"{label} must be {wanted}, got {value}"


@dataclass
class TrainConfig:
    """The one set of defaults: `convviz train`'s flags and the app's Train tab start from these.
    epochs and max_steps are totals (a resumed run counts what was done before).
    lr None takes the optimiser's default; momentum applies to SGD only. val_split training images
    are held out for validation (chosen by seed). snapshot_rate: at most this many snapshots per
    second of wall time (0: none)."""

    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "constant"
    augment: bool = True  # as ConvNetJS's CIFAR-10 demo; it holds off overfitting, which starts within a few epochs on small data
    val_split: int = 500
    seed: int = 0
    max_steps: int | None = None
    snapshot_rate: float = 5.0
    evaluate_test: bool = True

    def problems(self) -> list[str]:
        """What is wrong with these settings, one sentence each (empty when they are usable)."""
        return [message for _, message in self.field_problems()]

    def field_problems(self) -> list[tuple[str, str]]:
        """(field, what is wrong with it) for every unusable setting."""
        out = []
        if self.epochs < 1:
            out.append(("epochs", f"epochs must be at least 1, got {self.epochs}"))
        if self.batch_size < 1:
            out.append(("batch_size", f"batch size must be at least 1, got {self.batch_size}"))
        if self.optimizer not in OPTIMIZERS:
            out.append(("optimizer", f"unknown optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}"))
        for name in LIVE_HYPER:
            value = getattr(self, name)
            if value is not None and (problem := hyper_problem(name, value)):
                out.append((name, problem))
        if self.schedule not in SCHEDULES:
            out.append(("schedule", f"unknown schedule {self.schedule!r}: choose one of {', '.join(SCHEDULES)}"))
        if self.val_split < 0:
            out.append(("val_split", f"validation split must be 0 or more images, got {self.val_split}"))
        if self.seed < 0:  # NumPy's generators take no negative seed
            out.append(("seed", f"seed must be 0 or more, got {self.seed}"))
        if self.max_steps is not None and self.max_steps < 1:
            out.append(("max_steps", f"max steps must be at least 1, got {self.max_steps}"))
        if self.snapshot_rate < 0:
            out.append(("snapshot_rate", f"snapshot rate must be 0 or more per second, got {self.snapshot_rate}"))
        return out

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_saved(cls, d) -> "TrainConfig":
        """Settings from an untrusted document (a settings file that may be old, hand-edited or
        damaged): each field of the wrong type, or with a problem, keeps its default."""
        config = cls()
        if not isinstance(d, dict):
            return config
        for f in fields(cls):
            usable, value = _fits(d.get(f.name), f.type) if f.name in d else (False, None)
            if not usable:
                continue
            old = getattr(config, f.name)
            setattr(config, f.name, value)
            if config.problems():
                setattr(config, f.name, old)
        return config


def _fits(value, annotation: str):
    """(True, value as the field holds it) when value suits a field annotated annotation
    ("float | None", "int", ...), else (False, None)."""
    kinds = set(annotation.replace(" ", "").split("|"))
    if value is None:
        return "None" in kinds, None
    if isinstance(value, bool):
        return "bool" in kinds, value
    if isinstance(value, (int, float)) and "float" in kinds and math.isfinite(value):
        return True, float(value)
    if isinstance(value, int) or isinstance(value, str):
        return type(value).__name__ in kinds, value
    return False, None


def lr_factor(schedule: str, progress: float) -> float:
    """The multiplier of the base learning rate at progress (epochs done, fractional) / total epochs.
    constant: 1; step: 1, then 0.1 from half-way, 0.01 from three quarters; cosine: 0.5 (1 + cos(pi t))."""
    if schedule == "step":
        return 1.0 if progress < 0.5 else 0.1 if progress < 0.75 else 0.01
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return 1.0
