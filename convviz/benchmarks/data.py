"""Data speed: loading CIFAR-10, fitting the normaliser and one epoch of minibatches (shuffle,
crop + flip augmentation, normalisation to float32), next to an estimate of one training epoch of
the ConvNetJS net (one engine training step at batch 64, times the steps per epoch), all measured
in the same process. Uses the CIFAR-10 found by find_cifar10(), else the sample in
../shared/cifar10-sample; without --quick, a sample is also scaled to the official 50,000 + 10,000
images (training images tiled in memory; load time extrapolated per image)."""
from __future__ import annotations

import statistics
import time

import numpy as np

from ..data import Normalizer, augment, find_cifar10, load_cifar10, minibatches, split_validation
from ..engine import Network, make_optimizer
from ..paths import SAMPLE
from ..units import size_bytes
from .engine import convnetjs_net

BATCH = 64
VAL_SPLIT = 500
FULL_TRAIN, FULL_TEST = 50_000, 10_000


def _median_seconds(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _data_epoch(images: np.ndarray, train_idx: np.ndarray, norm: Normalizer, seed: int) -> int:
    """One epoch of training minibatches as the trainer prepares them -> the number of batches."""
    rng = np.random.default_rng(seed)
    steps = 0
    for idx in minibatches(train_idx, BATCH, rng):
        norm.apply(augment(images[idx], rng))
        steps += 1
    return steps


def _train_step_seconds(images: np.ndarray, labels: np.ndarray, reps: int) -> float:
    """Median seconds of one ConvNetJS training step (forward, backward, SGD) at batch BATCH."""
    net = Network(convnetjs_net(), seed=0)
    opt = make_optimizer("sgd", net.params, lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = Normalizer.fit(images).apply(images[:BATCH])
    y = labels[:BATCH]

    def step():
        _, grads = net.loss_and_gradients(x, y)
        opt.step(grads)

    step()  # warm up
    return _median_seconds(step, reps)


def _prepare_figures(images: np.ndarray, reps: int) -> tuple[float, float, int]:
    """(normaliser fit seconds, data epoch seconds, steps per epoch) for a training set of images."""
    train_idx, _ = split_validation(len(images), VAL_SPLIT, seed=0)
    fit = _median_seconds(lambda: Normalizer.fit(images, train_idx), reps)
    norm = Normalizer.fit(images, train_idx)
    steps = _data_epoch(images, train_idx, norm, seed=0)
    epoch = _median_seconds(lambda: _data_epoch(images, train_idx, norm, seed=1), reps)
    return fit, epoch, steps


def _report(title: str, load: float, fit: float, epoch: float, steps: int, step: float) -> None:
    train_epoch = step * steps
    rows = [("load (restricted unpickler + checks)", load),
            ("fit the normaliser on the training split", fit),
            (f"one epoch of minibatches: {steps} x {BATCH}, shuffle + crop/flip + normalise", epoch),
            (f"training epoch estimate: {steps} ConvNetJS steps x {step * 1e3:.1f} ms", train_epoch)]
    print(f"  {title}")
    for label, seconds in rows:
        print(f"    {label:<76} {seconds * 1e3:10.1f} ms")
    data_cost = load + fit + epoch
    print(f"    ratio (load + fit + data epoch) / training epoch = {data_cost / train_epoch:.4f} "
          f"({100 * data_cost / train_epoch:.2f}%); data epoch alone {100 * epoch / train_epoch:.2f}%")


def run(quick: bool = False) -> None:
    """Print load, normaliser and data-epoch times beside the estimated training epoch, and the ratio."""
    found = find_cifar10()
    folder = found.path if found else SAMPLE
    if found is None and not SAMPLE.is_dir():
        print("data: no CIFAR-10 found (run `convviz download`); nothing to measure")
        return
    reps = 3 if quick else 7
    load = _median_seconds(lambda: load_cifar10(folder), reps)
    data = load_cifar10(folder)
    n_train, n_test = len(data.train_images), len(data.test_images)
    step = _train_step_seconds(data.train_images, data.train_labels, reps=5 if quick else 15)
    print(f"data: {folder} ({found.how if found else 'the shared sample'}), median of {reps} reps; "
          f"one ConvNetJS training step at batch {BATCH}: {step * 1e3:.1f} ms")
    fit, epoch, steps = _prepare_figures(data.train_images, reps)
    _report(f"{n_train:,} training + {n_test:,} test images ({size_bytes(data.train_images.nbytes)} of uint8 "
            "training images)", load, fit, epoch, steps, step)
    if quick or n_train >= FULL_TRAIN:
        return
    full = np.resize(data.train_images, (FULL_TRAIN, *data.train_images.shape[1:]))
    full_load = load * (FULL_TRAIN + FULL_TEST) / (n_train + n_test)
    fit, epoch, steps = _prepare_figures(full, reps=3)
    _report(f"scaled to the full set: {FULL_TRAIN:,} + {FULL_TEST:,} images ({size_bytes(full.nbytes)}; "
            "load extrapolated per image, the rest measured on tiled images)", full_load, fit, epoch, steps, step)


if __name__ == "__main__":
    run()
