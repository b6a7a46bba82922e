"""The Slide tab: a trained network, its fc layers converted to convolutions, run once over a larger
image (a mosaic of test images, or a picture of the user's) gives a map of class scores, one per
window position; beside it the same scores from cropping every window and running the original
network on each, and what each way took (interpret.slide).

The network is the Explain tab's (the current run, a weights file or a checkpoint opened there),
taken whenever this tab is shown; the test images are the Train tab's data set.
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal, Slot
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QRadioButton, QSpinBox, QSplitter,
                               QVBoxLayout, QWidget)

from ...data.images import read_image
from ...engine import Volume
from ...interpret.render import CLASS_COLOURS, heat_colours, rgb
from ...interpret.slide import Slide, mosaic, slide
from ...interpret.subject import Cancelled, Subject
from ..dashboard.style import BAD_CSS, GROUP_CSS, configure_pyqtgraph, side_scroll
from ..worker import Background, JobWorker

PICTURES = "Pictures (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"
OPACITY = 0.6
GAP = 0.08  # between the pictures, in image widths


def score_picture(s: Slide, scores: np.ndarray, cls: int | None) -> np.ndarray:
    """A class map at the positions' resolution (H', W', 3) uint8: each position's top class in its
    colour, or (cls given) the probability of cls on the heat scale."""
    if cls is not None:
        return heat_colours(scores[cls], 0.0, 1.0)
    top = scores.argmax(axis=0)
    return np.array(CLASS_COLOURS, np.uint8)[top % len(CLASS_COLOURS)]


class SlideView(QWidget):
    """set_subject(subject, source) and set_data(data) give it a network and test images; run() slides
    (in a worker thread; a new request cancels the running one). failed(title, text) for the user."""

    failed = Signal(str, str)

    def __init__(self, parent=None):
        configure_pyqtgraph()
        super().__init__(parent)
        self.setStyleSheet(GROUP_CSS)
        self.subject: Subject | None = None
        self.data = None
        self.picture: tuple[str, Path] | None = None
        self.result: Slide | None = None
        self._job: Background | None = None
        self._cancel: threading.Event | None = None
        self._again = False

        self.network_text = QLabel("No network yet: choose one in the Explain tab (the current run, a weights file "
                                   "or a checkpoint).")
        self.network_text.setWordWrap(True)
        self.use_mosaic = QRadioButton("Mosaic of test images")
        self.use_picture = QRadioButton("A picture of yours")
        self.use_mosaic.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.use_mosaic)
        group.addButton(self.use_picture)
        self.grid = QSpinBox()
        self.grid.setRange(1, 8)
        self.grid.setValue(3)
        self.grid.setSuffix(" x images")
        self.grid.setToolTip("Images to a side: 3 gives a 96x96 mosaic of 32x32 images")
        self.first = QSpinBox()
        self.first.setPrefix("from test image #")
        self.side = QSpinBox()
        self.side.setRange(1, 1024)
        self.side.setValue(96)
        self.side.setSuffix(" pixels")
        self.side.setToolTip("The picture is scaled to cover this square and centre-cropped")
        self.open_button = QPushButton("Open a picture…")
        self.open_button.clicked.connect(lambda: self.open_picture())
        self.show_class = QComboBox()
        self.show_class.addItem("the top class at each position", None)
        self.show_class.currentIndexChanged.connect(lambda _: self._draw())
        self.run_button = QPushButton("Slide")
        self.run_button.setToolTip("Run the converted network once over the image, and the original on every window")
        self.run_button.clicked.connect(lambda: self.run())
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        for w in (self.grid, self.first, self.side):
            w.valueChanged.connect(lambda _: self._changed())
        group.buttonToggled.connect(lambda _, checked: self._changed() if checked else None)

        box = QGroupBox("Slide over a larger image")
        form = QFormLayout(box)
        form.addRow(self.network_text)
        form.addRow(self.use_mosaic)
        row = QHBoxLayout()
        row.addWidget(self.grid)
        row.addWidget(self.first)
        form.addRow(row)
        form.addRow(self.use_picture)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.side)
        form.addRow(row)
        form.addRow("Show", self.show_class)
        form.addRow(self.run_button)
        form.addRow(self.progress)
        form.addRow(self.status)
        side = QWidget()
        column = QVBoxLayout(side)
        column.addWidget(box)
        column.addStretch(1)
        scroll = side_scroll(side)

        self.caption = QLabel("The class scores of every window position appear here.")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.canvas = pg.GraphicsLayoutWidget()
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        right = QWidget()
        v = QVBoxLayout(right)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.caption)
        v.addWidget(self.canvas, 1)
        v.addWidget(self.legend)
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([side.sizeHint().width() + 20, 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self._update_controls()

    # ---- inputs ----
    def set_subject(self, subject: Subject | None, source: str = "") -> None:
        """Slide this network from now on (source: where its weights came from)."""
        if subject is self.subject:
            return
        self.subject, self.result = subject, None
        self.show_class.blockSignals(True)
        while self.show_class.count() > 1:
            self.show_class.removeItem(1)
        for k, name in enumerate(subject.label_names if subject else []):
            self.show_class.addItem(f"P({name})", k)
        self.show_class.blockSignals(False)
        if subject is not None:
            v = subject.net.nodes[0].volume
            self.network_text.setText(f"{source}: a {v} input, {subject.net.classes} classes.")
        self._update_controls()
        self._changed()

    @Slot(object)
    def set_data(self, data) -> None:
        """The data set whose test images make the mosaics."""
        self.data = data
        self.first.setRange(0, max(len(data.test_labels) - 1, 0))
        self._update_controls()
        self._changed()

    def open_picture(self, path=None) -> None:
        """Slide over a picture file (read at the chosen side in the worker)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open a picture", "", PICTURES)
            if not path:
                return
        self.picture = (Path(path).name, Path(path))
        self.open_button.setText(self.picture[0])
        if self.use_picture.isChecked():
            self._changed()
        else:
            self.use_picture.setChecked(True)

    def ready(self) -> str | None:
        """Why nothing can be slid now, or None."""
        if self.subject is None:
            return "Choose a network in the Explain tab first (the current run, a weights file or a checkpoint)."
        if self.use_picture.isChecked():
            return None if self.picture is not None else "Open a picture first."
        if self.data is None:
            return "Waiting for the test images (the Train tab loads CIFAR-10)."
        if self.first.value() + self.grid.value() ** 2 > len(self.data.test_labels):
            n = self.grid.value()
            return f"A {n}x{n} mosaic from #{self.first.value()} runs past the test set."
        return None

    def _changed(self) -> None:
        self.result = None
        if self.isVisible() and self.ready() is None:
            self.run()
        else:
            self._update_controls()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.result is None and self.ready() is None and self._job is None:
            self.run()

    # ---- the job ----
    def run(self) -> None:
        """Build the image and slide over it, in the background."""
        blocker = self.ready()
        if blocker is not None:
            self.status.setText(blocker)
            return
        if self._job is not None:
            self._again = True
            self._cancel.set()
            return
        subject, window = self.subject, self.subject.net.nodes[0].volume
        if self.use_picture.isChecked():
            path, side = self.picture[1], self.side.value()
            make = lambda: read_image(path, Volume(side, side, window.depth))  # noqa: E731
        else:
            n, first, images = self.grid.value(), self.first.value(), self.data.test_images
            make = lambda: mosaic(images[first:first + n * n], n, n)  # noqa: E731
        cancel = self._cancel = threading.Event()

        def job(report):  # each pass takes milliseconds: cancelled between passes
            return slide(subject, make(), progress=report, cancel=cancel.is_set), subject

        worker = JobWorker(job)
        worker.progress.connect(self._on_progress)
        worker.result.connect(self._on_result)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_done)
        self._job = Background(worker, "convviz-slide")
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.status.setStyleSheet("")
        self.status.setText("Sliding…")
        self._job.start()
        self._update_controls()

    @Slot(object)
    def _on_progress(self, fraction) -> None:
        self.progress.setValue(int(1000 * float(fraction)))

    @Slot(object)
    def _on_result(self, value) -> None:
        result, subject = value
        if subject is not self.subject:
            return
        self.result = result
        self.status.setText("")
        self._draw()

    @Slot(object)
    def _on_failed(self, error) -> None:
        if isinstance(error, Cancelled):
            self.status.setText("")
            return
        known = isinstance(error, (ValueError, OSError))
        text = str(error) if known else f"{type(error).__name__}: {error}"
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {BAD_CSS};")
        self.canvas.clear()
        self.caption.setText("Nothing to show: see the message on the left.")

    @Slot()
    def _on_done(self) -> None:
        if self._job is None:
            return
        self._job.wait()  # the worker has quit its thread: returns at once
        self._job, self._cancel = None, None
        self.progress.setVisible(False)
        if self._again:
            self._again = False
            self.run()
        self._update_controls()

    def busy(self) -> bool:
        return self._job is not None

    def _update_controls(self) -> None:
        self.run_button.setEnabled(self.ready() is None)
        self.grid.setEnabled(self.use_mosaic.isChecked())
        self.first.setEnabled(self.use_mosaic.isChecked())
        self.side.setEnabled(self.use_picture.isChecked())

    def shutdown(self) -> None:
        """Cancel the job and wait for its thread (call before the window closes)."""
        self._again = False
        if self._job is not None:
            self._cancel.set()
            self._job.wait()
            self._job = None

    # ---- the picture ----
    def _draw(self) -> None:
        """The image, then the one pass's and the crops' maps over it (top class or one class's probability)."""
        self.canvas.clear()
        s = self.result
        if s is None:
            return
        names = self.subject.label_names
        cls = self.show_class.currentData()
        self.caption.setText("".join(f"<p>{line}</p>" for line in s.sentences(names)))
        view = pg.ViewBox(lockAspect=True, invertY=True, enableMouse=False)
        view.setMenuEnabled(False)
        _, h, w = s.image.shape
        panels = [("the image", None), ("one pass of the converted network", s.scores)]
        if s.crops is not None:
            panels.append(("each window cropped, the original network", s.crops))
        for i, (title, scores) in enumerate(panels):
            x = i * w * (1 + GAP)
            image = pg.ImageItem(rgb(s.image))
            image.setPos(x, 0)
            view.addItem(image)
            label = pg.TextItem(title, anchor=(0.5, 1.0), color=(200, 204, 210))
            label.setPos(x + w / 2, 0)
            view.addItem(label)
            if scores is None:
                continue
            overlay = pg.ImageItem(score_picture(s, scores, cls))
            rows, cols = scores.shape[1:]
            first_y, first_x = (s.window.height - s.jump) / 2, (s.window.width - s.jump) / 2
            overlay.setRect(QRectF(x + first_x, first_y, cols * s.jump, rows * s.jump) if s.per_window
                            else QRectF(x, 0, w, h))
            overlay.setOpacity(OPACITY)
            view.addItem(overlay)
        self.canvas.addItem(view)
        if cls is None:
            self.legend.setText("Each square is the window centred on it, coloured by its top class: " + " ".join(
                f"<span style='color:rgb{CLASS_COLOURS[k % len(CLASS_COLOURS)]}'>■</span> {name}"
                for k, name in enumerate(names)))
        else:
            self.legend.setText(f"Each square is the window centred on it: dark 0 to pale yellow 1, P({names[cls]}).")
