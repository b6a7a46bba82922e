"""The Explain tab: a trained network (the current run's weights while paused or after training, or a
weights file or checkpoint opened here), an image (a test image, browsed or one of the network's
mistakes, or a picture file), a method and its options, and the result over the image.

Every computation runs in a worker thread (ui.worker): short ones start by themselves when the image,
method or options change; long ones (occlusion, top images, the embedding, class models, DeepDream,
the targeted attack, the accuracy curve) start with Explain and show a progress bar with Cancel.
One job runs at a time; a new request cancels the running one and starts when it has stopped.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton,
                               QSpinBox, QSplitter, QVBoxLayout, QWidget)

from ...data.images import read_image
from ...engine import Interrupted
from ...engine.files import read_npz
from ...interpret.catalogue import METHODS
from ...interpret.methods import ImageSet, Options, explain
from ...interpret.subject import Cancelled, Subject, conv_nodes, fit_normalizer
from ...engine.plan import compile_plan
from ...model.memory import state_shapes
from ...training import TrainConfig, checkpoint
from ..dashboard.style import BAD_CSS, GOOD_CSS, GROUP_CSS, TEXT_DIM, configure_pyqtgraph, side_scroll
from ..dashboard.thumbs import pixmap_of
from ..worker import Background, JobWorker, describe_error
from .views import ResultView

PREVIEW = 160
FILE_FILTER = "Weights or checkpoints (*.npz);;All files (*)"
PICTURE_FILTER = "Pictures (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"


@dataclass
class _Request:
    """A job waiting for the running one to stop: what it is, the function (progress, cancel) -> value,
    whether it shows a progress bar."""

    kind: str
    run: Callable
    long: bool


class ExplainTab(QWidget):
    """dashboard: the Train tab, for the current run's weights (idle_trainer), its data set and the
    builder's architecture (for a weights file); None in tests, which call set_data / set_subject."""

    def __init__(self, dashboard=None, parent=None):
        configure_pyqtgraph()
        super().__init__(parent)
        self.setStyleSheet(GROUP_CSS)
        self.dashboard = dashboard
        self.data = None
        self.subject: Subject | None = None
        self.source = ""
        self.probabilities: np.ndarray | None = None  # the subject's on the test set
        self.cache: dict = {}
        self.result = None
        self.picture: tuple[str, np.ndarray] | None = None  # (file name, uint8 (D, H, W)) instead of a test image
        self._job: Background | None = None
        self._cancel: threading.Event | None = None
        self._kind = ""
        self._queue: list[_Request] = []  # jobs waiting for the running one

        # the network
        self.use_run_button = QPushButton("Use the current run")
        self.use_run_button.setToolTip("Copy the weights of the Train tab's run (paused or finished)")
        self.open_button = QPushButton("Open weights or checkpoint…")
        self.open_button.setToolTip("A checkpoint brings its network and normaliser; a weights file fits the "
                                    "builder's network (normaliser fitted on the training split, as training does)")
        self.use_run_button.clicked.connect(lambda: self.use_current_run())
        self.open_button.clicked.connect(lambda: self.open_weights())
        self.network_text = QLabel("No network yet: train one in the Train tab (pause or finish it), or open a "
                                   "weights file or checkpoint.")
        self.network_text.setWordWrap(True)
        network_box = QGroupBox("Network")
        v = QVBoxLayout(network_box)
        v.addWidget(self.use_run_button)
        v.addWidget(self.open_button)
        v.addWidget(self.network_text)

        # the image
        self.index = QSpinBox()
        self.index.setRange(0, 0)
        self.index.setPrefix("test image #")
        self.index.valueChanged.connect(lambda _: self._test_image_chosen())
        self.previous_button, self.next_button = QPushButton("◀"), QPushButton("▶")
        for b, direction in ((self.previous_button, -1), (self.next_button, 1)):
            b.setFixedWidth(32)
            b.clicked.connect(lambda _=False, d=direction: self.step_image(d))
        self.picture_button = QPushButton("Open a picture…")
        self.picture_button.setToolTip("Explain your own picture (PNG, JPEG, ...), fitted to the network's input")
        self.picture_button.clicked.connect(lambda: self.open_picture())
        self.mistakes = QCheckBox("Step through mistakes only")
        self.mistakes.setToolTip("◀ ▶ go to the previous or next test image the network gets wrong")
        self.preview = QLabel()
        self.preview.setFixedSize(PREVIEW, PREVIEW)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_text = QLabel()
        self.image_text.setWordWrap(True)
        self.image_text.setTextFormat(Qt.TextFormat.RichText)
        image_box = QGroupBox("Image")
        v = QVBoxLayout(image_box)
        row = QHBoxLayout()
        row.addWidget(self.index, 1)
        row.addWidget(self.previous_button)
        row.addWidget(self.next_button)
        v.addLayout(row)
        v.addWidget(self.mistakes)
        v.addWidget(self.picture_button)
        v.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignHCenter)
        v.addWidget(self.image_text)

        # the method and its options
        self.method = QComboBox()
        for m in METHODS.values():
            self.method.addItem(m.title, m.name)
        self.method.currentIndexChanged.connect(lambda _: self._method_changed())
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet(f"color: {TEXT_DIM};")
        self.cls = QComboBox()
        self.layer = QComboBox()
        self.filter = QSpinBox()
        self.patch = QSpinBox()
        self.patch.setRange(1, 64)
        self.patch.setValue(Options.patch)
        self.stride = QSpinBox()
        self.stride.setRange(1, 32)
        self.stride.setValue(Options.stride)
        self.epsilon = QDoubleSpinBox()
        self.epsilon.setRange(0.0, 64.0)
        self.epsilon.setDecimals(1)
        self.epsilon.setValue(Options.epsilon)
        self.epsilon.setSuffix(" /255")
        self.steps = QSpinBox()
        self.steps.setRange(1, 5000)
        self.steps.setValue(200)
        self.penalty = QComboBox()
        self.penalty.addItem("L2", "l2")
        self.penalty.addItem("total variation", "tv")
        self.form = QFormLayout()
        self.rows = {}
        for key, label, w in (("cls", "Class", self.cls), ("layer", "Layer", self.layer), ("filter", "Filter", self.filter),
                              ("patch", "Patch", self.patch), ("stride", "Stride", self.stride),
                              ("epsilon", "Epsilon", self.epsilon), ("steps", "Steps", self.steps),
                              ("penalty", "Penalty", self.penalty)):
            self.form.addRow(label, w)
            self.rows[key] = w
            signal = w.currentIndexChanged if isinstance(w, QComboBox) else w.valueChanged
            signal.connect(lambda _=None: self._auto_run())
        self.layer.currentIndexChanged.connect(lambda _: self._layer_changed())
        self.run_button = QPushButton("Explain")
        self.run_button.clicked.connect(lambda: self.run())
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(lambda: self.cancel())
        method_box = QGroupBox("Method")
        v = QVBoxLayout(method_box)
        v.addWidget(self.method)
        v.addWidget(self.summary)
        v.addLayout(self.form)
        v.addWidget(self.run_button)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        v.addLayout(row)
        self.status = QLabel()
        self.status.setWordWrap(True)
        v.addWidget(self.status)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        for w in (network_box, image_box, method_box):
            side_layout.addWidget(w)
        side_layout.addStretch(1)
        scroll = side_scroll(side)
        self.view = ResultView()
        self.view.imageClicked.connect(self.open_test_image)
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(self.view)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([side.sizeHint().width() + 20, 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        if dashboard is not None:
            dashboard.data_panel.loaded.connect(self.set_data)
            if dashboard.data is not None:
                self.set_data(dashboard.data)
        self._show_progress(False)
        self._method_changed()
        self._update_controls()

    # ---- inputs ----
    def showEvent(self, event) -> None:
        super().showEvent(event)
        panel = self.dashboard.data_panel if self.dashboard is not None else None
        if self.data is None and panel is not None and not panel.busy():
            panel.locate()  # the Train tab's data panel finds and loads CIFAR-10 in the background

    @Slot(object)
    def set_data(self, data) -> None:
        """The data set whose test images are explained (a Cifar10)."""
        self.data = data
        self.index.setRange(0, max(len(data.test_labels) - 1, 0))
        self.cache = {}
        self.probabilities = None
        self._update_controls()
        self._image_changed()
        if self.subject is not None:
            self._predict_test_set()

    def set_subject(self, subject: Subject, source: str) -> None:
        """Explain this network from now on (source: where its weights came from, for the user)."""
        self.subject, self.source = subject, source
        self.cache, self.probabilities, self.result = {}, None, None
        self._queue = [r for r in self._queue if r.kind != "explain"]  # made for the previous network
        self.picture = None  # fitted to the previous network's input
        net = subject.net
        self.cls.blockSignals(True)
        self.cls.clear()
        self.cls.addItem("the predicted class", None)
        for k, name in enumerate(subject.label_names):
            self.cls.addItem(f"{k} · {name}", k)
        self.cls.blockSignals(False)
        self.layer.blockSignals(True)
        self.layer.clear()
        for node in conv_nodes(net):
            self.layer.addItem(f"{node.label} · {node.op.title} → {node.volume}", node.key)
        self.layer.setCurrentIndex(self.layer.count() - 1)
        self.layer.blockSignals(False)
        self._layer_changed()
        self.network_text.setText(f"{source}: {len(net.nodes) - 1} blocks, {sum(a.size for a in net.params.values()):,} "
                                  f"parameters, {net.classes} classes.")
        self.network_text.setStyleSheet(f"color: {GOOD_CSS};")
        self.view.clear("Pick an image and a method.")
        self._update_controls()
        self._image_changed()
        if self.data is not None:
            self._predict_test_set()

    def use_current_run(self) -> bool:
        """Copy the Train tab's run (paused or finished) and explain it."""
        trainer = self.dashboard.idle_trainer() if self.dashboard is not None else None
        if trainer is None:
            self.show_error("No weights to use yet", "Train a network in the Train tab, then pause or stop it "
                                                     "(or let it finish) to explain its weights.")
            return False
        state = {k: a.copy() for k, a in trainer.net.state().items()}  # the run holds still: copy it now
        arch, normalizer, names = trainer.arch.copy(), trainer.normalizer, list(trainer.label_names)
        source = f"the run at step {trainer.step:,} (epoch {trainer.epoch})"
        self._submit("subject", lambda progress, cancel: (Subject.copied(arch, state, normalizer, names), source), True)
        return True

    def open_weights(self, path=None) -> None:
        """Open a checkpoint (its own network and normaliser) or a weights file (the builder's network,
        the normaliser fitted on the training split as training does) in the background."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open weights or checkpoint", "", FILE_FILTER)
            if not path:
                return
        data = self.data
        arch = self.dashboard.arch.copy() if self.dashboard is not None and self.dashboard.arch is not None else None

        def load(progress, cancel):
            return _load_subject(Path(path), arch, data)

        self._submit("subject", load, True)

    @Slot(int)
    def open_test_image(self, index: int) -> None:
        """Show test image index (a point of the embedding, a top image)."""
        self.index.setValue(index)
        self._test_image_chosen()

    def _test_image_chosen(self) -> None:
        self.picture = None
        self._image_changed()

    def open_picture(self, path=None) -> None:
        """Explain a picture file, read in the background and fitted to the network's input volume."""
        if self.subject is None:
            self.status.setText("Choose a network first (above): the picture is fitted to its input.")
            return
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open a picture", "", PICTURE_FILTER)
            if not path:
                return
        volume = self.subject.net.nodes[0].volume
        self._submit("picture", lambda progress, cancel: (Path(path).name, read_image(path, volume)), False)

    def step_image(self, direction: int) -> None:
        """The previous (-1) or next (+1) test image, or mistake when 'mistakes only' is on."""
        i = self.index.value()
        if self.mistakes.isChecked() and self.probabilities is not None and self.data is not None:
            wrong = np.flatnonzero(self.probabilities.argmax(axis=1) != self.data.test_labels[:len(self.probabilities)])
            later = wrong[wrong > i] if direction > 0 else wrong[wrong < i][::-1]
            if len(later):
                self.index.setValue(int(later[0]))
            else:
                self.status.setText("No more mistakes in that direction.")
            return
        self.index.setValue(i + direction)

    def image(self) -> np.ndarray | None:
        """The image explained: uint8 (D, H, W), the opened picture or the chosen test image."""
        if self.picture is not None:
            return self.picture[1]
        return None if self.data is None else self.data.test_images[self.index.value()]

    # ---- reactions ----
    def _image_changed(self) -> None:
        image = self.image()
        if image is None:
            self.preview.clear()
            self.image_text.setText(f"<span style='color:{TEXT_DIM}'>Waiting for CIFAR-10 (loaded in the Train tab).</span>")
            return
        i = self.index.value()
        self.preview.setPixmap(pixmap_of(image, PREVIEW))
        names = self.subject.label_names if self.subject is not None else self.data.label_names
        if self.picture is not None:
            self.image_text.setText(f"picture <b>{self.picture[0]}</b> (no true class)")
            self._follow_image(None)
            return
        text = f"#{i} · true <b>{names[int(self.data.test_labels[i])]}</b>"
        if self.probabilities is not None and i < len(self.probabilities):
            p = self.probabilities[i]
            k = int(p.argmax())
            colour = GOOD_CSS if k == self.data.test_labels[i] else BAD_CSS
            text += f" · predicted <b style='color:{colour}'>{names[k]}</b> {p[k]:.0%}"
        self.image_text.setText(text)
        self._follow_image(i)

    def _follow_image(self, index: int | None) -> None:
        """After a new image: ring it in the embedding, explain it with a short method, or say that a
        long method's picture is of the previous image."""
        if self.view.marker is not None:
            self.view.mark(index)
            return
        method = METHODS[self.method.currentData()]
        if method.long and method.about_image and self.view.explanation is not None:
            self.view.clear("Press Explain for this image (the picture was of the previous one).")
        self._auto_run()

    def _method_changed(self) -> None:
        m = METHODS[self.method.currentData()]
        self.summary.setText(m.summary)
        for key, w in self.rows.items():
            self.form.setRowVisible(w, key in m.uses)
        self.steps.setValue(200 if m.name == "class-model" else 40)
        self._update_controls()
        self._auto_run()

    def _layer_changed(self) -> None:
        if self.subject is None or self.layer.currentData() is None:
            return
        depth = self.subject.net.plan.node(self.layer.currentData()).volume.depth
        self.filter.setRange(0, depth - 1)
        self.filter.setSuffix(f" of {depth}")

    def _auto_run(self) -> None:
        """Short methods follow every change; long ones wait for Explain."""
        if not METHODS[self.method.currentData()].long and self.ready() is None:
            self.run()

    def ready(self) -> str | None:
        """Why nothing can be explained now, or None."""
        if self.data is None and self.picture is None:
            return "Waiting for CIFAR-10 (the Train tab loads it)."
        if self.subject is None:
            return "Choose a network first (above)."
        return None

    def options(self) -> Options:
        return Options(cls=self.cls.currentData(), layer=self.layer.currentData(), filter=self.filter.value(),
                       patch=self.patch.value(), stride=self.stride.value(), epsilon=self.epsilon.value(),
                       steps=self.steps.value(), penalty=self.penalty.currentData())

    def run(self) -> None:
        """Explain the image with the chosen method and options (in the background)."""
        blocker = self.ready()
        if blocker is not None:
            self.status.setText(blocker)
            return
        subject, image, method, options = self.subject, self.image(), self.method.currentData(), self.options()
        test = None if self.data is None else ImageSet(self.data.test_images, self.data.test_labels)
        cache, index = self.cache, None if self.picture is not None else self.index.value()

        def job(progress, cancel):
            return explain(subject, method, image, options, test, cache, progress, cancel), image, index, subject.label_names

        self._submit("explain", job, METHODS[method].long)

    def _predict_test_set(self) -> None:
        subject, images = self.subject, self.data.test_images
        self._submit("predict", lambda progress, cancel: subject.predict_images(images, progress=progress,
                                                                                cancel=cancel), False)

    # ---- the background job ----
    def _submit(self, kind: str, run: Callable, long: bool) -> None:
        """Run a job now, or after the running one (which is cancelled when it is an explanation, now
        stale, or when a new network comes). A queued job of the same kind is replaced."""
        self._queue = [r for r in self._queue if r.kind != kind] + [_Request(kind, run, long)]
        if self._job is None:
            self._start(self._queue.pop(0))
        elif self._kind == "explain" or kind == "subject":
            self.cancel()

    def _start(self, request: _Request) -> None:
        cancel = self._cancel = threading.Event()
        subject = self.subject

        def job(report):
            if subject is not None:
                subject.net.interrupt = cancel.is_set  # a long pass stops within a layer
            try:
                return request.kind, request.run(report, cancel.is_set)
            finally:
                if subject is not None:
                    subject.net.interrupt = None

        worker = JobWorker(job)
        worker.progress.connect(self._on_progress)
        worker.result.connect(self._on_result)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_done)
        self._kind = request.kind
        self._job = Background(worker, f"convviz-explain-{request.kind}")
        self._show_progress(request.long)
        self.progress.setValue(0)
        self.status.setText({"subject": "Loading the network…", "predict": "Predicting the test set…"}.get(
            request.kind, "Working…"))
        self.status.setStyleSheet("")
        self._job.start()
        self._update_controls()

    def cancel(self) -> None:
        """Stop the running job at its next check (between steps, or between layers of a pass)."""
        if self._cancel is not None:
            self._cancel.set()
            self.status.setText("Cancelling…")

    @Slot(object)
    def _on_progress(self, fraction) -> None:
        self.progress.setValue(int(1000 * float(fraction)))

    @Slot(object)
    def _on_result(self, value) -> None:
        kind, payload = value
        if kind == "subject":
            subject, source = payload
            self.status.setText("")
            self.set_subject(subject, source)
        elif kind == "picture":
            self.picture = payload
            self._image_changed()
        elif kind == "predict":
            self.probabilities = payload
            right = float((payload.argmax(axis=1) == self.data.test_labels[:len(payload)]).mean())
            self.status.setText(f"Test accuracy {right:.1%}.")
            self._image_changed()
        else:
            explanation, image, index, names = payload
            self.result = explanation
            self.view.show_result(explanation, image, names, index)
            self.status.setText("")

    @Slot(object)
    def _on_failed(self, error) -> None:
        if isinstance(error, (Cancelled, Interrupted)):
            self.status.setText("Cancelled.")
            self.status.setStyleSheet(f"color: {TEXT_DIM};")
            return
        text = describe_error(error)
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {BAD_CSS};")
        if self._kind in ("subject", "picture"):
            self.show_error("Cannot use these weights" if self._kind == "subject" else "Cannot open the picture", text)

    @Slot()
    def _on_done(self) -> None:
        if self._job is None:
            return
        self._job.wait()  # the worker has quit its thread: returns at once
        self._job, self._cancel, self._kind = None, None, ""
        self._show_progress(False)
        if self._queue:
            self._start(self._queue.pop(0))
        self._update_controls()

    def busy(self) -> bool:
        return self._job is not None

    def _show_progress(self, on: bool) -> None:
        self.progress.setVisible(on)
        self.cancel_button.setVisible(on)

    def _update_controls(self) -> None:
        self.run_button.setEnabled(self.ready() is None)
        self.use_run_button.setEnabled(self.dashboard is not None)

    # ---- messages and shutdown ----
    def show_error(self, title: str, text: str) -> QMessageBox:
        """A window-modal message that does not block the caller (tests replace it)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def shutdown(self) -> None:
        """Cancel the job and wait for its thread (call before the window closes)."""
        self._queue = []
        if self._job is not None:
            self.cancel()
            self._job.wait()
            self._job = None


def _load_subject(path: Path, arch, data) -> tuple[Subject, str]:
    """A checkpoint (its network, weights, normaliser and class names) or a weights file (for arch, the
    normaliser a default training run fits on data's training split) -> (subject, where it came from)."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if checkpoint.is_checkpoint(path):
        saved = checkpoint.read(path)  # every field checked (CheckpointError, a ValueError, says which)
        return (Subject.copied(saved.arch, saved.state, saved.normalizer, saved.meta["label_names"]),
                f"checkpoint {path.name}")
    if arch is None:
        raise ValueError("a weights file holds no network: build the network in the Builder first, or open a checkpoint")
    if data is None:
        raise ValueError("a weights file holds no normaliser: wait until CIFAR-10 is loaded (Train tab), then open it again")
    try:  # bounded by what arch's network holds
        params, buffers = state_shapes(compile_plan(arch))
        arrays = read_npz(path, expect={**params, **buffers})
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except ValueError as e:
        raise ValueError(f"{path.name} cannot be read: {e}") from None
    config = TrainConfig()
    normalizer = fit_normalizer(data.train_images, config.val_split, config.seed)
    return Subject.copied(arch, arrays, normalizer, data.label_names), f"weights {path.name} on the builder's network"
