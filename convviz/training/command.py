"""`convviz train`: train in the terminal with a progress bar per epoch and a summary line per epoch.

Exit status: 0 when training completed or reached --max-steps, 1 for bad input (nothing is written)
or a diverged run, 130 when stopped with Ctrl-C (after the current step; the checkpoint is written
if one was named).
"""
from __future__ import annotations

import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

from ..data import ImageFolder, find_cifar10, load_cifar10, load_data, searched_locations
from ..model import infer
from ..model.presets import resolve_net
from .config import TrainConfig
from .events import DivergedEvent, EpochEvent, FinishedEvent, StepEvent
from .trainer import Trainer

EXIT_STATUS = {"completed": 0, "max_steps": 0, "stopped": 130, "diverged": 1}
BAR_WIDTH = 24
REDRAWS_PER_SECOND = 10.0


class UsageError(ValueError):
    """A flag, file or folder given to `convviz train` that cannot be used."""


def train_command(args) -> int:
    """Run `convviz train` for the argparse namespace of cli._add_train -> exit status."""
    try:
        trainer = prepare(args)
    except (ValueError, OSError) as e:
        print(f"convviz train: error: {e}", file=sys.stderr)
        return 1
    return run(trainer, args)


def prepare(args) -> Trainer:
    """Check every flag, load the architecture and the data and build the trainer; writes nothing.
    Raises ValueError (or a subclass) with a message for the user. Expands ~ in the path flags."""
    for flag in ("data", "init_weights", "save_weights", "checkpoint", "resume"):
        if getattr(args, flag):
            setattr(args, flag, str(Path(getattr(args, flag)).expanduser()))
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                         momentum=args.momentum, weight_decay=args.weight_decay, schedule=args.schedule,
                         augment=args.augment, val_split=args.val_split, seed=args.seed, max_steps=args.max_steps,
                         snapshot_rate=0)  # no views to feed in a terminal
    problems = config.problems()
    if args.resume and args.init_weights:
        problems.append("--resume and --init-weights cannot be used together: a checkpoint holds its own weights")
    for flag, value in (("--save-weights", args.save_weights), ("--checkpoint", args.checkpoint)):
        if not value:
            continue
        folder = Path(value).resolve().parent
        if not folder.is_dir():
            problems.append(f"{flag} {value}: the folder {folder} does not exist")
        elif Path(value).is_dir():
            problems.append(f"{flag} {value} is a folder: give a file name such as {Path(value) / 'run.npz'}")
        elif not os.access(folder, os.W_OK | os.X_OK):  # found now, not after the training
            problems.append(f"{flag} {value}: the folder {folder} is not writable")
    for flag, value in (("--init-weights", args.init_weights), ("--resume", args.resume)):
        if value and not Path(value).is_file():
            problems.append(f"{flag} {value}: no such file")
    if problems:
        raise UsageError("; ".join(problems))
    arch = resolve_net(args.net)
    inference = infer(arch)
    if not inference.valid:
        lines = "\n".join(f"  - {p.message}" + (f" [{p.formula}]" if p.formula else "") for p in inference.errors)
        raise UsageError(f"{args.net} is not a valid network:\n{lines}\n(see `convviz summary {args.net}`)")
    data = _chosen_data(args.data, arch) if args.data else _find_data()
    if args.resume:
        trainer = Trainer.from_checkpoint(args.resume, data, arch)
        trainer.config.epochs, trainer.config.max_steps = args.epochs, args.max_steps
        return trainer
    return Trainer(arch, data, config, init_weights=args.init_weights)


def _chosen_data(folder: str, arch):
    """CIFAR-10 or an image folder (its pictures fitted to the INPUT block), saying which on stderr."""
    data = load_data(folder, arch.input)
    if isinstance(data, ImageFolder):
        print(data.summary(), file=sys.stderr)
    return data


def _find_data():
    found = find_cifar10()
    if found is None:
        places = "\n".join(f"  - {how}: {path}" for how, path in searched_locations())
        raise UsageError(f"CIFAR-10 was not found. Looked in:\n{places}\n"
                         "Download it with `convviz download`, or give its folder with --data DIR.")
    print(f"CIFAR-10 from {found.how}", file=sys.stderr)
    return load_cifar10(found.path)


def run(trainer: Trainer, args) -> int:
    """Consume trainer.run() with a progress bar; Ctrl-C asks the trainer to stop after the step."""
    bar = ProgressBar(sys.stderr, trainer.config.epochs)
    stopping = threading.Event()

    def on_interrupt(signum, frame):
        if stopping.is_set():
            raise KeyboardInterrupt
        stopping.set()
        trainer.stop()
        bar.clear()
        print("Stopping after the current step (Ctrl-C again to abort)...", file=sys.stderr)

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_interrupt) if in_main_thread else None
    started = time.perf_counter()
    finished = None
    changed = True  # since the checkpoint was last written (an epoch's end writes it)
    try:
        for event in trainer.run():
            if isinstance(event, StepEvent):
                bar.update(event)
                changed = True
            elif isinstance(event, EpochEvent):
                bar.clear()
                print(epoch_line(event, trainer.config.epochs), flush=True)
                if args.checkpoint:
                    trainer.save_checkpoint(args.checkpoint)
                    changed = False
            elif isinstance(event, DivergedEvent):  # the weights were put back, the momentum reset
                changed = True
                bar.clear()
                print(f"Diverged at step {event.step}: {event.message}", file=sys.stderr)
            elif isinstance(event, FinishedEvent):
                finished = event
    except KeyboardInterrupt:
        bar.clear()
        print("Aborted in the middle of a step: nothing written.", file=sys.stderr)
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)
        bar.clear()
    if args.checkpoint:
        if changed:  # not again when the run ended with an epoch (a large network's checkpoint takes seconds)
            trainer.save_checkpoint(args.checkpoint)
        print(f"Checkpoint written to {args.checkpoint}", file=sys.stderr)
    if args.save_weights:
        trainer.net.save_weights(args.save_weights)
        print(f"Weights written to {args.save_weights}", file=sys.stderr)
    seconds = time.perf_counter() - started
    print(f"{finished.reason.replace('_', ' ')}: {finished.steps} steps, {finished.epochs} epochs, "
          f"{seconds:.1f} s, {trainer.images_per_second:.0f} images/s", file=sys.stderr)
    if args.json:
        h = trainer.history
        last = {k: (h[k][-1] if h["epoch"] else None) for k in
                ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy")}
        totals = trainer.epoch_totals
        if not h["epoch"] and totals["images"]:  # stopped within the first epoch: its figures so far
            last["train_loss"], last["train_accuracy"] = totals["loss"] / totals["images"], totals["correct"] / totals["images"]
        print(json.dumps({**last, "images_per_second": trainer.images_per_second, "epochs": finished.epochs,
                          "steps": finished.steps, "reason": finished.reason, "seconds": seconds,
                          "checkpoint": args.checkpoint, "weights": args.save_weights}))
    return EXIT_STATUS[finished.reason]


def epoch_line(e: EpochEvent, epochs: int) -> str:
    """One line per epoch: train, validation and test figures and the time."""
    parts = [f"epoch {e.epoch + 1}/{epochs}", f"train loss {e.train_loss:.4f} acc {100 * e.train_accuracy:.1f}%"]
    if e.val_accuracy is not None:
        parts.append(f"val loss {e.val_loss:.4f} acc {100 * e.val_accuracy:.1f}%")
    if e.test_accuracy is not None:
        parts.append(f"test loss {e.test_loss:.4f} acc {100 * e.test_accuracy:.1f}%")
    parts.append(f"{e.seconds:.1f} s")
    return " | ".join(parts)


class ProgressBar:
    """A one-line bar redrawn in place on an interactive stream (silent otherwise, so logs stay clean)."""

    def __init__(self, stream, epochs: int):
        self.stream, self.epochs = stream, epochs
        self.interactive = hasattr(stream, "isatty") and stream.isatty()
        self.last_draw = -math.inf
        self.shown = False

    def update(self, e: StepEvent) -> None:
        now = time.monotonic()
        last_of_epoch = e.batch_index + 1 == e.batches_per_epoch
        if not self.interactive or (now - self.last_draw < 1 / REDRAWS_PER_SECOND and not last_of_epoch):
            return
        self.last_draw = now
        self.stream.write("\r" + bar_text(e, self.epochs))
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False


def bar_text(e: StepEvent, epochs: int, width: int = BAR_WIDTH) -> str:
    done = e.batch_index + 1
    filled = width * done // e.batches_per_epoch
    return (f"epoch {e.epoch + 1}/{epochs} [{'#' * filled}{'.' * (width - filled)}] {done}/{e.batches_per_epoch} "
            f"loss {e.loss:.4f} acc {100 * e.accuracy:5.1f}% lr {e.lr:.3g} {e.images_per_second:.0f} img/s")
