"""The Train tab: data, settings and controls on the left; live views (curves, filters, activations,
predictions, confusion matrix) on the right. Training runs in a QThread (ui.worker); this widget
steers it (pause and stop through the worker, live hyperparameters and the probe image through the
trainer's thread-safe methods) and draws what the events carry, at a bounded rate."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QMessageBox, QPushButton,
                               QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from ...model import infer
from ...training import TrainConfig, Trainer
from ...training.fits import data_problem
from ..builder.totals import training_blocker
from ..worker import Background, JobWorker, TrainingWorker, describe_error
from .activations import ActivationsView
from .confusion import ConfusionView
from .curves import CurvesView
from .data_panel import DataPanel
from .filters import FiltersView
from .predictions import PredictionsView
from .probe import ProbeJobs
from .settings import SettingsPanel
from .style import BAD_CSS, GROUP_CSS, configure_pyqtgraph

REFRESH_MS = 500  # the status and the visible view redraw at most twice a second ...
VIEW_SECONDS = {FiltersView: 1.0, ActivationsView: 1.0}  # ... the picture views at most once


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def layer_titles(net) -> dict[str, str]:
    """'0 · Conv → 32x32x16' (a container's merged output: '3 · Residual + → 16x16x32') by node key, for
    every node of an engine Network's plan after the input, in plan order."""
    return {n.key: f"{n.label} · {n.op.title}{' ' + n.op.merge_title if n.is_merge else ''} → {n.volume}"
            for n in net.nodes[1:]}


def live_hyper(trainer) -> dict:
    """The hyperparameters a run uses now (live changes included): lr (before the schedule), weight
    decay and, for SGD, momentum."""
    current = {"lr": trainer.base_lr, "weight_decay": trainer.optimizer.weight_decay}
    if hasattr(trainer.optimizer, "momentum"):
        current["momentum"] = trainer.optimizer.momentum
    return current


class TrainDashboard(QWidget):
    """Press Start and watch the network learn.

    With autoload, CIFAR-10 is searched for (data_folder first) and loaded in the background when
    the dashboard is first shown. set_architecture(arch, inference) follows the builder; shutdown()
    stops a run and waits for every background thread (call it before the window closes).
    runFinished(reason) is emitted when a run ends: a FinishedEvent reason, or "failed".
    """

    runFinished = Signal(str)

    def __init__(self, parent=None, data_folder=None, autoload: bool = True):
        configure_pyqtgraph()
        super().__init__(parent)
        self.setStyleSheet(GROUP_CSS)
        self.arch = None
        self.inference = None
        self.trainer = None              # the trainer of the current or last run
        self.loaded_trainer = None       # a trainer from a checkpoint, waiting for Start
        self.checkpoint_path: Path | None = None
        self._run: Background | None = None
        self._load: Background | None = None
        self._last_step = None
        self._epoch_seconds: list[float] = []
        self._steps_at_save = 0
        self._finished_reason = "failed"
        self._status_dirty = False
        self._drawn_at: dict = {}  # view -> time.monotonic() of its last redraw
        self._pause_requested = False   # the user pressed Pause (the worker holds after the current step)
        self._paused = False            # the worker confirmed it holds: the trainer is safe to save
        self._pending_checkpoint: Path | None = None  # the checkpoint being read by the load job
        self.snapshot_rate = TrainConfig().snapshot_rate  # snapshots per second for the views

        self.data_panel = DataPanel()
        self.data_panel.loaded.connect(self._data_loaded)
        self.data_panel.failed.connect(self._data_failed)
        self.data_panel.idle.connect(self._update_controls)
        self.settings = SettingsPanel()
        self.settings.liveChanged.connect(self._live_hyper)

        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Train the network from the builder on the data above")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        self.save_button = QPushButton("Save checkpoint…")
        self.save_button.setToolTip("Save weights, optimiser state, position and curves (while paused or stopped)")
        self.load_button = QPushButton("Load checkpoint…")
        self.load_button.setToolTip("Continue a saved run exactly where it stopped")
        self.save_button.clicked.connect(lambda: self.save_checkpoint())
        self.load_button.clicked.connect(lambda: self.load_checkpoint())
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet(f"color: {BAD_CSS};")
        controls = QGroupBox("Run")
        grid = QVBoxLayout(controls)
        row = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.stop_button):
            row.addWidget(b)
        grid.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addWidget(self.load_button)
        grid.addLayout(row)
        grid.addWidget(self.reason)

        status = QGroupBox("Status")
        form = QFormLayout(status)
        self.status = {}
        for key, title in (("state", "State"), ("epoch", "Epoch"), ("step", "Step"), ("speed", "Speed"),
                           ("epoch_time", "Time per epoch"), ("left", "Time left"), ("lr", "Learning rate")):
            self.status[key] = QLabel("—")
            self.status[key].setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.status[key].setWordWrap(True)
            form.addRow(title, self.status[key])
        self.message = QLabel()
        self.message.setWordWrap(True)
        form.addRow(self.message)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        for w in (self.data_panel, self.settings, controls, status):
            side_layout.addWidget(w)
        side_layout.addStretch(1)
        side_scroll = QScrollArea()
        side_scroll.setWidgetResizable(True)
        side_scroll.setWidget(side)
        side_scroll.setMinimumWidth(240)  # narrower windows scroll; the splitter starts it at full width
        side_width = side.sizeHint().width() + side_scroll.verticalScrollBar().sizeHint().width() + 4

        self.curves = CurvesView()
        self.filters = FiltersView()
        self.activations = ActivationsView()
        self.activations.probeChanged.connect(self._probe_changed)
        self.probe_jobs = ProbeJobs(self)
        self.activations.pictureChosen.connect(self.probe_jobs.open_picture)
        self.probe_jobs.picture.connect(self.activations.set_picture)
        self.probe_jobs.snapshot.connect(self._on_snapshot)
        self.probe_jobs.failed.connect(lambda title, text: self.show_error(title, text))
        self.probe_jobs.idle.connect(self._update_controls)
        self.predictions = PredictionsView()
        self.confusion = ConfusionView()
        self.views = QTabWidget()
        self.views.addTab(self.curves, "Curves")
        self.views.addTab(self.filters, "Filters")
        self.views.addTab(self.activations, "Activations")
        self.views.addTab(self.predictions, "Predictions")
        self.views.addTab(self.confusion, "Confusion matrix")
        self.views.setMinimumSize(400, 300)  # the views squeeze rather than force a wide window
        self.views.currentChanged.connect(lambda _: self.refresh_views(force=True))

        splitter = QSplitter()
        splitter.addWidget(side_scroll)
        splitter.addWidget(self.views)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([side_width, 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh_views)
        self.timer.start()
        self._update_controls()
        self._locate_on_show = autoload  # search (and load) when first shown, not in a hidden tab
        self._data_folder = data_folder

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._locate_on_show:
            self._locate_on_show = False
            if self.data is None:
                self.data_panel.locate(self._data_folder)

    # ---- inputs ----
    @property
    def data(self):
        return self.data_panel.data

    def set_data(self, data) -> None:
        """Train on an already loaded Cifar10 (for example a slice of it) or ImageFolder."""
        self.data_panel.set_data(data)

    def set_architecture(self, arch, inference=None) -> None:
        """The network to train from the next Start (a run in progress keeps its own)."""
        self.arch = arch.copy()
        self.inference = inference if inference is not None else infer(self.arch)
        self.data_panel.set_input(self.arch.input)  # an image folder is read again to fit it
        self._update_controls()

    def _data_failed(self, title: str, text: str) -> None:
        self.show_error(title, text)

    def _data_loaded(self, data) -> None:
        self.predictions.set_data(data.test_images, data.test_labels, data.label_names)
        self.confusion.set_data(data.test_images, data.test_labels, data.label_names)
        self.activations.set_test_count(len(data.test_labels))
        self.loaded_trainer = None
        self._update_controls()

    # ---- state ----
    def running(self) -> bool:
        return self._run is not None

    def idle_trainer(self):
        """The trainer of the current or last run while its weights hold still (the run paused, or
        ended), for a copy; None while a step may run or before any run."""
        return self.trainer if self.trainer is not None and (not self.running() or self._paused) else None

    def start_blocker(self) -> str | None:
        """Why Start is disabled, as a sentence for the user, or None."""
        if self.running():
            return None
        if self.data_panel.busy():
            return "Wait until the data is loaded (Data, above)."
        if self.data is None:
            return "Load or download CIFAR-10, or choose an image folder, first (Data, above)."
        if self.probe_jobs.busy():
            return "Wait until the probe image is shown."
        if self.loaded_trainer is not None:
            return None
        return self.network_blocker()

    def network_blocker(self) -> str | None:
        """Why the builder's network cannot train on the data (CIFAR-10 until other data is loaded):
        invalid, or its input or classes do not fit; as a sentence for the user, or None."""
        if self.arch is None:
            return "Build a network in the builder first."
        invalid = training_blocker(self.inference)
        if invalid is not None:
            return f"Cannot train: {invalid}"
        return data_problem(self.arch, self.data, refit=True)

    def _update_controls(self) -> None:
        running = self.running()
        paused = running and self._paused
        blocker = self.start_blocker()
        self.start_button.setEnabled(not running and blocker is None)
        self.start_button.setText("Continue run" if self.loaded_trainer is not None else "Start")
        self.reason.setText("" if running else blocker or "")
        self.reason.setVisible(bool(blocker) and not running)
        self.pause_button.setEnabled(running and self.trainer is not None)
        self.pause_button.setText("Resume" if running and self._pause_requested else "Pause")
        self.stop_button.setEnabled(running)
        self.save_button.setEnabled(self.trainer is not None and (paused or not running))
        self.load_button.setEnabled(not running and self.data is not None and not self.data_panel.busy()
                                    and self._load is None)
        self.settings.set_running(running)
        self.data_panel.setEnabled(not running)

    # ---- controls ----
    def start(self) -> None:
        """Start a new run (or continue a loaded checkpoint) in the worker thread."""
        if self.running() or self.start_blocker() is not None:
            return
        config = self.settings.config()
        config.snapshot_rate = self.snapshot_rate
        loaded, self.loaded_trainer = self.loaded_trainer, None
        if loaded is not None:
            loaded.config.epochs, loaded.config.max_steps = config.epochs, config.max_steps
            current = live_hyper(loaded)
            changed = {k: v for k, v in (("lr", config.lr), ("momentum", config.momentum),
                                         ("weight_decay", config.weight_decay)) if k in current and v != current[k]}
            if changed:  # only what the user edited: an untouched form continues exactly
                loaded.set_hyper(**changed)
            make = lambda: loaded  # noqa: E731
        else:
            arch, data = self.arch.copy(), self.data
            make = lambda: Trainer(arch, data, config)  # noqa: E731
            self.curves.clear()
            self.filters.clear()
            self.activations.clear()
            self._epoch_seconds = []
        self.trainer = None
        self._last_step = None
        self._steps_at_save = 0
        self._pause_requested = self._paused = False
        worker = TrainingWorker(make)
        worker.ready.connect(self._on_ready)
        worker.paused.connect(self._on_paused)
        worker.steps.connect(self._on_steps)
        worker.snapshot.connect(self._on_snapshot)
        worker.epoch.connect(self._on_epoch)
        worker.diverged.connect(self._on_diverged)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_done)
        self._run = Background(worker, "convviz-training")
        self._set_state("Preparing (normalising the data, building the network)…")
        self.message.clear()
        self._run.start()
        self._update_controls()

    def toggle_pause(self) -> None:
        """Pause after the current step (confirmed by the worker: then Save checkpoint is safe), or resume."""
        if not self.running():
            return
        worker = self._run.worker
        self._pause_requested = not self._pause_requested
        if self._pause_requested:
            worker.pause()
            self._set_state("Pausing after the current step…")
        else:
            worker.resume()
            self._set_state("Training")
        self._update_controls()

    @Slot(bool)
    def _on_paused(self, paused: bool) -> None:
        """The worker holds (True) or goes on (False). A hold confirmed after Resume or Stop was
        pressed is stale: the worker is already leaving it, so saving would race with training."""
        self._paused = paused and self._pause_requested
        if self._paused:
            self._set_state("Paused: Save checkpoint is available")
        self._update_controls()

    def stop(self) -> None:
        """Ask the run to stop after the current step; the views keep the last state."""
        if self._run is not None:
            self._run.worker.request_stop()
            self._pause_requested = self._paused = False  # a hold ends now: no saving while it winds down
            self._set_state("Stopping…")
            self._update_controls()

    def _live_hyper(self, change: dict) -> None:
        if self.trainer is not None and self.running():
            try:
                self.trainer.set_hyper(**change)
            except ValueError as error:
                self.show_error("Cannot change the setting", str(error))

    def _probe_changed(self, probe) -> None:
        """A test-set index, None (the next training image) or a picture: shown with the next snapshot of
        a run, or at once (in the background) by a trainer that is not running."""
        if self.trainer is None:  # the probe is passed through the network of a run: none yet
            self.activations.caption.setText("The chosen image appears with the next snapshot once training runs.")
            return
        try:
            self.trainer.set_probe(probe)
        except ValueError as error:  # a test image the last run's data does not have
            self.activations.caption.setText(f"Cannot show it: {error}.")
            return
        if not self.running() and probe is not None:
            self.probe_jobs.snapshot_of(self.trainer)
            self._update_controls()

    # ---- events from the worker: slots of this GUI-thread object, so Qt queues them here ----
    @Slot(object)
    def _on_ready(self, trainer) -> None:
        self.trainer = trainer
        self.checkpoint_path = self.checkpoint_path if trainer.step else None
        self._steps_at_save = trainer.step
        net = trainer.net
        titles = layer_titles(net)
        self.filters.set_layer_names({key: titles[key] for key in titles if net.plan.node(key).op.has_filters})
        self.activations.set_network(list(titles.values()), trainer.label_names)
        trainer.set_probe(self.activations.probe())
        if trainer.warnings:  # batch norm on single images, memory near the limit
            self.message.setStyleSheet(f"color: {BAD_CSS};")
            self.message.setText(" ".join(trainer.warnings))
        self._set_state("Training")
        self._update_controls()

    @Slot(object)
    def _on_steps(self, events) -> None:
        self.curves.add_steps(events)
        self._last_step = events[-1]
        self._status_dirty = True

    def _show_step_status(self) -> None:
        """The status lines for the latest step (on the refresh timer, not for every step)."""
        e = self._last_step
        config = self.trainer.config if self.trainer is not None else self.settings.config()
        self.status["epoch"].setText(f"{e.epoch + 1} of {config.epochs}")
        self.status["step"].setText(f"{e.step:,} (batch {e.batch_index + 1} of {e.batches_per_epoch})")
        self.status["speed"].setText(f"{e.images_per_second:,.0f} images/s")
        self.status["lr"].setText(f"{e.lr:.6g}")
        total = config.epochs * e.batches_per_epoch
        if config.max_steps:
            total = min(total, config.max_steps)
        if e.images_per_second > 0:
            per_step = config.batch_size / e.images_per_second
            self.status["left"].setText(f"about {_duration((total - e.step) * per_step)}")
            if not self._epoch_seconds:
                self.status["epoch_time"].setText(f"about {_duration(e.batches_per_epoch * per_step)} (estimate)")

    @Slot(object)
    def _on_snapshot(self, snapshot) -> None:
        self.filters.set_snapshot(snapshot)
        self.activations.set_snapshot(snapshot)

    @Slot(object)
    def _on_epoch(self, event) -> None:
        self.curves.add_epoch(event)
        if event.test_probabilities is not None:
            self.predictions.set_probabilities(event.test_probabilities)
        self.confusion.set_epoch(event)
        self._epoch_seconds.append(event.seconds)
        self.status["epoch_time"].setText(_duration(event.seconds))
        self.refresh_views()

    @Slot(object)
    def _on_diverged(self, event) -> None:
        self.message.setText(event.message)
        self.message.setStyleSheet(f"color: {BAD_CSS};")
        self.show_error("Training diverged", event.message)

    @Slot(object)
    def _on_finished(self, event) -> None:
        words = {"completed": "Finished: all epochs done", "stopped": "Stopped",
                 "max_steps": "Finished: the step limit was reached", "diverged": "Stopped: the loss diverged"}
        self._set_state(f"{words.get(event.reason, event.reason)} after {event.steps:,} steps, "
                        f"{event.epochs} epoch{'s' * (event.epochs != 1)}")
        self.status["left"].setText("—")
        self._finished_reason = event.reason

    @Slot(str)
    def _on_failed(self, text: str) -> None:
        self._set_state("Failed (see the message)")
        self._finished_reason = "failed"
        self.show_error("Training failed", text)

    @Slot()
    def _on_done(self) -> None:
        if self._run is None:
            return
        self._run.wait()  # the worker has quit its thread: returns at once
        self._run = None
        self._pause_requested = self._paused = False
        self.refresh_views(force=True)
        self._update_controls()
        self.runFinished.emit(self._finished_reason)
        self._finished_reason = "failed"

    def _set_state(self, text: str) -> None:
        self.status["state"].setText(text)

    # ---- views ----
    def refresh_views(self, force: bool = False) -> None:
        """Redraw the status and the visible view if their data changed (the timer calls this
        REFRESH_MS apart)."""
        if self._status_dirty and self._last_step is not None:
            self._status_dirty = False
            self._show_step_status()
        view = self.views.currentWidget()
        if view is None or not (force or self.isVisible()):
            return
        now = time.monotonic()
        if force or now - self._drawn_at.get(view, 0.0) >= VIEW_SECONDS.get(type(view), 0.0):
            self._drawn_at[view] = now
            view.refresh(force=force)

    # ---- checkpoints ----
    def save_checkpoint(self, path=None) -> bool:
        """Write the current run to path (asked for when None); only while paused or stopped."""
        if self.trainer is None or (self.running() and not self._paused):
            self.show_error("Cannot save now", "Pause or stop training before saving a checkpoint.")
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save checkpoint", str(self.checkpoint_path or
                                                  "convviz-checkpoint.npz"), "Checkpoints (*.npz)")
            if not path:
                return False
            if not Path(path).suffix:  # "run1" -> run1.npz, which Load checkpoint lists
                path += ".npz"
        try:
            self.trainer.save_checkpoint(path)
        except (OSError, ValueError) as error:  # the run stays in memory: offer another place
            if self.ask_save_elsewhere(describe_error(error)):
                return self.save_checkpoint()
            return False
        self.checkpoint_path = Path(path)
        self._steps_at_save = self.trainer.step
        self.message.setStyleSheet("")
        self.message.setText(f"Saved step {self.trainer.step:,} to {path}.")
        return True

    def load_checkpoint(self, path=None) -> None:
        """Read a checkpoint in the background; Start (then 'Continue run') resumes it exactly."""
        if self.running() or self.data is None or self._load is not None:
            return
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Load checkpoint", "", "Checkpoints (*.npz)")
            if not path:
                return
        data = self.data
        worker = JobWorker(lambda report: Trainer.from_checkpoint(path, data))
        worker.result.connect(self._checkpoint_loaded)
        worker.failed.connect(self._checkpoint_failed)
        worker.done.connect(self._load_done)
        self._pending_checkpoint = Path(path)
        self._load = Background(worker, "convviz-checkpoint")
        self.message.setText(f"Loading {path}…")
        self._load.start()
        self._update_controls()

    @Slot(object)
    def _checkpoint_loaded(self, trainer) -> None:
        self.loaded_trainer = self.trainer = trainer
        self.checkpoint_path = self._pending_checkpoint
        self.settings.set_config(dataclasses.replace(trainer.config, **live_hyper(trainer)))
        h = trainer.history
        self.curves.load_history(h.get("step", []), h.get("loss", []), h.get("epoch", []),
                                 h.get("train_accuracy", []), h.get("val_accuracy", []), h.get("test_accuracy", []))
        self.filters.clear()
        self.activations.clear()
        self.message.setStyleSheet("")
        self.message.setText(f"Loaded {self.checkpoint_path.name}: step {trainer.step:,}, {trainer.epoch} epochs done, "
                             f"with its own {len(trainer.arch.layers)}-layer network. Press Continue run to go on "
                             "exactly from there.")
        self.refresh_views(force=True)

    @Slot(object)
    def _checkpoint_failed(self, error) -> None:
        text = describe_error(error)
        self.message.setText("")
        self.show_error("Cannot load the checkpoint", text)

    @Slot()
    def _load_done(self) -> None:
        if self._load is not None:
            self._load.wait()
            self._load = None
        self._update_controls()

    # ---- messages and shutdown ----
    def show_error(self, title: str, text: str) -> QMessageBox:
        """Tell the user in a window-modal message box that does not block the caller (tests
        replace this method to observe messages)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def ask_save_elsewhere(self, text: str) -> bool:
        """A save failed (text says why): True when the user wants to choose another file. Modal; tests
        replace it."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Cannot save the checkpoint",
                          f"{text}\n\nThe run is still here: save it to another file (another disk or folder)?",
                          QMessageBox.StandardButton.Cancel, self)
        elsewhere = box.addButton("Save elsewhere…", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(elsewhere)
        box.exec()
        return box.clickedButton() is elsewhere

    def shutdown(self) -> None:
        """Stop the run and wait for it and every background job; keep a run that was saved to a
        checkpoint during this session saved up to its last step."""
        self.timer.stop()
        if self._run is not None:
            self._run.worker.request_stop()
            self._run.wait()
            self._run = None
            self._pause_requested = self._paused = False
            if self.trainer is not None and self.checkpoint_path is not None and self.trainer.step > self._steps_at_save:
                self.save_checkpoint(self.checkpoint_path)  # if it fails, the user may save elsewhere
        if self._load is not None:
            self._load.wait()
            self._load = None
        self.probe_jobs.shutdown()
        self.data_panel.shutdown()
