"""Memory: model.memory's estimate beside the measured peak resident memory of a real training run, each
case in a fresh process (a few steps and an epoch's evaluation through Trainer, on synthetic images of
the network's input size). The estimate covers what training adds; the process and its data set are
measured before the trainer is built (the baseline) and added to both sides. Target: within 25%.
Also: building a network with a 65,536-unit fc layer, against the bytes of its weights.
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np

TARGET = 0.25
CASES = [("convnetjs", 64), ("vgg-cifar", 64), ("vgg-cifar", 256), ("resnet20", 64), ("vgg16", 4)]
QUICK_CASES = [("convnetjs", 64), ("vgg-cifar", 16)]


def resident_bytes() -> int:
    """This process's resident memory now (Linux /proc/self/statm)."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_bytes() -> int:
    """This process's peak resident memory so far (getrusage: kilobytes on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def wide_fc():
    """32x32x3 -> fc 65,536 -> fc 10 -> softmax: 201 million float32 weights (768 MiB) in its first layer."""
    from ..engine import Volume
    from ..model.spec import Architecture, LayerSpec

    return Architecture(Volume(32, 32, 3), [LayerSpec("fc", {"units": 65536}), LayerSpec("fc", {"units": 10}),
                                            LayerSpec("softmax")])


def measure(name: str, batch: int) -> dict:
    """In this (fresh) process: the baseline, then train `batch`-image steps of preset `name` (or build the
    wide fc network when batch is 0) -> figures in bytes."""
    from ..data import Cifar10
    from ..model.memory import estimate
    from ..model.presets import load_preset
    from ..training import TrainConfig, Trainer

    arch = wide_fc() if name == "wide-fc" else load_preset(name)
    w, h, d = arch.input
    rng = np.random.default_rng(0)
    n_train, n_test = 3 * max(batch, 1), max(batch, 1)
    data = Cifar10(rng.integers(0, 256, (n_train, d, h, w), dtype=np.uint8), rng.integers(0, arch.classes, n_train),
                   rng.integers(0, 256, (n_test, d, h, w), dtype=np.uint8), rng.integers(0, arch.classes, n_test),
                   [f"class {k}" for k in range(arch.classes)], Path("synthetic"))
    config = TrainConfig(epochs=1, batch_size=max(batch, 1), lr=0.01, augment=False, val_split=n_test,
                         snapshot_rate=0)
    baseline = resident_bytes()
    if name == "wide-fc":
        from ..engine import Network

        net = Network(arch)
        weights = sum(a.nbytes for a in net.params.values())
        return {"baseline": baseline, "peak": peak_bytes(), "estimate": weights, "weights": weights}
    before = peak_bytes()
    trainer = Trainer(arch, data, config)
    steps = sum(type(e).__name__ == "StepEvent" for e in trainer.run())
    return {"baseline": baseline, "peak": max(peak_bytes(), before), "steps": steps,
            "estimate": estimate(arch, batch, config.optimizer, config.momentum).total}


def run(quick: bool = False) -> None:
    from ..units import size_bytes
    from ..model.presets import preset_names

    cases = [c for c in (QUICK_CASES if quick else CASES) if c[0] in preset_names()]
    skipped = [c[0] for c in (QUICK_CASES if quick else CASES) if c[0] not in preset_names()]
    print(f"memory: estimate vs measured peak resident memory, one fresh process each (target: within "
          f"{TARGET:.0%})")
    print(f"  {'network':<10} {'batch':>5} {'baseline':>10} {'added, est.':>12} {'added, meas.':>13} "
          f"{'total, est.':>12} {'peak, meas.':>12} {'error':>7}")
    for name, batch in cases + ([("wide-fc", 0)] if not quick else []):
        done = subprocess.run([sys.executable, "-m", "convviz.benchmarks.memory", name, str(batch)],
                              capture_output=True, text=True)
        if done.returncode:
            why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit status {done.returncode}"
            print(f"  {name}: failed: {why}")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        added = r["peak"] - r["baseline"]
        total = r["baseline"] + r["estimate"]
        if name == "wide-fc":
            print(f"  building a 65,536-unit fc: weights {size_bytes(r['weights'])}, the build added "
                  f"{size_bytes(added)} ({added / r['weights']:.2f}x the weights)")
            continue
        error = total / r["peak"] - 1
        print(f"  {name:<10} {batch:>5} {size_bytes(r['baseline']):>10} {size_bytes(r['estimate']):>12} "
              f"{size_bytes(added):>13} {size_bytes(total):>12} {size_bytes(r['peak']):>12} {error:>+7.1%}"
              + ("" if abs(error) <= TARGET else "  MISSES the target"))
    for name in skipped:
        print(f"  {name}: no such preset yet, skipped")


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
