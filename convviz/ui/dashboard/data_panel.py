"""Where the data is: CIFAR-10 found (and loaded in the background) or downloaded with a progress bar
(MiB done/total, rate, time left, Cancel), or a folder the user chose: CIFAR-10 or an image folder (one
subfolder of pictures per class), whose pictures are fitted to the INPUT block and read again when
its volume changes. Neither loading nor downloading blocks the window."""
from __future__ import annotations

import html
import threading
import time
from pathlib import Path

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import (QFileDialog, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QVBoxLayout)

from ...data import DownloadCancelled, ImageFolder, LoadCancelled, find_cifar10, load_data, searched_locations
from ...data.images import depth_problem
from ...engine import Volume
from ...units import size_bytes
from ..worker import Background, JobWorker, describe_error
from .style import BAD_CSS, GOOD_CSS, TEXT_DIM

STALL_SECONDS = 10.0  # a stalled download is resumed after this long (Cancel and closing shut it at once)
REFIT_MS = 700  # an image folder is read again for a new INPUT volume once the edits pause this long
SKIPPED_SHOWN, SKIPPED_IN_TIP = 3, 40  # skipped files listed in the panel, and in its tooltip


def describe_progress(done: int, total: int | None, rate: float) -> str:
    """'11.7 MiB / 163 MiB · 3.9 MiB/s · 39 s left' (parts omitted when unknown)."""
    parts = [f"{size_bytes(done)} / {size_bytes(total)}" if total else size_bytes(done)]
    if rate > 0:
        parts.append(f"{size_bytes(int(rate))}/s")
        if total:
            left = max(0.0, (total - done) / rate)
            parts.append(f"{left:.0f} s left" if left < 120 else f"{left / 60:.0f} min left")
    return " · ".join(parts)


class DataPanel(QGroupBox):
    """loaded(Cifar10 or ImageFolder) after a successful load; failed(title, message) for the user to
    read; idle() when a background job or a pending read has ended."""

    loaded = Signal(object)
    failed = Signal(str, str)
    idle = Signal()

    def __init__(self, parent=None):
        super().__init__("Data", parent)
        self.data = None
        self.volume = Volume(32, 32, 3)  # the INPUT block's: what an image folder's pictures are fitted to
        self._refit = QTimer(self)
        self._refit.setSingleShot(True)
        self._refit.setInterval(REFIT_MS)
        self._refit.timeout.connect(self._read_again)
        self._job: Background | None = None
        self._cancel: threading.Event | None = None
        self._kind = ""
        self._started = 0.0
        self._next_load: Path | None = None
        self._folder = None  # the folder being loaded

        self.where = QLabel("Looking for CIFAR-10…")
        self.where.setWordWrap(True)
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip("Download CIFAR-10 (163 MiB) into the ConvViz data folder")
        self.download_button.clicked.connect(lambda: self.download())
        self.choose_button = QPushButton("Choose folder…")
        self.choose_button.setToolTip("Use a CIFAR-10 copy you already have (python or binary layout), or an "
                                      "image folder of your own: one subfolder of pictures per class")
        self.choose_button.clicked.connect(lambda: self.choose_folder())
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress_text = QLabel()
        self.progress_text.setStyleSheet(f"color: {TEXT_DIM};")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.choose_button)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.where)
        layout.addLayout(buttons)
        layout.addLayout(progress_row)
        layout.addWidget(self.progress_text)
        self._show_progress(False)

    # ---- state ----
    def busy(self) -> bool:
        """A load or download is under way, or an image folder waits to be read again."""
        return self._job is not None or self._refit.isActive()

    def activity(self) -> str:
        """What the panel is doing, in words ('downloading CIFAR-10'), or '' when idle."""
        if self._job is None:
            return "about to read the image folder again" if self.busy() else ""
        return "downloading CIFAR-10" if self._kind == "download" else f"reading {self._folder}"

    def _show_progress(self, on: bool) -> None:
        for w in (self.progress, self.progress_text, self.cancel_button):
            w.setVisible(on)
        self.download_button.setEnabled(not on)
        self.choose_button.setEnabled(not on)

    def _say(self, text: str, colour: str | None = None) -> None:
        self.where.setText(text)
        self.where.setStyleSheet(f"color: {colour};" if colour else "")

    # ---- finding and loading ----
    def locate(self, explicit=None) -> None:
        """Search the usual places (explicit first); load what is found in the background."""
        found = find_cifar10(explicit)
        if found is None:
            places = "".join(f"<br>· {how}: {path}" for how, path in searched_locations(explicit))
            self._say(f"CIFAR-10 was not found. Download it, or choose the folder holding "
                      f"cifar-10-batches-py. Searched:{places}", BAD_CSS)
            return
        self.load(found.path)  # (it says where it loads from)

    def choose_folder(self, folder=None) -> None:
        """Load CIFAR-10 or an image folder from the folder the user chose (asked for when None); a
        folder holding neither is reported with what is missing, never replaced by a copy found elsewhere."""
        if folder is None:
            folder = QFileDialog.getExistingDirectory(
                self, "Folder holding CIFAR-10, or one subfolder of pictures per class")
            if not folder:
                return
        self.load(Path(folder).expanduser())

    def load(self, folder) -> None:
        """Load CIFAR-10 or an image folder (fitted to self.volume) from folder in a worker thread;
        loaded(data) follows."""
        if self._job is not None:
            return
        self._refit.stop()
        cancel = self._cancel = threading.Event()
        volume = self.volume
        self._folder = folder
        self._say(f"Loading {folder}…")
        self._show_progress(True)
        self.cancel_button.setVisible(False)  # shown with the first count of pictures (CIFAR-10 loads at once)
        self.progress.setRange(0, 0)  # busy indicator
        self.progress_text.setText("reading and checking the files")

        def job(report):
            return load_data(folder, volume, progress=lambda done, total: report((done, total)), cancel=cancel)

        self._start(JobWorker(job), "load")

    def set_input(self, volume: Volume) -> None:
        """The INPUT block's volume. An image folder is read again to fit it, once the edits pause."""
        if volume == self.volume:
            return
        self.volume = volume
        if isinstance(self.data, ImageFolder) and depth_problem(volume.depth) is None:
            self._refit.start()

    def _read_again(self) -> None:
        if self._job is not None or not self.isEnabled():  # a load, download or training run is going on:
            self._refit.start()                               # try again after it
        elif isinstance(self.data, ImageFolder):
            self.load(self.data.source)

    def set_data(self, data) -> None:
        """Use an already loaded Cifar10 or ImageFolder."""
        self.data = data
        if isinstance(data, ImageFolder):
            d, h, w = data.train_images.shape[1:]
            text = html.escape(f"{len(data.label_names)} classes ({', '.join(data.label_names)}): "
                               f"{len(data.train_labels):,} training and {len(data.test_labels):,} test pictures "
                               f"from {data.source}, at {w}x{h}x{d}.")
            if data.skipped:
                shown = "".join(f"<br>· {html.escape(f'{path.name}: {why}')}" for path, why in data.skipped[:SKIPPED_SHOWN])
                more = len(data.skipped) - SKIPPED_SHOWN
                text += f"<br>{len(data.skipped)} files skipped:{shown}" + (f"<br>… and {more} more" if more > 0 else "")
            self._say(text, GOOD_CSS)
            self.where.setToolTip(data.summary(SKIPPED_IN_TIP) if data.skipped else "")
            self._refit.stop()
            if (w, h, d) != (self.volume.width, self.volume.height, self.volume.depth) and \
                    depth_problem(self.volume.depth) is None:
                self._refit.start()  # the INPUT block changed while it was read
        else:
            self._say(f"{len(data.train_labels):,} training and {len(data.test_labels):,} test images "
                      f"from {data.source}.", GOOD_CSS)
            self.where.setToolTip("")
        self.loaded.emit(data)

    # ---- downloading ----
    def download(self, dest=None, url: str | None = None, md5: str | None = None) -> None:
        """Download into dest (default: the ConvViz data folder) in a worker thread, then load it.
        url and md5 default to $CONVVIZ_CIFAR_URL / $CONVVIZ_CIFAR_MD5, then the official ones."""
        if self.busy():
            return
        from ...data import download_cifar10

        cancel = self._cancel = threading.Event()
        self._say("Downloading CIFAR-10…")
        self._show_progress(True)
        self.progress.setRange(0, 0)
        self.progress_text.setText("connecting")

        def job(report):
            return download_cifar10(dest, progress=report, cancel=cancel, url=url, md5=md5, timeout=STALL_SECONDS)

        self._start(JobWorker(job), "download")

    @Slot(object)
    def _on_progress(self, p) -> None:
        if self._kind == "load":  # (pictures read, pictures in all) of an image folder
            done, total = p
            self.cancel_button.setVisible(True)
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat(f"{100 * done / total:.0f}%")
            self.progress_text.setText(f"{done:,} of {total:,} pictures")
            return
        if p.total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * p.done / p.total))
            self.progress.setFormat(f"{100 * p.done / p.total:.0f}%")
        self.progress_text.setText(describe_progress(p.done, p.total, p.rate))

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self.progress_text.setText("cancelling…")

    # ---- the background job (signals go to bound methods: they run in the GUI thread) ----
    def _start(self, worker: JobWorker, kind: str) -> None:
        self._kind, self._started = kind, time.monotonic()
        worker.progress.connect(self._on_progress)
        worker.result.connect(self._on_result)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_done)
        self._job = Background(worker, f"convviz-{kind}")
        self._job.start()

    @Slot(object)
    def _on_result(self, value) -> None:
        if self._kind == "download":
            self.progress.setRange(0, 1000)
            self.progress.setValue(1000)
            self.progress.setFormat("100%")
            self._next_load = value
        else:
            self.set_data(value)
            self.progress_text.setText(f"loaded in {time.monotonic() - self._started:.1f} s")

    @Slot(object)
    def _on_failed(self, error: BaseException) -> None:
        self.progress.setVisible(False)       # the message above says what happened: no stale bar,
        self.progress_text.setVisible(False)  # percentage or "cancelling…" stays behind
        if isinstance(error, (DownloadCancelled, LoadCancelled)):
            text = str(error)  # "download cancelled; 1 MiB kept in ... to resume"
            self._say(text[:1].upper() + text[1:] + ".", TEXT_DIM)
            return
        title = "Download failed" if self._kind == "download" else "Cannot load the data"
        message = describe_error(error)
        self._say(f"{title}: {message}", BAD_CSS)
        self.failed.emit(title, message)

    @Slot()
    def _on_done(self) -> None:
        if self._job is None:  # shutdown() has waited for the job: the window is closing, start nothing
            return
        self._job.wait()  # the worker quits its thread itself: this returns at once
        self._job = None
        self._cancel = None
        self.download_button.setEnabled(True)
        self.choose_button.setEnabled(True)
        self.cancel_button.setVisible(False)
        if self._kind == "load" or self.progress.maximum() == 0:  # a finished download keeps its 100%
            self.progress.setVisible(False)
        next_load, self._next_load = self._next_load, None
        if next_load is not None:
            self.load(next_load)
        else:
            self.idle.emit()

    def shutdown(self) -> None:
        """Cancel a download or the reading of an image folder and wait for the background job to end."""
        self._refit.stop()
        if self._cancel is not None:
            self._cancel.set()
        if self._job is not None:
            self._job.wait()
            self._job = None
