"""Acceptance check: ConvViz's trainer against PyTorch trained the same way on the same data.

    python -m convviz.benchmarks.torch_compare [--data DIR] [--net convnetjs] [--epochs 10] [--augment] [--seeds 0 1 2]

Both sides start from the same initial weights and see the same training/validation split, the same
normalisation, the same minibatch order and (with --augment) the same crops and flips: the
PyTorch side replays the minibatches the ConvViz trainer drew. SGD with momentum and L2 weight decay
on conv and fc weights (the engine's rule: not on biases). Prints each epoch's test accuracy side by
side and the time each took, for each seed, then the mean final accuracies over the seeds. Needs
torch (CPU); never a dependency of the app.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from ..data import load_cifar10
from ..engine.optim import decays
from ..model.presets import resolve_net
from ..training import EpochEvent, TrainConfig, Trainer
from .data import SAMPLE
from ..export.torch import logits as torch_logits
from ..export.torch import torch_module
from .engine import TORCH_THREADS


class RecordingTrainer(Trainer):
    """A Trainer that also keeps every minibatch it trained on (uint8 images, labels) per epoch."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches: list[list[tuple[np.ndarray, np.ndarray]]] = []

    def _next_batch(self):
        images, x, y = super()._next_batch()
        if self.batch_index == 0:
            self.batches.append([])
        self.batches[-1].append((images, y))
        return images, x, y


def train_torch(trainer: RecordingTrainer, initial_state: dict, config: TrainConfig) -> tuple[list[float], list[float]]:
    """Train the PyTorch mirror of trainer.arch on trainer's recorded minibatches.
    -> (test accuracy after each epoch, seconds of each epoch)."""
    import torch

    torch.set_num_threads(TORCH_THREADS)
    model = torch_module(trainer.arch)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in initial_state.items()})
    named = dict(model.named_parameters())
    groups = [{"params": [p for k, p in named.items() if decays(k, initial_state)], "weight_decay": config.weight_decay},
              {"params": [p for k, p in named.items() if not decays(k, initial_state)], "weight_decay": 0.0}]
    optimizer = torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    normalize = trainer.normalizer.apply
    test_x = torch.from_numpy(normalize(trainer.data.test_images))
    test_y = trainer.data.test_labels
    accuracies, seconds = [], []
    for epoch_batches in trainer.batches:
        started = time.perf_counter()
        model.train()
        for images, labels in epoch_batches:
            optimizer.zero_grad()
            loss = loss_fn(torch_logits(model, torch.from_numpy(normalize(images))), torch.from_numpy(labels))
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            predicted = torch_logits(model, test_x).argmax(dim=1).numpy()
        accuracies.append(float((predicted == test_y).mean()))
        seconds.append(time.perf_counter() - started)
    return accuracies, seconds


def compare(args, data, seed: int) -> tuple[float, float]:
    """Train both sides with one seed, print the epochs side by side -> (ConvViz, PyTorch) final test accuracy."""
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
                         weight_decay=args.weight_decay, augment=args.augment, seed=seed, snapshot_rate=0)
    trainer = RecordingTrainer(resolve_net(args.net), data, config)
    initial_state = {k: a.copy() for k, a in trainer.net.state().items()}
    print(f"\n{args.net} on {len(trainer.train_idx)} training / {len(trainer.val_idx)} validation / "
          f"{len(data.test_labels)} test images: SGD lr {config.lr} momentum {config.momentum}, L2 {config.weight_decay}, "
          f"batch {config.batch_size}, augmentation {'on' if config.augment else 'off'}, seed {seed}")
    ours, our_seconds = [], []
    started = time.perf_counter()
    for event in trainer.run():
        if isinstance(event, EpochEvent):
            ours.append(event.test_accuracy)
            our_seconds.append(event.seconds)
    convviz_total = time.perf_counter() - started
    started = time.perf_counter()
    theirs, their_seconds = train_torch(trainer, initial_state, config)
    torch_total = time.perf_counter() - started
    print(f"{'epoch':>5} {'ConvViz test acc':>17} {'PyTorch test acc':>17} {'diff':>7} {'ConvViz s':>10} {'PyTorch s':>10}")
    for k, (a, b) in enumerate(zip(ours, theirs)):
        print(f"{k + 1:>5} {100 * a:>16.1f}% {100 * b:>16.1f}% {100 * (a - b):>+6.1f} {our_seconds[k]:>10.1f} {their_seconds[k]:>10.1f}")
    print(f"final: ConvViz {100 * ours[-1]:.1f}% in {convviz_total:.0f} s, PyTorch {100 * theirs[-1]:.1f}% in "
          f"{torch_total:.0f} s: {abs(100 * (ours[-1] - theirs[-1])):.1f} points apart")
    return ours[-1], theirs[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convviz.benchmarks.torch_compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(SAMPLE), help="folder holding CIFAR-10 (default: %(default)s)")
    parser.add_argument("--net", default="convnetjs", help="preset name or architecture JSON")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="one run per seed: a single final accuracy on ~1,000 test images moves by a few points")
    args = parser.parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch is not installed: this comparison needs PyTorch (CPU).", file=sys.stderr)
        return 1
    data = load_cifar10(args.data)
    finals = [compare(args, data, seed) for seed in args.seeds]
    ours, theirs = (100 * np.mean([f[k] for f in finals]) for k in (0, 1))
    print(f"\nmean final test accuracy over seeds {args.seeds}: ConvViz {ours:.1f}%, PyTorch {theirs:.1f}%: "
          f"{abs(ours - theirs):.1f} points apart")
    return 0


if __name__ == "__main__":
    sys.exit(main())
