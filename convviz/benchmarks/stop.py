"""Stop latency: the time from Trainer.stop() (what Stop, closing the window and Ctrl-C call) to the end
of run(), with the stop asked at a random moment of a step. Side by side in one process: stopping
between two layers (Network.interrupt, what the trainer does) and only between steps (interrupt off,
as before). Target: within half a second. Synthetic images of the network's input size.
"""
from __future__ import annotations

import random
import statistics
import threading
import time
from pathlib import Path

import numpy as np

TARGET = 0.5
CASES = [("convnetjs", 64), ("vgg-cifar", 128), ("vgg16", 8)]
QUICK_CASES = [("convnetjs", 64), ("vgg-cifar", 64)]


def _trainer(name: str, batch: int):
    from ..data import Cifar10
    from ..model.presets import load_preset
    from ..training import TrainConfig, Trainer

    arch = load_preset(name)
    w, h, d = arch.input
    rng = np.random.default_rng(0)
    n = 4 * batch
    data = Cifar10(rng.integers(0, 256, (n, d, h, w), dtype=np.uint8), rng.integers(0, arch.classes, n),
                   rng.integers(0, 256, (batch, d, h, w), dtype=np.uint8), rng.integers(0, arch.classes, batch),
                   [f"class {k}" for k in range(arch.classes)], Path("synthetic"))
    return Trainer(arch, data, TrainConfig(epochs=10**6, batch_size=batch, lr=1e-3, augment=False, val_split=0,
                                           evaluate_test=False, snapshot_rate=0))


def _stop_once(trainer, step_seconds: float, rng: random.Random) -> float:
    """Run, stop at a random moment of a step (after the first step of this run) -> seconds until run() ended."""
    first = threading.Event()
    ended = threading.Event()

    def consume():
        for event in trainer.run():
            if type(event).__name__ == "StepEvent":
                first.set()
        ended.set()

    thread = threading.Thread(target=consume)
    thread.start()
    first.wait()
    time.sleep(rng.uniform(0, step_seconds))
    asked = time.perf_counter()
    trainer.stop()
    ended.wait()
    seconds = time.perf_counter() - asked
    thread.join()
    return seconds


def run(quick: bool = False) -> None:
    from ..model.presets import preset_names

    stops = 3 if quick else 6
    rng = random.Random(0)
    print(f"stop: seconds from Trainer.stop() to the end of run(), asked at a random moment of a step "
          f"({stops} stops each; target {TARGET:g} s)")
    print(f"  {'network':<10} {'batch':>5} {'step':>8} {'between layers: median':>23} {'max':>7} "
          f"{'between steps: median':>22} {'max':>7}")
    for name, batch in QUICK_CASES if quick else CASES:
        if name not in preset_names():
            continue
        trainer = _trainer(name, batch)
        trainer.config.max_steps = 2
        start = time.perf_counter()
        list(trainer.run())  # warm up, and time a step
        step = (time.perf_counter() - start) / 2
        trainer.config.max_steps = None
        figures = {}
        for mode in ("layers", "steps"):
            trainer.net.interrupt = trainer._stop_asked if mode == "layers" else None
            figures[mode] = [_stop_once(trainer, step, rng) for _ in range(stops)]
        trainer.net.interrupt = trainer._stop_asked
        layers, steps = figures["layers"], figures["steps"]
        verdict = "" if max(layers) <= TARGET else "  MISSES the target"
        print(f"  {name:<10} {batch:>5} {step:>7.2f}s {statistics.median(layers):>22.3f}s {max(layers):>6.3f}s "
              f"{statistics.median(steps):>21.3f}s {max(steps):>6.3f}s{verdict}")
