"""Work off the GUI thread: the training loop in a QThread, and one-shot jobs (loading, downloading).

The worker objects only compute and emit signals; the signals are queued to the GUI thread, where
the slots touch widgets. Step events are coalesced: the GUI receives them in batches at most
STEP_EMITS_PER_SECOND times a second, however fast the network trains.

Shutdown never relies on the GUI thread's event loop: `thread.quit()` is called from the worker
thread itself when the job ends (a queued `finished -> quit` would deadlock against a GUI thread
blocked in `wait()`), so `stop_and_wait()` is a plain stop + wait.
"""
from __future__ import annotations

import re
import threading
import time
import traceback
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal

from ..engine.files import WriteError, describe_os_error
from ..training import DivergedEvent, EpochEvent, FinishedEvent, HealthEvent, SnapshotEvent, StepEvent

STEP_EMITS_PER_SECOND = 4.0  # the curves and status redraw twice a second: more would be wasted


def describe_error(error: BaseException) -> str:
    """One readable paragraph for a message box, never an exception's class name: ConvViz's own errors
    (ValueError and OSError subclasses, whose messages are written for the user) as they are, another
    file-system error as its reason in words, running out of memory as that with what to change, and
    anything else as an unexpected problem with where it happened."""
    if isinstance(error, MemoryError):
        wanted = re.search(r"allocate ([\d.]+ \w+)", str(error))
        amount = f" (it needed {wanted.group(1)} more)" if wanted else ""
        return (f"The computer ran out of memory{amount}. Use a smaller batch size or a smaller network; "
                "`convviz summary NET --batch N` estimates what training takes.")
    if isinstance(error, WriteError) or (isinstance(error, ValueError) and str(error)):
        return str(error)
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{describe_os_error(error)}."
    where = traceback.extract_tb(error.__traceback__)
    place = f" in {Path(where[-1].filename).name}, line {where[-1].lineno}" if where else ""
    detail = f" ({error})" if str(error) else ""
    return f"Something unexpected went wrong{detail}{place}. Please report it with what you were doing."


class TrainingWorker(QObject):
    """Runs make_trainer() and then trainer.run() in its thread; re-emits the events as signals.

    steps(list[StepEvent]) batches step events; the other signals carry one event each.
    ready(trainer) tells the GUI which trainer to steer (set_hyper/set_probe are the trainer's own
    thread-safe methods). pause() holds the run between two events, where the generator is suspended
    and the trainer may be saved from another thread; paused(True) confirms it, paused(False) follows
    resume(). failed(str) reports an exception; done() comes last. after_epoch(trainer), if given,
    runs in the worker thread at each epoch's end, before the epoch signal (the trainer is between
    steps there: the place to save it).
    """

    ready = Signal(object)
    paused = Signal(bool)
    steps = Signal(object)
    epoch = Signal(object)
    snapshot = Signal(object)
    health = Signal(object)
    diverged = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    done = Signal()

    def __init__(self, make_trainer: Callable[[], object], after_epoch: Callable[[object], None] | None = None):
        super().__init__()
        self._make_trainer = make_trainer
        self._after_epoch = after_epoch
        self.trainer = None
        self._stop_requested = False
        self._pause_requested = False
        self._gate = threading.Condition()

    def request_stop(self) -> None:
        """Stop as soon as possible (also before the trainer exists, or while paused). Thread-safe."""
        with self._gate:
            self._stop_requested = True
            if self.trainer is not None:
                self.trainer.stop()
            self._gate.notify_all()

    def pause(self) -> None:
        """Hold the run after the event being handled. Thread-safe."""
        with self._gate:
            self._pause_requested = True

    def resume(self) -> None:
        with self._gate:
            self._pause_requested = False
            self._gate.notify_all()

    def _hold_while_paused(self) -> None:
        with self._gate:
            if not self._pause_requested or self._stop_requested:
                return
        self.paused.emit(True)
        with self._gate:
            while self._pause_requested and not self._stop_requested:
                self._gate.wait()
        self.paused.emit(False)

    def run(self) -> None:
        try:
            trainer = self._make_trainer()
            with self._gate:
                self.trainer = trainer
                if self._stop_requested:
                    trainer.stop()
            self.ready.emit(trainer)
            self._forward_events(self.trainer.run())
        except Exception as error:  # shown to the user as a message box by the GUI
            self.failed.emit(describe_error(error))
        finally:
            self.done.emit()
            QThread.currentThread().quit()

    def _forward_events(self, events) -> None:
        pending: list = []
        last_emit = 0.0
        interval = 1.0 / STEP_EMITS_PER_SECOND
        for event in events:
            if isinstance(event, StepEvent):
                pending.append(event)
                now = time.monotonic()
                if now - last_emit >= interval or self._pause_requested:
                    self.steps.emit(pending)
                    pending, last_emit = [], now
                self._hold_while_paused()
                continue
            if pending:
                self.steps.emit(pending)
                pending, last_emit = [], time.monotonic()
            if isinstance(event, SnapshotEvent):
                self.snapshot.emit(event)
            elif isinstance(event, HealthEvent):
                self.health.emit(event)
            elif isinstance(event, EpochEvent):
                if self._after_epoch is not None:
                    self._after_epoch(self.trainer)
                self.epoch.emit(event)
            elif isinstance(event, DivergedEvent):
                self.diverged.emit(event)
            elif isinstance(event, FinishedEvent):
                self.finished.emit(event)
            self._hold_while_paused()
        if pending:
            self.steps.emit(pending)


class JobWorker(QObject):
    """Runs job(report) once in its thread, report(value) emitting progress(value).
    result(value) or failed(BaseException) follows, then done()."""

    progress = Signal(object)
    result = Signal(object)
    failed = Signal(object)
    done = Signal()

    def __init__(self, job: Callable[[Callable[[object], None]], object]):
        super().__init__()
        self._job = job

    def run(self) -> None:
        try:
            self.result.emit(self._job(self.progress.emit))
        except Exception as error:
            self.failed.emit(error)
        finally:
            self.done.emit()
            QThread.currentThread().quit()


class Background:
    """A worker object (with a run() method) moved to its own QThread. Connect the worker's signals
    to bound methods of GUI-thread objects before start(), so none is missed (never to a lambda or a
    partial: PySide calls those in the worker's thread); keep a reference until wait() returns (a
    QThread destroyed while running aborts the process)."""

    def __init__(self, worker: QObject, name: str):
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName(name)
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)

    def start(self) -> None:
        self.thread.start()

    def wait(self) -> None:
        """Block until the thread has ended."""
        self.thread.wait()
