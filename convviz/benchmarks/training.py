"""Training loop overhead: images/s of raw engine steps (backprop + optimiser step on ready float32
batches) beside the Trainer's loop (minibatch gathering, augmentation, normalisation, events, and
snapshots at the default 5 per second), measured in the same process, interleaved block by block.
Target: the loop at >= 95% of the raw steps. Synthetic images: only the speed matters here.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from ..data import Cifar10
from ..engine import Network, make_optimizer
from ..training import SnapshotEvent, TrainConfig, Trainer
from .engine import convnetjs_net

BATCH = 64


def synthetic_cifar(n_train: int, n_test: int, seed: int = 0) -> Cifar10:
    rng = np.random.default_rng(seed)
    return Cifar10(rng.integers(0, 256, (n_train, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n_train),
                   rng.integers(0, 256, (n_test, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n_test),
                   [f"class {k}" for k in range(10)], Path("synthetic"))


class RawSteps:
    """The engine alone: backprop + SGD step on pre-normalised batches, cycled."""

    def __init__(self, arch, trainer: Trainer):
        self.net = Network(arch, seed=1)
        self.optimizer = make_optimizer("sgd", self.net.params, lr=0.01, momentum=0.9, weight_decay=5e-4)
        idx = trainer.train_idx[: 8 * BATCH]
        x = trainer.normalizer.apply(trainer.data.train_images[idx])
        y = trainer.data.train_labels[idx]
        self.batches = [(x[k:k + BATCH], y[k:k + BATCH]) for k in range(0, len(idx), BATCH)]
        self.next = 0

    def run(self, steps: int) -> None:
        for _ in range(steps):
            x, y = self.batches[self.next % len(self.batches)]
            self.next += 1
            _, grads, _ = self.net.backprop(x, y)
            self.optimizer.step(grads)


def loop_steps(trainer: Trainer, steps: int) -> int:
    """Continue the trainer for `steps` steps, consuming every event; -> snapshots taken."""
    trainer.config.max_steps = trainer.step + steps
    return sum(isinstance(e, SnapshotEvent) for e in trainer.run())


def run(quick: bool = False) -> None:
    reps, steps = (5, 6) if quick else (15, 16)
    arch = convnetjs_net()
    data = synthetic_cifar(50 * BATCH, 100)
    trainers = {f"loop, augment {'on' if on else 'off'}": Trainer(arch, data, TrainConfig(augment=on, val_split=0))
                for on in (False, True)}
    raw = RawSteps(arch, next(iter(trainers.values())))
    sides = {"raw engine steps": raw.run, **{name: (lambda n, t=t: loop_steps(t, n)) for name, t in trainers.items()}}
    for fn in sides.values():  # warm up
        fn(1)
    rates = {name: [] for name in sides}
    snapshots = {name: 0 for name in trainers}
    for rep in range(reps):
        order = list(sides) if rep % 2 == 0 else list(reversed(sides))  # cancel drift within a rep
        for name in order:
            start = time.perf_counter()
            result = sides[name](steps)
            rates[name].append(steps * BATCH / (time.perf_counter() - start))
            if name in snapshots:
                snapshots[name] += result
    raw_rates = rates["raw engine steps"]
    print(f"training: ConvNetJS net, batch {BATCH}, images/s, median of {reps} interleaved blocks of {steps} steps")
    print(f"  {'raw engine steps':<22} {statistics.median(raw_rates):>8.0f}")
    for name in trainers:
        ratio = statistics.median(a / b for a, b in zip(rates[name], raw_rates))
        print(f"  {name:<22} {statistics.median(rates[name]):>8.0f}  {100 * ratio:5.1f}% of raw, median of the "
              f"per-block ratios (target >= 95%); {snapshots[name]} snapshots in {reps * steps} steps")
