"""The probe image's background work for the Train tab: reading a picture the user opened, and a
snapshot of the probe from a trainer that is not running (after a run, or loaded from a checkpoint).
One job at a time; a request made meanwhile waits for it (only the latest is kept)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal, Slot

from ...data import DataError, read_preview
from ..worker import Background, JobWorker


class ProbeJobs(QObject):
    """picture(uint8 (3, H, W), file name) after open_picture(); snapshot(SnapshotEvent) after
    snapshot_of(trainer) when the probe is a test image or a picture; failed(title, message);
    idle() when no job is left."""

    picture = Signal(object, str)
    snapshot = Signal(object)
    failed = Signal(str, str)
    idle = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._job: Background | None = None
        self._kind = ""
        self._name = ""
        self._next: tuple[str, Callable, str] | None = None

    def busy(self) -> bool:
        return self._job is not None or self._next is not None

    def open_picture(self, path) -> None:
        """Read the picture at path (PNG, JPEG, ...) in the background."""
        path = Path(path)
        self._request("picture", lambda report: read_preview(path), path.name)

    def snapshot_of(self, trainer) -> None:
        """Pass trainer's probe through its network in the background (the trainer must not be running)."""
        self._request("snapshot", lambda report: trainer.probe_snapshot(), "")

    def _request(self, kind: str, job: Callable, name: str) -> None:
        self._next = (kind, job, name)
        if self._job is None:
            self._start_next()

    def _start_next(self) -> None:
        (self._kind, job, self._name), self._next = self._next, None
        worker = JobWorker(job)
        worker.result.connect(self._on_result)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_done)
        self._job = Background(worker, f"convviz-probe-{self._kind}")
        self._job.start()

    @Slot(object)
    def _on_result(self, value) -> None:
        if self._kind == "picture":
            self.picture.emit(value, self._name)
        elif value is not None:
            self.snapshot.emit(value)

    @Slot(object)
    def _on_failed(self, error: BaseException) -> None:
        if self._kind == "picture":
            text = str(error) if isinstance(error, (DataError, OSError)) else f"{self._name} cannot be read."
            self.failed.emit("Cannot open the picture", text)
        else:
            self.failed.emit("Cannot show the probe image", str(error))

    @Slot()
    def _on_done(self) -> None:
        if self._job is None:  # shutdown() has waited for it
            return
        self._job.wait()  # the worker has quit its thread: returns at once
        self._job = None
        if self._next is not None:
            self._start_next()
        else:
            self.idle.emit()

    def shutdown(self) -> None:
        """Drop waiting requests and wait for the running job."""
        self._next = None
        if self._job is not None:
            self._job.wait()
            self._job = None
