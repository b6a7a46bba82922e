"""The training loop as a generator of events, steered from another thread.

`Trainer.run()` yields a StepEvent after every optimiser step, a SnapshotEvent at most
`config.snapshot_rate` times a second (wall time; watch_snapshots() changes it), an EpochEvent after
each epoch's evaluation, a HealthEvent at most as often as watch_health() asked (after the step it
measured), a DivergedEvent if the loss leaves its normal range (see LossRange), and a FinishedEvent
last. Between steps it honours pause(), resume(), set_hyper(), set_probe(), watch_snapshots() and
watch_health(), which any thread may call;
stop() also takes effect between two layers of a long step (Network.interrupt), which is then
dropped as if it had never begun.

All randomness comes from generators that a checkpoint stores (shuffling, augmentation, and the
network's dropout generator), together with the epoch's order and the position in it, so a resumed
run continues bit for bit as if it had never stopped.
"""
from __future__ import annotations

import math
import os
import statistics
import threading
import time
from collections import deque

import numpy as np

from ..data import Cifar10, ImageFolder, Normalizer, augment, split_validation
from ..data.images import fit_array
from ..engine import Interrupted, Network, make_optimizer
from ..model.memory import memory_problem
from ..model.spec import Architecture
from . import checkpoint
from .checkpoint import CheckpointError
from .config import TrainConfig, hyper_problem, lr_factor
from .events import DivergedEvent, EpochEvent, FinishedEvent, HealthEvent, SnapshotEvent, StepEvent
from .fits import batch_warnings, data_problem
from .health import HealthMonitor

EVAL_BATCH = 128  # images per evaluation pass at most (never more than the training batch: see evaluate)
SPEED_WINDOW = 20  # steps averaged for the images/s of a StepEvent
LOSS_WINDOW = 50  # the latest normal losses whose median sets the normal range ...
LOSS_JUMP = 4.0  # ... a loss above this many times that median ...
CHANCE_MULTIPLE = 3.0  # ... and above this many times ln(classes), a uniform guess's loss, has diverged


class TrainingError(ValueError):
    """A step that could not run (the engine refused its input); nothing was changed by it."""


class LossRange:
    """The normal range of the training loss. A loss leaves it when it is not finite, or when it is both
    above CHANCE_MULTIPLE x ln(classes) (far worse than guessing) and above LOSS_JUMP x the median of the
    latest LOSS_WINDOW normal losses (a jump, not the noise of one minibatch: late in training a batch can
    cost several times the median, but not both). The first loss of a run is judged by finiteness alone."""

    def __init__(self, classes: int, recent=()):
        self.chance = math.log(classes)
        self.recent = deque((x for x in recent if math.isfinite(x)), maxlen=LOSS_WINDOW)

    def problem(self, loss: float) -> str | None:
        """Why loss is outside the normal range, as the end of a sentence starting "the loss", or None."""
        if not math.isfinite(loss):
            return f"became {loss} (not a finite number)"
        if not self.recent:
            return None
        median = statistics.median(self.recent)
        if loss > CHANCE_MULTIPLE * self.chance and loss > LOSS_JUMP * median:
            return (f"jumped to {loss:.4g}, out of its normal range: above {LOSS_JUMP:g} times its recent median "
                    f"({median:.3g}) and {CHANCE_MULTIPLE:g} times the loss of a uniform guess ({self.chance:.3g})")
        return None

    def add(self, loss: float) -> None:
        self.recent.append(loss)


class Trainer:
    """Trains one network on CIFAR-10 or an image folder (data.train_images minus a validation split).

    init_weights: a weights .npz path or a dict of arrays keyed like Network.state(), or None for
    the engine's seeded initialisation. normalizer: the constants to use (a checkpoint's), or None to
    fit them on the training split. Raises ValueError for unusable settings and
    convviz.engine.WeightsError for weights that do not fit.

    history holds the curves as lists: per step "step", "loss", "accuracy", "lr"; per epoch "epoch",
    "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy" (None
    where not evaluated) and "epoch_seconds". step, epoch (completed) and batch_index say where
    training stands; normalizer is the one fitted on the training split (or given).
    """

    def __init__(self, arch: Architecture, data: Cifar10 | ImageFolder, config: TrainConfig | None = None,
                 init_weights=None, normalizer: Normalizer | None = None):
        self.config = config = config or TrainConfig()
        problems = config.problems()
        if fit := data_problem(arch, data):
            problems.append(fit)
        n_train = len(data.train_labels)
        if config.val_split >= n_train:
            problems.append(f"a validation split of {config.val_split} images leaves none of the "
                            f"{n_train} training images to train on: use a smaller --val-split")
        memory_warning = None
        if not problems:
            try:
                refusal, memory_warning = memory_problem(arch, config.batch_size, config.optimizer, config.momentum)
            except ValueError:  # an architecture that cannot run: Network says why, below
                refusal = None
            if refusal:
                problems.append(refusal)
        if problems:
            raise ValueError("; ".join(problems))
        self.arch = arch
        self.data = data
        self.label_names = list(data.label_names)
        self.net = Network(arch, seed=config.seed)
        self.net.interrupt = self._stop_asked  # a stop cuts a long step short between two layers
        if isinstance(init_weights, (str, os.PathLike)):
            self.net.load_weights(init_weights)
        elif init_weights is not None:
            self.net.set_state(dict(init_weights))
        self.train_idx, self.val_idx = split_validation(n_train, config.val_split, config.seed)
        self.normalizer = normalizer if normalizer is not None else Normalizer.fit(data.train_images, self.train_idx)
        hyper = {"weight_decay": config.weight_decay}
        if config.lr is not None:
            hyper["lr"] = config.lr
        if config.optimizer == "sgd":
            hyper["momentum"] = config.momentum
        self.optimizer = make_optimizer(config.optimizer, self.net.params, **hyper)
        self.base_lr = float(self.optimizer.lr)
        self.shuffle_rng = np.random.default_rng([config.seed, 2])
        self.augment_rng = np.random.default_rng([config.seed, 3])
        # where training stands: steps and epochs done, the current epoch's order and next batch
        self.step = 0
        self.epoch = 0
        self.batch_index = 0
        self.order: np.ndarray | None = None
        self.epoch_totals = {"loss": 0.0, "correct": 0, "images": 0, "seconds": 0.0}
        self.history: dict[str, list] = {k: [] for k in (
            "step", "loss", "accuracy", "lr",
            "epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
            "epoch_seconds")}
        self.images_per_second = 0.0  # average over the steps of the latest run()
        self.warnings = batch_warnings(arch, config.batch_size, len(self.train_idx))
        if memory_warning:
            self.warnings.append(memory_warning)
        self._loss_range = LossRange(self.net.classes)
        self._good_state = {k: a.copy() for k, a in self.net.state().items()}
        self.good_step = 0  # the weights in _good_state are those after this many steps
        self._wake = threading.Condition()
        self._paused = False
        self._stop = False
        self._pending_hyper: dict[str, float] = {}
        self._probe: int | np.ndarray | None = None
        self._health: HealthMonitor | None = None
        self._health_event: HealthEvent | None = None  # measured by the latest step, not yet yielded
        self._last_snapshot = -math.inf  # time.perf_counter() of the latest step that took a snapshot
        self._snapshot_probe = True  # whether snapshots pass the probe through the network (watch_snapshots)

    # ---- controls (any thread) ----
    def pause(self) -> None:
        with self._wake:
            self._paused = True

    def resume(self) -> None:
        with self._wake:
            self._paused = False
            self._wake.notify_all()

    def stop(self) -> None:
        """Finish as soon as possible (also while paused): between steps, or between two layers of a
        step, which is then dropped (weights, statistics and random generators as before it). Kept until
        run() ends, so a stop asked before run() starts is honoured at once."""
        with self._wake:
            self._stop = True
            self._wake.notify_all()

    def _stop_asked(self) -> bool:
        return self._stop

    @property
    def paused(self) -> bool:
        return self._paused

    def set_hyper(self, lr: float | None = None, momentum: float | None = None,
                  weight_decay: float | None = None) -> None:
        """Change hyperparameters from the next step on. lr is the base rate the schedule multiplies;
        momentum applies to SGD only."""
        changes = {name: value for name, value in (("lr", lr), ("momentum", momentum),
                                                   ("weight_decay", weight_decay)) if value is not None}
        for name, value in changes.items():
            if problem := hyper_problem(name, value):
                raise ValueError(problem)
            changes[name] = float(value)
        with self._wake:
            self._pending_hyper.update(changes)

    def set_probe(self, probe: int | np.ndarray | None) -> None:
        """Show in snapshots test image `probe` (an index), a picture of the user's (uint8 (C, H, W), C 1
        or 3, any size: fitted to the INPUT volume here), or None: the first image of the latest training batch."""
        n = len(self.data.test_labels)
        if isinstance(probe, np.ndarray):
            probe = fit_array(probe, self.arch.input)
        elif probe is not None and not 0 <= probe < n:
            raise ValueError(f"probe image {probe} is not in the test set (0 to {n - 1})")
        with self._wake:
            self._probe = probe

    def watch_snapshots(self, rate: float, probe: bool = True) -> None:
        """Yield a SnapshotEvent at most rate times a second (0: none; config.snapshot_rate keeps it), the
        first after the next step (a view that was hidden shows the probe as it is now). probe=False:
        the filters only, without the probe's pass through the network (ResNet-20: 22 ms of the
        training thread each)."""
        if not rate >= 0:
            raise ValueError(f"snapshots must be 0 or more per second, got {rate}")
        with self._wake:
            self.config.snapshot_rate = float(rate)
            self._snapshot_probe = probe
            self._last_snapshot = -math.inf

    def watch_health(self, rate: float) -> None:
        """Yield a HealthEvent (training.health) at most rate times a second (inf: after every step; 0: none),
        from the next step on."""
        if not rate >= 0:
            raise ValueError(f"health samples must be 0 or more per second, got {rate}")
        self._health = HealthMonitor(self.net, rate) if rate > 0 else None

    # ---- the loop ----
    @property
    def batches_per_epoch(self) -> int:
        return -(-len(self.train_idx) // self.config.batch_size)

    def run(self):
        """Generator of events, to be consumed in one (worker) thread; see the module docstring.
        It may be called again after it finished, to continue (e.g. with more epochs)."""
        cfg = self.config
        recent = deque(maxlen=SPEED_WINDOW)  # (images, seconds) of the latest steps
        run_images, run_seconds = 0, 0.0
        try:
            while True:
                if self.order is not None and self.batch_index >= self.batches_per_epoch:
                    try:
                        epoch_event = self._finish_epoch()
                    except Interrupted:  # evaluated again when the run continues
                        reason = "stopped"
                        break
                    yield epoch_event
                    continue
                if self.epoch >= cfg.epochs:
                    reason = "completed"
                    break
                if cfg.max_steps is not None and self.step >= cfg.max_steps:
                    reason = "max_steps"
                    break
                if not self._wait_while_paused():
                    reason = "stopped"
                    break
                if self.order is None:
                    self.order = self.shuffle_rng.permutation(self.train_idx)
                    self.epoch_totals = {"loss": 0.0, "correct": 0, "images": 0, "seconds": 0.0}
                started = time.perf_counter()
                try:
                    outcome = self._train_step()
                except Interrupted:
                    reason = "stopped"
                    break
                if isinstance(outcome, DivergedEvent):
                    yield outcome
                    reason = "diverged"
                    break
                event, images, labels = outcome
                snapshot = None
                with self._wake:  # watch_snapshots() may change both from another thread
                    snapshot_due = cfg.snapshot_rate > 0 and started - self._last_snapshot >= 1.0 / cfg.snapshot_rate
                    if snapshot_due:
                        self._last_snapshot = started
                    probe = self._snapshot_probe
                if snapshot_due:
                    try:
                        snapshot = self._snapshot(images[0], int(labels[0])) if probe else self._filters_snapshot()
                    except Interrupted:
                        pass  # the stop ends the run at the top of the loop
                seconds = time.perf_counter() - started
                self.epoch_totals["seconds"] += seconds
                recent.append((len(labels), seconds))
                run_images += len(labels)
                run_seconds += seconds
                self.images_per_second = run_images / run_seconds
                event.images_per_second = sum(n for n, _ in recent) / sum(s for _, s in recent)
                yield event
                if snapshot is not None:
                    yield snapshot
                if self._health_event is not None:
                    health, self._health_event = self._health_event, None
                    yield health
            yield FinishedEvent(reason, self.step, self.epoch)
        finally:
            with self._wake:
                self._stop = False

    def _wait_while_paused(self) -> bool:
        """Block while paused (no busy waiting); False once stop() was asked."""
        with self._wake:
            while self._paused and not self._stop:
                self._wake.wait()
            return not self._stop

    def _train_step(self):
        """One optimiser step on the next minibatch -> (StepEvent without its speed, uint8 images
        (n, D, H, W), labels (n,)), or a DivergedEvent after putting the last good weights back.
        Interrupted (a stop between layers) leaves everything as before the step; TrainingError when
        the engine refuses the batch."""
        self._apply_pending_hyper()
        monitor = self._health  # read once: watch_health() may replace it from another thread
        health = monitor if monitor is not None and monitor.due() else None
        generators = [self.augment_rng.bit_generator.state, self.net.rng.bit_generator.state]
        buffers = {k: a.copy() for k, a in self.net.buffers.items()}  # batchnorm statistics: small
        images, x, y = self._next_batch()
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is caught just below
                p = self.net.run(x, train=True, keep=health.watched if health else ())
                loss, dlogits, probs = self.net.loss(p.output, y)
                grads = self.net.backward(p, {self.net.plan.logits: dlogits}).params
        except Interrupted:
            self.augment_rng.bit_generator.state, self.net.rng.bit_generator.state = generators
            for k, a in buffers.items():
                np.copyto(self.net.buffers[k], a)
            raise
        except ValueError as e:  # refused before it touched any state
            raise TrainingError(f"step {self.step + 1} cannot run: {e}") from None
        problem = self._loss_range.problem(loss)
        if problem is not None:
            self.net.set_state(self._good_state)
            self.optimizer.slots = {}  # momentum / moments grown on the way to divergence
            return DivergedEvent(self.step + 1, self.epoch, loss, _diverged_message(
                self.step + 1, problem, self.good_step, self.optimizer.lr,
                any(n.op is not None and n.op.couples_batch for n in self.net.nodes)), self.good_step)
        self._loss_range.add(loss)
        for k, a in {**self.net.params, **buffers}.items():  # the state after the previous step, exactly
            np.copyto(self._good_state[k], a)
        self.good_step = self.step
        if health:
            health.observe(p.outputs, grads)
        self.optimizer.step(grads)
        correct = int((probs.argmax(axis=1) == y).sum())
        event = self._record_step(loss, correct, len(y))
        if health:
            self._health_event = health.sample(self.step, self.epoch)
        return event, images, y

    def _apply_pending_hyper(self) -> None:
        with self._wake:
            changes, self._pending_hyper = self._pending_hyper, {}
        if "lr" in changes:
            self.base_lr = changes["lr"]
        if "momentum" in changes and hasattr(self.optimizer, "momentum"):
            self.optimizer.momentum = changes["momentum"]
        if "weight_decay" in changes:
            self.optimizer.weight_decay = changes["weight_decay"]
        progress = (self.epoch + self.batch_index / self.batches_per_epoch) / self.config.epochs
        self.optimizer.lr = self.base_lr * lr_factor(self.config.schedule, progress)

    def _next_batch(self):
        """-> (uint8 images (n, D, H, W) as trained on, normalised float32 (n, D, H, W), labels (n,))."""
        size = self.config.batch_size
        idx = self.order[self.batch_index * size:(self.batch_index + 1) * size]
        images = self.data.train_images[idx]
        if self.config.augment:
            images = augment(images, self.augment_rng)
        return images, self.normalizer.apply(images), self.data.train_labels[idx]

    def _record_step(self, loss: float, correct: int, n: int) -> StepEvent:
        self.step += 1
        self.batch_index += 1
        totals = self.epoch_totals
        totals["loss"] += loss * n
        totals["correct"] += correct
        totals["images"] += n
        h = self.history
        h["step"].append(self.step)
        h["loss"].append(loss)
        h["accuracy"].append(correct / n)
        h["lr"].append(self.optimizer.lr)
        return StepEvent(self.step, self.epoch, self.batch_index - 1, self.batches_per_epoch, loss,
                         correct / n, self.optimizer.lr, 0.0)

    def probe_snapshot(self) -> SnapshotEvent | None:
        """A snapshot of the probe set with set_probe (None when it is the next training image), for a
        trainer that is not running, e.g. after a run or loaded from a checkpoint."""
        return None if self._probe is None else self._snapshot(None, None)

    def _filters(self) -> dict[str, np.ndarray]:
        """A copy of the weights of every layer with filters, by node key."""
        return {n.key: self.net.params[f"{n.key}.weight"].copy()
                for n in self.net.nodes if n.op is not None and n.op.has_filters}

    def _filters_snapshot(self) -> SnapshotEvent:
        """A snapshot of the filters only (has_probe False)."""
        return SnapshotEvent(self.step, self.epoch, self._filters(), probe_index=None, probe_image=None,
                             probe_label=None, activations={}, gradients={}, probabilities=None)

    def _snapshot(self, train_image: np.ndarray | None, train_label: int | None) -> SnapshotEvent:
        probe = self._probe
        if probe is None:
            image, label, index = train_image, train_label, None
        elif isinstance(probe, np.ndarray):  # no true class: the gradients are those of the predicted one
            image, label, index = probe, None, None
        else:
            image, label, index = self.data.test_images[probe], int(self.data.test_labels[probe]), probe
        x = self.normalizer.apply(image[None])
        target = label if label is not None else int(self.net.predict_proba(x).argmax())
        outputs, gradients = self.net.trace(x, np.array([target]))
        return SnapshotEvent(self.step, self.epoch, self._filters(), index, image.copy(), label,
                             {k: np.array(o[0]) for k, o in outputs.items()},
                             {k: np.array(g[0]) for k, g in gradients.items()},
                             np.array(outputs[self.net.nodes[-1].key].reshape(-1)))

    def _finish_epoch(self) -> EpochEvent:
        started = time.perf_counter()
        data = self.data
        val = self.evaluate(data.train_images[self.val_idx], data.train_labels[self.val_idx]) if len(self.val_idx) else None
        test = self.evaluate(data.test_images, data.test_labels) if self.config.evaluate_test else None
        totals = self.epoch_totals
        totals["seconds"] += time.perf_counter() - started
        shown = test if test is not None else val
        labels = data.test_labels if test is not None else data.train_labels[self.val_idx]
        classes = self.net.classes
        if shown is None:
            confusion = np.zeros((classes, classes), np.int64)
        else:
            predicted = shown[2].argmax(axis=1)
            confusion = np.bincount(labels * classes + predicted, minlength=classes * classes).reshape(classes, classes)
        per_class = np.divide(np.diag(confusion), confusion.sum(axis=1), out=np.zeros(classes), where=confusion.sum(axis=1) > 0)
        event = EpochEvent(
            self.epoch, totals["loss"] / totals["images"], totals["correct"] / totals["images"],
            val[0] if val else None, val[1] if val else None,
            test[0] if test else None, test[1] if test else None,
            per_class, confusion, test[2] if test else None, totals["seconds"])
        h = self.history
        for key in ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy"):
            h[key].append(getattr(event, key))
        h["epoch_seconds"].append(event.seconds)
        self.epoch += 1
        self.batch_index = 0
        self.order = None
        return event

    def evaluate(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, float, np.ndarray]:
        """Evaluation mode, in batches no larger than the training batch (so evaluating never needs more
        memory than a step; see model.memory); changes nothing in the model.
        images uint8 (N, D, H, W), labels (N,) -> (mean loss, accuracy, probabilities (N, C) float32)."""
        probs = np.empty((len(labels), self.net.classes), np.float32)
        size = min(EVAL_BATCH, self.config.batch_size)
        for start in range(0, len(labels), size):
            probs[start:start + size] = self.net.predict_proba(self.normalizer.apply(images[start:start + size]))
        picked = probs[np.arange(len(labels)), labels].astype(np.float64)
        loss = float(-np.log(np.maximum(picked, 1e-12)).mean())
        return loss, float((probs.argmax(axis=1) == labels).mean()), probs

    # ---- checkpoints ----
    def save_checkpoint(self, path) -> None:
        """Write everything needed to continue exactly (atomic), hyperparameter changes that no step
        has used yet included. Call it between events."""
        self._apply_pending_hyper()
        arrays = {f"state/{k}": a for k, a in self.net.state().items()}
        opt = self.optimizer.state_dict()
        arrays.update({f"optimizer/{slot}/{k}": a for slot, table in opt["slots"].items() for k, a in table.items()})
        arrays["train_idx"], arrays["val_idx"] = self.train_idx, self.val_idx
        if self.order is not None:
            arrays["order"] = self.order
        meta = {
            "architecture": self.arch.to_dict(),
            "config": self.config.to_dict(),
            "optimizer": {"name": opt["name"], "steps": opt["steps"], "hyper": opt["hyper"], "base_lr": self.base_lr},
            "normalizer": self.normalizer.to_dict(),
            "rng": {"shuffle": self.shuffle_rng.bit_generator.state, "augment": self.augment_rng.bit_generator.state,
                    "dropout": self.net.rng.bit_generator.state},
            "position": {"step": self.step, "epoch": self.epoch, "batch_index": self.batch_index,
                         "epoch_totals": self.epoch_totals},
            "data": {"train": len(self.data.train_labels), "test": len(self.data.test_labels)},
            "label_names": self.label_names,
            "history": self.history,
        }
        checkpoint.write(path, arrays, meta)

    @classmethod
    def from_checkpoint(cls, path, data: Cifar10 | ImageFolder, arch: Architecture | None = None) -> "Trainer":
        """A trainer that continues where the checkpoint at path left off (checkpoint.read checks it all).
        With arch, the checkpoint must be for that architecture. Raises CheckpointError saying what does
        not fit."""
        saved = checkpoint.read(path, data)
        if arch is not None:
            difference = checkpoint.architecture_difference(saved.meta["architecture"], arch.to_dict())
            if difference:
                raise CheckpointError(f"{path} was written for a different architecture: {difference}. "
                                      "Resume with the architecture it was trained with, or start a new run.")
        try:
            trainer = cls(saved.arch, data, saved.config, normalizer=saved.normalizer)
            trainer._restore(saved)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path} does not fit its architecture or is damaged: {e}") from e
        return trainer

    def _restore(self, saved: "checkpoint.Checkpoint") -> None:
        meta = saved.meta
        self.net.set_state(saved.state, source="the checkpoint's weights")
        opt = meta["optimizer"]
        self.optimizer.load_state_dict({"name": opt["name"], "steps": opt["steps"], "hyper": opt["hyper"],
                                        "slots": saved.slots})
        self.base_lr = float(opt["base_lr"])
        self.train_idx, self.val_idx, self.order = saved.train_idx, saved.val_idx, saved.order
        self.shuffle_rng.bit_generator.state = meta["rng"]["shuffle"]
        self.augment_rng.bit_generator.state = meta["rng"]["augment"]
        self.net.rng.bit_generator.state = meta["rng"]["dropout"]
        pos = meta["position"]
        self.step, self.epoch, self.batch_index = pos["step"], pos["epoch"], pos["batch_index"]
        self.epoch_totals = dict(pos["epoch_totals"])
        self.history = {k: list(v) for k, v in meta["history"].items()}
        self._good_state = {k: a.copy() for k, a in self.net.state().items()}
        self.good_step = self.step
        self._loss_range = LossRange(self.net.classes, self.history["loss"][-LOSS_WINDOW:])


def _diverged_message(step: int, problem: str, good_step: int, lr: float, has_batchnorm: bool) -> str:
    hint = "" if has_batchnorm else ", or add batch normalisation after the conv layers"
    good = f"those after step {good_step}, the last with a normal loss" if good_step else "the starting weights"
    return (f"Training diverged at step {step}: at learning rate {lr:g} the loss {problem}. The weights were "
            f"put back to {good}, and the optimiser's momentum was cleared. Try a lower learning rate "
            f"(10 times lower: {lr / 10:g}, or less){hint}.")
