"""Training health, per layer: how large each update is next to the weights, how many ReLU units never
fire, and how the weights and their gradients are distributed, each with a plain-words hint when a
number is far from healthy. `convviz train --health FILE.csv` writes the same numbers.

The trainer asks a HealthMonitor at most `rate` times a second of wall time (due()); at such a sampled
step it keeps the outputs of the rectifying nodes (the layer declaration's `rectifies`) in the
forward pass, hands them with the gradients to observe() before the update, and after the update
sample() measures:
- update ratio: ||w after - w before|| / ||w before|| of each layer's weight, the update the optimiser
  really made (momentum and weight decay included); the notes' rule of thumb is about 1e-3;
- never fired: the share of a ReLU's units (depth slices: a conv layer's filters, an fc layer's neurons)
  that were zero at every position for every image of the last FIRING_WINDOW sampled batches;
- percentile bands (PERCENTILES) of each weight's values and of d loss / d weight (from at most
  MAX_VALUES entries of a large tensor, the same fixed random ones at every sample).
Ratio hints judge the median of the latest HINT_SAMPLES samples, so one odd batch does not raise one.
The thresholds were set on the ConvNetJS network on CIFAR-10: healthy runs (SGD lr 0.01 momentum 0.9,
Adam lr 1e-3) stay below 2e-2 after their first steps with no more than 10% of units silent; at 10 times
those learning rates updates reach 1e-1 to 3e-1 and most units of the deeper ReLUs stop firing.
"""
from __future__ import annotations

import csv
import math
import time
from collections import deque

import numpy as np

from ..engine.files import atomic_write
from .events import HealthEvent, LayerHealth

PERCENTILES = (5.0, 25.0, 50.0, 75.0, 95.0)
RULE_OF_THUMB = 1e-3   # ||update|| / ||weight|| of a healthy step (the notes')
TOO_HIGH = 3e-2        # above: the learning rate is likely too high ...
FAR_TOO_HIGH = 1e-1    # ... far too high
TOO_LOW = 1e-5         # below: it may be too low
DEAD_SHARE = 0.5       # a ReLU with at least this share of units that never fire gets a hint
FIRING_WINDOW = 10     # sampled batches a unit must have been silent in to count as never firing
HINT_SAMPLES = 5
MAX_VALUES = 16_384  # a percentile from this many values is off by under 1% in rank (two standard errors)


def scientific(x: float) -> str:
    """3e-1, 1.5e-3: one or two significant digits, as the notes write the rule of thumb."""
    if not math.isfinite(x) or x == 0:
        return f"{x:g}"
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def ratio_hint(ratio: float) -> str | None:
    """What an update ratio (median of recent samples) says about the learning rate, or None when healthy."""
    if not math.isfinite(ratio):
        return None
    advice = ("the learning rate is far too high" if ratio >= FAR_TOO_HIGH else
              "the learning rate is likely too high" if ratio >= TOO_HIGH else
              "the learning rate may be too low" if ratio <= TOO_LOW else None)
    if advice is None:
        return None
    return f"updates are {scientific(ratio)} of the weights; {advice} (about {scientific(RULE_OF_THUMB)} is healthy)"


class HealthMonitor:
    """Health statistics of one Network's training at a bounded rate (see the module docstring).
    rate: samples per second of wall time (the first step is always sampled; inf: every step)."""

    def __init__(self, net, rate: float):
        self.net = net
        self.rate = rate
        self.weighted = [n for n in net.nodes if f"{n.key}.weight" in net.params]
        self.rectifiers = [n for n in net.nodes if n.op is not None and n.op.rectifies]
        self.watched = tuple(n.id for n in self.rectifiers)  # Network.run(keep=...) at a sampled step
        self._last = -math.inf
        self._fired = {n.key: deque(maxlen=FIRING_WINDOW) for n in self.rectifiers}  # (units fired (D,), images)
        self._ratios = {n.key: deque(maxlen=HINT_SAMPLES) for n in self.weighted}
        self._subsets: dict[str, np.ndarray] = {}
        self._before: dict[str, np.ndarray] = {}
        self._grad_bands: dict[str, np.ndarray] = {}
        self._no_gradient: set[str] = set()

    def due(self) -> bool:
        """Whether the step about to run is sampled (at most rate times a second)."""
        now = time.monotonic()
        if self.rate > 0 and now - self._last >= 1.0 / self.rate:
            self._last = now
            return True
        return False

    def observe(self, outputs: dict[int, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """At a sampled step, after backward and before the optimiser's update: outputs of the watched
        nodes (node id -> (N, D, H, W)) and the gradients keyed like Network.params."""
        for node in self.rectifiers:
            out = outputs[node.id]
            self._fired[node.key].append(((out > 0).any(axis=(0, 2, 3)), len(out)))
        self._before, self._grad_bands, self._no_gradient = {}, {}, set()
        for node in self.weighted:
            key = f"{node.key}.weight"
            self._before[key] = self.net.params[key].copy()
            g = grads.get(key)
            if g is None or not np.any(g):
                self._no_gradient.add(key)
            self._grad_bands[key] = self._bands(key, g if g is not None else np.zeros_like(self._before[key]))

    def sample(self, step: int, epoch: int) -> HealthEvent:
        """After the update of a step that observe() saw -> the HealthEvent (arrays are copies)."""
        by_node = {}
        for node in self.weighted:
            key = f"{node.key}.weight"
            before, after = self._before[key], self.net.params[key]
            norm = float(np.linalg.norm(before))
            ratio = float(np.linalg.norm(after - before)) / norm if norm > 0 else math.inf
            self._ratios[node.key].append(ratio)
            if key in self._no_gradient:
                hint = "no gradient reaches its weights, so it does not learn (do the units after it never fire?)"
            else:
                hint = ratio_hint(float(np.median(self._ratios[node.key])))
            by_node[node.id] = LayerHealth(node.key, node.label, node.op.title, update_ratio=ratio,
                                           weight_bands=self._bands(key, after), grad_bands=self._grad_bands[key],
                                           hint=hint)
        for node in self.rectifiers:
            window = self._fired[node.key]
            fired = np.logical_or.reduce([f for f, _ in window])
            images = sum(n for _, n in window)
            share = 1.0 - float(fired.mean())
            hint = (f"{share:.0%} of its units never fired on the last {images:,} training images; "
                    "try a lower learning rate") if share >= DEAD_SHARE else None
            by_node[node.id] = LayerHealth(node.key, node.label, node.op.title, never_fired=share, images=images,
                                           hint=hint)
        self._before = {}
        layers = [by_node[i] for i in sorted(by_node)]
        for layer in layers:
            if layer.hint:
                layer.hint = f"block {layer.label} ({layer.title}): {layer.hint}"
        return HealthEvent(step, epoch, PERCENTILES, layers)

    def _bands(self, key: str, a: np.ndarray) -> np.ndarray:
        """PERCENTILES of a's values (of a fixed random subset of MAX_VALUES entries when larger)."""
        flat = a.reshape(-1)
        if flat.size > MAX_VALUES:
            if key not in self._subsets:
                self._subsets[key] = np.random.default_rng(0).choice(flat.size, MAX_VALUES, replace=False)
            flat = flat[self._subsets[key]]
        return np.percentile(flat, PERCENTILES)


# ---- the CSV table ----
BAND_NAMES = tuple(f"p{p:g}" for p in PERCENTILES)
COLUMNS = (("step", "epoch", "block", "key", "type", "update_ratio")
           + tuple(f"weight_{b}" for b in BAND_NAMES) + tuple(f"grad_{b}" for b in BAND_NAMES)
           + ("never_fired", "images", "hint"))


def health_rows(events) -> list[list]:
    """One row per HealthEvent per layer (without the header COLUMNS); a number a layer does not have
    is an empty cell."""
    rows = []
    for e in events:
        for layer in e.layers:
            blank = [""] * len(PERCENTILES)
            rows.append([e.step, e.epoch + 1, layer.label, layer.key, layer.title,
                         "" if layer.update_ratio is None else layer.update_ratio,
                         *(blank if layer.weight_bands is None else layer.weight_bands.tolist()),
                         *(blank if layer.grad_bands is None else layer.grad_bands.tolist()),
                         "" if layer.never_fired is None else layer.never_fired,
                         layer.images if layer.never_fired is not None else "", layer.hint or ""])
    return rows


def write_health(path, events) -> None:
    """Write the health table of events (HealthEvents in order) to path as CSV, atomically. epoch is
    counted from 1, as in the metrics table."""
    with atomic_write(path, text=True) as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(health_rows(events))
