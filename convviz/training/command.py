"""`convviz train`: train in the terminal with a progress bar per epoch and a summary line per epoch.

Exit status: 0 when training completed or reached --max-steps, 1 for bad input (nothing is written),
a diverged run or a file that could not be written, 130 when stopped with Ctrl-C (between two layers;
the checkpoint, the metrics and the health table are written if they were named). The run's states
are said with training.state's words.
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
from ..data.cifar import has_cifar10_files
from ..engine.files import WriteError, write_target
from ..model import infer
from ..model.presets import resolve_net
from .config import TrainConfig
from .events import DivergedEvent, EpochEvent, FinishedEvent, HealthEvent, StepEvent
from .fits import data_problem
from .health import write_health
from .metrics import write_metrics
from .state import RunState, describe, end_of_run
from .trainer import Trainer, TrainingError

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
    for flag in ("data", "init_weights", "save_weights", "checkpoint", "resume", "metrics", "health"):
        if getattr(args, flag):
            setattr(args, flag, str(Path(getattr(args, flag)).expanduser()))
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                         momentum=args.momentum, weight_decay=args.weight_decay, schedule=args.schedule,
                         augment=args.augment, val_split=args.val_split, seed=args.seed, max_steps=args.max_steps,
                         snapshot_rate=0)  # no views to feed in a terminal
    problems = config.problems()
    if args.resume and args.init_weights:
        problems.append("--resume and --init-weights cannot be used together: a checkpoint holds its own weights")
    if not args.health_rate > 0:
        problems.append(f"--health-rate must be above 0 samples per second, got {args.health_rate}")
    for flag, value in (("--save-weights", args.save_weights), ("--checkpoint", args.checkpoint),
                        ("--metrics", args.metrics), ("--health", args.health)):
        if not value:
            continue
        folder = Path(value).resolve().parent
        if not folder.is_dir():
            problems.append(f"{flag} {value}: the folder {folder} does not exist")
        elif Path(value).is_dir():
            example = {"--metrics": "metrics.csv", "--health": "health.csv"}.get(flag, "run.npz")
            problems.append(f"{flag} {value} is a folder: give a file name such as {Path(value) / example}")
        elif not os.access(folder, os.W_OK | os.X_OK):  # found now, not after the training
            problems.append(f"{flag} {value}: the folder {folder} is not writable")
        else:
            try:
                write_target(value)  # a named pipe, a device: refused now, not after the training
            except WriteError as e:
                problems.append(f"{flag} {value}: {e.strerror}")
    for flag, value in (("--init-weights", args.init_weights), ("--resume", args.resume)):
        if value and not Path(value).is_file():
            problems.append(f"{flag} {value}: no such file")
    if problems:
        raise UsageError("; ".join(problems))
    arch = resolve_net(args.net)
    cifar10 = not args.data or has_cifar10_files(Path(args.data))
    if not args.resume and cifar10 and (problem := data_problem(arch)):  # said before anything is loaded or built
        raise UsageError(f"{args.net}: {problem}")
    inference = infer(arch)
    if not inference.valid:
        lines = "\n".join(f"  - {p.message}" + (f" [{p.formula}]" if p.formula else "") for p in inference.errors)
        raise UsageError(f"{args.net} is not a valid network:\n{lines}\n(see `convviz summary {args.net}`)")
    data = _chosen_data(args.data, arch) if args.data else _find_data()
    if args.resume:
        trainer = Trainer.from_checkpoint(args.resume, data, arch)
        trainer.config.epochs, trainer.config.max_steps = args.epochs, args.max_steps
    else:
        trainer = Trainer(arch, data, config, init_weights=args.init_weights)
    if args.health:
        trainer.watch_health(args.health_rate)
    return trainer


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
    print(describe(RunState.LOADING, f"CIFAR-10 from {found.how}"), file=sys.stderr)
    return load_cifar10(found.path)


def run(trainer: Trainer, args) -> int:
    """Consume trainer.run() with a progress bar; Ctrl-C asks the trainer to stop (between layers).
    A checkpoint that cannot be written after an epoch is reported and training goes on; a diverged run
    writes no checkpoint at the end and saves the weights from before the divergence."""
    bar = ProgressBar(sys.stderr, trainer.config.epochs)
    stopping = threading.Event()

    def on_interrupt(signum, frame):
        if stopping.is_set():
            raise KeyboardInterrupt
        stopping.set()
        trainer.stop()
        bar.clear()
        print(describe(RunState.STOPPING, "now; a step cut short is not counted (Ctrl-C again to abort)"),
              file=sys.stderr)

    for warning in trainer.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_interrupt) if in_main_thread else None
    started = time.perf_counter()
    finished = diverged = None
    saved_at = tried_at = None  # the steps of the latest checkpoint written by this run, and of the latest try
    health: list[HealthEvent] = []
    try:
        for event in trainer.run():
            if isinstance(event, StepEvent):
                bar.update(event)
            elif isinstance(event, HealthEvent):
                health.append(event)
            elif isinstance(event, EpochEvent):
                bar.clear()
                print(epoch_line(event, trainer.config.epochs), flush=True)
                if args.checkpoint:
                    tried_at = trainer.step
                    if _write(lambda: trainer.save_checkpoint(args.checkpoint)):
                        saved_at = trainer.step
                if args.metrics:
                    _write(lambda: write_metrics(args.metrics, trainer.history, trainer.batches_per_epoch))
                if args.health:
                    _write(lambda: write_health(args.health, health))
            elif isinstance(event, DivergedEvent):  # the weights were put back, the momentum reset
                diverged = event
                bar.clear()
                print(event.message, file=sys.stderr)
            elif isinstance(event, FinishedEvent):
                finished = event
    except KeyboardInterrupt:
        bar.clear()
        print("Aborted in the middle of a step: nothing written.", file=sys.stderr)
        return 130
    except TrainingError as e:
        bar.clear()
        print(f"convviz train: error: {e}", file=sys.stderr)
        return 1
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)
        bar.clear()
    written = {"checkpoint": None, "weights": None, "metrics": None, "health": None}
    if args.checkpoint:
        if diverged is not None:
            kept = f"{args.checkpoint} keeps the one from step {saved_at}" if saved_at is not None else \
                "nothing was written to it"
            print(f"Checkpoint not written after the divergence: {kept}.", file=sys.stderr)
        elif saved_at == trainer.step or (tried_at != trainer.step and  # not twice for one step: it takes seconds
                                          _write(lambda: trainer.save_checkpoint(args.checkpoint))):
            written["checkpoint"] = args.checkpoint
            print(f"Checkpoint written to {args.checkpoint}", file=sys.stderr)
    if args.save_weights and _write(lambda: trainer.net.save_weights(args.save_weights)):
        written["weights"] = args.save_weights
        which = "Weights" if diverged is None else \
            f"The weights from step {diverged.good_step}, before the loss diverged," if diverged.good_step else \
            "The starting weights (the loss diverged from there)"
        print(f"{which} written to {args.save_weights}", file=sys.stderr)
    if args.metrics and _write(lambda: write_metrics(args.metrics, trainer.history, trainer.batches_per_epoch)):
        written["metrics"] = args.metrics
        print(f"Metrics written to {args.metrics}", file=sys.stderr)
    if args.health and _write(lambda: write_health(args.health, health)):
        written["health"] = args.health
        hints = health[-1].hints if health else []
        print(f"Health written to {args.health} ({len(health)} samples)" + "".join(f"\n  {h}" for h in hints),
              file=sys.stderr)
    seconds = time.perf_counter() - started
    state, detail = end_of_run(finished.reason, finished.steps, finished.epochs)
    print(f"{describe(state, detail)} ({seconds:.1f} s, {trainer.images_per_second:.0f} images/s)", file=sys.stderr)
    if args.json:
        h = trainer.history
        last = {k: (h[k][-1] if h["epoch"] else None) for k in
                ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy")}
        totals = trainer.epoch_totals
        if not h["epoch"] and totals["images"]:  # stopped within the first epoch: its figures so far
            last["train_loss"], last["train_accuracy"] = totals["loss"] / totals["images"], totals["correct"] / totals["images"]
        print(json.dumps({**last, "images_per_second": trainer.images_per_second, "epochs": finished.epochs,
                          "steps": finished.steps, "reason": finished.reason, "state": state.value, "seconds": seconds,
                          **written}))
    failed = (args.checkpoint and diverged is None and written["checkpoint"] is None) or \
        (args.save_weights and written["weights"] is None) or (args.metrics and written["metrics"] is None) or \
        (args.health and written["health"] is None)
    return 1 if failed else EXIT_STATUS[finished.reason]


def _write(save) -> bool:
    """Run save(); a file that cannot be written (full disk, no permission) is one line, not the end."""
    try:
        save()
    except OSError as e:
        print(f"convviz train: {e}", file=sys.stderr)
        return False
    return True


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


def check_command(args) -> int:
    """Run `convviz check` (cli._add_check): the three sanity checks, a line each (the gradient check's
    followed by its error per layer, indented) -> 0 when all pass, 1 when one fails or the input is
    unusable, 130 on Ctrl-C."""
    from ..engine import Network
    from .sanity import SanityChecks

    try:
        if args.data:
            args.data = str(Path(args.data).expanduser())
        if args.seed < 0:
            raise UsageError(f"--seed must be 0 or more, got {args.seed}")
        if args.weights and not Path(args.weights).expanduser().is_file():
            raise UsageError(f"--weights {args.weights}: no such file")
        arch = resolve_net(args.net)
        inference = infer(arch)
        if not inference.valid:
            raise UsageError(f"{args.net} is not a valid network: {inference.errors[0].message} "
                             f"(see `convviz summary {args.net}`)")
        data = _chosen_data(args.data, arch) if args.data else _find_data()
        checks = SanityChecks(arch, data, seed=args.seed)
        state = None
        if args.weights:
            net = Network(arch)
            net.load_weights(Path(args.weights).expanduser())
            state = net.state()
    except (ValueError, OSError) as e:
        print(f"convviz check: error: {e}", file=sys.stderr)
        return 1
    live = sys.stderr.isatty()

    def report(fraction: float, text: str) -> None:
        if live:
            sys.stderr.write(f"\r\033[K{fraction:4.0%} {text}")
            sys.stderr.flush()

    try:
        results = checks.run(state, report)
    except KeyboardInterrupt:
        print("\nStopped.", file=sys.stderr)
        return 130
    finally:
        if live:
            sys.stderr.write("\r\033[K")
    for result in results:
        print(result, flush=True)
        for label, title, error in result.layers:
            print(f"  block {label} ({title}): relative error {error:.1e}")
    if args.json:
        print(json.dumps({r.name: {"passed": r.passed, **r.numbers} for r in results}))
    return 0 if all(r.passed for r in results) else 1
