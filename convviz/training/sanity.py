"""Three sanity checks of a network on real data (the notes' "before you train"), each pass or fail with
its numbers; `convviz check` and the Train tab's Sanity checks button run them.

1. Initial loss: the untrained network (the engine's initialisation, PyTorch's defaults, from `seed`), in
   training mode on INITIAL_IMAGES training images, should lose about ln C (C classes: a uniform guess);
   it passes within INITIAL_TOLERANCE of it.
2. Overfit: from the untrained network, OVERFIT_IMAGES training images trained on as one batch with Adam
   (lr OVERFIT_LR, no weight decay, no augmentation) must reach 100% accuracy, judged in evaluation mode
   (no dropout, batchnorm's running statistics), within OVERFIT_STEPS steps.
3. Gradient check: backprop's gradient of the given weights (or the untrained network's) against centred
   differences (step GRAD_STEP) in a float64 copy, on GRAD_IMAGES training images, at GRAD_ENTRIES
   random entries of every parameter tensor. A layer's relative error is max |analytic - numeric| over
   its entries divided by the largest |gradient| among them (0 when all are exactly 0); it passes below
   GRAD_TOLERANCE. A ReLU or max pool whose input crosses its kink within the step spoils a difference
   (a first conv feeds some 10^5 of them), so an entry that disagrees is measured again with a step
   KINK_SHRINK times smaller, which crosses a kink that many times less often, and that figure counts;
   a wrong gradient disagrees at both steps. The copy runs in training mode, as a step
   differentiates it: batchnorm normalises with the batch's statistics (its running statistics change in
   the copy only), and dropout keeps one mask, the copy's generator being put back before every pass.

Images are a seeded random choice of the training set, normalised per channel with constants fitted on
the images of check 1. `stop()` (any thread) makes a running check raise convviz.engine.Interrupted.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..data import Normalizer
from ..engine import Network, make_optimizer
from .fits import data_problem

INITIAL_IMAGES, INITIAL_TOLERANCE, INITIAL_BATCH = 256, 0.10, 64
OVERFIT_IMAGES, OVERFIT_STEPS, OVERFIT_LR = 20, 200, 1e-3
GRAD_IMAGES, GRAD_ENTRIES, GRAD_STEP, GRAD_TOLERANCE, KINK_SHRINK = 4, 4, 1e-6, 1e-4, 10

Report = Callable[[float, str], None]  # (fraction of this check done, what it is doing)


@dataclass
class CheckResult:
    """name: "initial loss", "overfit" or "gradient check"; line: the numbers in one line (without the
    verdict); numbers: the same for JSON; layers: for the gradient check, (block label, type, relative
    error) per layer with parameters, in plan order."""

    name: str
    passed: bool
    line: str
    numbers: dict
    layers: list[tuple[str, str, float]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.name}: {'pass' if self.passed else 'FAIL'}  {self.line}"


class SanityChecks:
    """The checks of one architecture on one data set (a Cifar10 or an ImageFolder whose pictures fit
    its INPUT block). Raises ValueError when the network does not fit the data."""

    def __init__(self, arch, data, seed: int = 0):
        if problem := data_problem(arch, data):
            raise ValueError(problem)
        self.arch, self.data, self.seed = arch, data, seed
        n = len(data.train_labels)
        self.chosen = np.random.default_rng([seed, 7]).permutation(n)[:max(INITIAL_IMAGES, OVERFIT_IMAGES)]
        self.normalizer = Normalizer.fit(data.train_images, np.sort(self.chosen[:INITIAL_IMAGES]))
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def _images(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.chosen[:count]
        return self.normalizer.apply(self.data.train_images[idx]), self.data.train_labels[idx]

    def _network(self, dtype=np.float32) -> Network:
        net = Network(self.arch, seed=self.seed, dtype=dtype)
        net.interrupt = self._stop.is_set
        return net

    def run(self, state: dict | None = None, report: Report | None = None) -> list[CheckResult]:
        """All three, in order; report(fraction of all, text) as they go."""
        checks = (self.initial_loss, self.overfit, lambda r: self.gradient_check(state, r))
        results = []
        for i, check in enumerate(checks):
            part = (lambda f, text, i=i: report((i + f) / len(checks), text)) if report else None
            results.append(check(part))
        return results

    def initial_loss(self, report: Report | None = None) -> CheckResult:
        net = self._network()
        x, y = self._images(INITIAL_IMAGES)
        total = 0.0
        for start in range(0, len(y), INITIAL_BATCH):
            if report:
                report(start / len(y), "initial loss of the untrained network")
            batch = slice(start, start + INITIAL_BATCH)
            loss, _, _ = net.loss(net.run(x[batch], train=True, record=False).output, y[batch])
            total += loss * len(y[batch])
        loss, chance = total / len(y), math.log(net.classes)
        off = (loss - chance) / chance
        passed = bool(abs(off) <= INITIAL_TOLERANCE)
        return CheckResult("initial loss", passed,
                           f"{loss:.3f} against ln {net.classes} = {chance:.3f} ({off:+.1%}; within "
                           f"{INITIAL_TOLERANCE:.0%} passes) on {len(y)} training images, untrained, seed {self.seed}",
                           {"loss": loss, "chance": chance, "relative": off, "images": len(y)})

    def overfit(self, report: Report | None = None) -> CheckResult:
        net = self._network()
        x, y = self._images(OVERFIT_IMAGES)
        optimizer = make_optimizer("adam", net.params, lr=OVERFIT_LR)
        settings = f"Adam lr {OVERFIT_LR:g}, one batch of {len(y)}, no weight decay, no augmentation"
        accuracy, loss, steps = 0.0, math.nan, 0
        for steps in range(1, OVERFIT_STEPS + 1):
            if report:
                report(steps / OVERFIT_STEPS, f"overfitting {len(y)} images: step {steps}, accuracy {accuracy:.0%}")
            loss, grads, probs = net.backprop(x, y)
            optimizer.step(grads)
            if (probs.argmax(axis=1) == y).all() or steps % 10 == 0:
                accuracy = float((net.forward(x).argmax(axis=1) == y).mean())
                if accuracy == 1.0:
                    break
        passed = accuracy == 1.0
        line = (f"100% of {len(y)} images after {steps} steps (at most {OVERFIT_STEPS}; {settings})" if passed else
                f"{accuracy:.0%} of {len(y)} images after {OVERFIT_STEPS} steps, loss {loss:.3f} ({settings})")
        return CheckResult("overfit", passed, line, {"accuracy": accuracy, "steps": steps, "max_steps": OVERFIT_STEPS,
                                                     "images": len(y), "loss": float(loss), "optimizer": "adam",
                                                     "lr": OVERFIT_LR})

    def gradient_check(self, state: dict | None = None, report: Report | None = None) -> CheckResult:
        """state: weights keyed like Network.state() (the current run's), or None for the untrained network."""
        net = self._network(np.float64)
        if state is not None:
            net.set_state(state)
        x, y = self._images(GRAD_IMAGES)
        x = x.astype(np.float64)
        generator = net.rng.bit_generator.state

        def training_pass(record: bool = False):
            net.rng.bit_generator.state = generator  # the same dropout mask every time
            return net.run(x, train=True, record=record)

        def numeric(flat: np.ndarray, i: int, step: float) -> float:
            old = flat[i]
            flat[i] = old + step
            up = net.loss(training_pass().output, y)[0]
            flat[i] = old - step
            down = net.loss(training_pass().output, y)[0]
            flat[i] = old
            return (up - down) / (2 * step)

        p = training_pass(record=True)
        _, dlogits, _ = net.loss(p.output, y)
        analytic = net.backward(p, {net.plan.logits: dlogits}).params
        rng = np.random.default_rng([self.seed, 8])
        weighted = [n for n in net.nodes if any(k.startswith(f"{n.key}.") for k in net.params)]
        layers, remeasured = [], 0
        for done, node in enumerate(weighted):
            if report:
                report(done / len(weighted), f"gradient check: block {node.label} ({node.op.title})")
            worst_diff, scale = 0.0, 0.0
            for name in (k for k in net.params if k.rsplit(".", 1)[0] == node.key):
                a, flat = analytic.get(name, np.zeros_like(net.params[name])).reshape(-1), net.params[name].reshape(-1)
                for i in rng.choice(flat.size, min(GRAD_ENTRIES, flat.size), replace=False):
                    n = numeric(flat, i, GRAD_STEP)
                    if abs(a[i] - n) > GRAD_TOLERANCE / KINK_SHRINK * max(abs(a[i]), abs(n)):
                        n = numeric(flat, i, GRAD_STEP / KINK_SHRINK)
                        remeasured += 1
                    worst_diff = max(worst_diff, abs(a[i] - n))
                    scale = max(scale, abs(a[i]), abs(n))
            layers.append((node.label, node.op.title, float(worst_diff / scale) if scale > 0 else 0.0))
        worst = max(layers, key=lambda layer: layer[2])
        passed = worst[2] < GRAD_TOLERANCE
        which = "the current weights" if state is not None else "the untrained network"
        line = (f"largest relative error {worst[2]:.1e} (block {worst[0]}, {worst[1]}; below {GRAD_TOLERANCE:g} "
                f"passes) over {len(layers)} layers, {GRAD_ENTRIES} entries per parameter ({remeasured} measured "
                f"again at a smaller step), {len(y)} images, {which} in float64")
        return CheckResult("gradient check", passed, line,
                           {"worst": worst[2], "tolerance": GRAD_TOLERANCE, "images": len(y), "entries": GRAD_ENTRIES,
                            "remeasured": remeasured,
                            "layers": {label: error for label, _, error in layers}}, layers)
