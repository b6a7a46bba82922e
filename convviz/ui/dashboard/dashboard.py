"""The Train tab: run controls, data, settings and sanity checks on the left; the run's state and live
views (curves, filters, activations, predictions, confusion matrix, health) on the right; messages in
a banner across the top. Training runs in a QThread (ui.worker); this widget steers it (pause and stop through
the worker, live hyperparameters and the probe image through the trainer's thread-safe methods) and
draws what the events carry, at a bounded rate. Every run keeps a resume file in the app's data
folder (training.resume), replaced at each epoch end and deleted when the run ends here."""
from __future__ import annotations

import dataclasses
import html
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (QFileDialog, QFrame, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QMessageBox,
                               QPushButton, QSplitter, QTabWidget, QToolButton, QVBoxLayout, QWidget)

from ...model import infer
from ...model.names import layer_titles
from ...training import TrainConfig, Trainer
from ...training.metrics import write_metrics
from ...training.resume import discard_run, new_run_path
from ...training.state import RunState, describe, end_of_run
from ...training.fits import data_problem
from ..builder.totals import training_blocker
from ..worker import Background, JobWorker, TrainingWorker, describe_error
from .activations import ActivationsView
from .confusion import ConfusionView
from .curves import IMAGE_SUFFIXES, CurvesView
from .data_panel import DataPanel
from .filters import FiltersView
from .health import HealthView
from .predictions import PredictionsView
from .probe import ProbeJobs
from .sanity_panel import SanityPanel
from .settings import SettingsPanel, remembered
from .style import BAD_CSS, GOOD_CSS, GROUP_CSS, TEXT_DIM, configure_pyqtgraph, side_scroll

REFRESH_MS = 500  # the status and the other views redraw at most twice a second ...
PICTURE_SECONDS = {FiltersView: 1.0, ActivationsView: 1.0}  # ... the picture views at most once
# ... the curves once (four plots: each redraw costs ~20 ms of the GUI thread, which on two cores stalls
# the training threads), and Health (four plots, ~40 curves: ~90 ms) every 3 s, when a new sample is in
VIEW_SECONDS = {**PICTURE_SECONDS, CurvesView: 1.0, HealthView: 3.0}
PROBE_VIEWS = (ActivationsView,)  # the picture views that show the probe: for the others, snapshots skip it
STATE_COLOURS = {RunState.TRAINING: GOOD_CSS, RunState.DIVERGED: BAD_CSS, RunState.FAILED: BAD_CSS}


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _watching(trainer, health_rate: float, snapshot_rate: float, probe: bool):
    """trainer, yielding health samples and snapshots from its first step (see Trainer.watch_health and
    watch_snapshots)."""
    trainer.watch_health(health_rate)
    trainer.watch_snapshots(snapshot_rate, probe)
    return trainer


def _total_steps(config: TrainConfig, per_epoch: int) -> int:
    """The steps a run takes in all: its epochs, or its step limit if that comes first."""
    total = config.epochs * per_epoch
    return total if config.max_steps is None else min(total, config.max_steps)


def live_hyper(trainer) -> dict:
    """The hyperparameters a run uses now (live changes included): lr (before the schedule), weight
    decay and, for SGD, momentum."""
    current = {"lr": trainer.base_lr, "weight_decay": trainer.optimizer.weight_decay}
    if hasattr(trainer.optimizer, "momentum"):
        current["momentum"] = trainer.optimizer.momentum
    return current


class Banner(QFrame):
    """A message across the top of the tab, where the user looks: red for a problem, green for news.
    Hidden until there is something to say; the × hides it."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip("Hide this message")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.error = False
        self.hide()

    def show_message(self, title: str, text: str = "", error: bool = False) -> None:
        """title in bold (with a colon when text follows), then text; both plain text, wrapped."""
        colour = BAD_CSS if error else GOOD_CSS
        self.error = error
        self.setStyleSheet(f"#banner {{ border: 1px solid {colour}; border-left: 5px solid {colour}; "
                           f"border-radius: 4px; }}")
        body = html.escape(text).replace("\n", "<br>")
        self.label.setText(f"<b>{html.escape(title)}:</b> {body}" if body else f"<b>{html.escape(title)}</b>")
        self.show()


class TrainDashboard(QWidget):
    """Press Start and watch the network learn.

    With autoload, CIFAR-10 is searched for (data_folder first) and loaded in the background when
    the dashboard is first shown. With settings (a QSettings), the data folder, the training settings
    and the layout are read from it now and written by save_settings() (the data folder as soon as
    it loads). set_architecture(arch, inference) follows the builder; shutdown() stops a run and
    waits for every background thread (call it before the window closes).
    stateChanged(str) says the run's state in training.state's words whenever it changes;
    notice(str) repeats each message of the banner in a line (for a status bar).
    runFinished(reason) is emitted when a run ends: a FinishedEvent reason, or "failed".
    """

    stateChanged = Signal(str)
    notice = Signal(str)
    runFinished = Signal(str)

    def __init__(self, parent=None, data_folder=None, autoload: bool = True, settings: QSettings | None = None):
        configure_pyqtgraph()
        super().__init__(parent)
        self.setStyleSheet(GROUP_CSS)
        self.arch = None
        self.inference = None
        self.trainer = None              # the trainer of the current or last run
        self.loaded_trainer = None       # a trainer from a checkpoint, waiting for Start
        self.checkpoint_path: Path | None = None
        self.run_path: Path | None = None  # the current run's resume file
        self.store = settings
        self.state = RunState.READY
        self.state_text = ""
        self._ended: tuple[RunState, str] | None = None  # how the last run ended, shown until something new
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
        self._resume_path: Path | None = None  # an interrupted run to continue once the data is loaded
        self._hyper_now: dict = {}      # the live settings as last sent to the trainer
        self._first_step = 1            # the first step of the current run
        self._autosave_problems: list[str] = []  # appended in the worker thread, read at each epoch
        # snapshots per second while a picture view is shown (none otherwise): as often as it redraws, no
        # more (one for a PROBE_VIEWS view costs the training thread a forward and backward pass of the
        # probe, 22 ms for ResNet-20; one of the filters alone, 0.1 ms)
        self.snapshot_rate = 1.0 / min(PICTURE_SECONDS.values())
        self._snapshot_step: int | None = None  # the step of the latest probe snapshot shown or asked for

        self.banner = Banner()
        self.data_panel = DataPanel()
        self.data_panel.loaded.connect(self._data_loaded)
        self.data_panel.failed.connect(self._data_failed)
        self.data_panel.idle.connect(self._update_controls)
        self.settings = SettingsPanel()
        self.settings.liveChanged.connect(self._live_hyper)

        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Train the network from the builder on the data (see Data)")
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

        self.sanity = SanityPanel(self._sanity_inputs)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 4, 0)
        for w in (controls, self.data_panel, self.settings, self.sanity):
            side_layout.addWidget(w)
        side_layout.addStretch(1)
        self.side_scroll = side_scroll(side)

        status = QFrame()
        status.setObjectName("runStatus")
        form = QGridLayout(status)
        form.setContentsMargins(6, 2, 6, 2)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(2)
        self.status = {"state": QLabel()}
        self.status["state"].setWordWrap(True)
        self.status["state"].setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addWidget(self.status["state"], 0, 0, 1, 6)
        for n, (key, title) in enumerate((("epoch", "Epoch"), ("step", "Step"), ("speed", "Speed"),
                                          ("epoch_time", "Time per epoch"), ("left", "Time left"),
                                          ("lr", "Learning rate"))):
            name = QLabel(title)
            name.setStyleSheet(f"color: {TEXT_DIM};")
            self.status[key] = QLabel("—")
            self.status[key].setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addWidget(name, 1 + n // 3, 2 * (n % 3))
            form.addWidget(self.status[key], 1 + n // 3, 2 * (n % 3) + 1)
        for column in (1, 3, 5):
            form.setColumnStretch(column, 1)

        self.curves = CurvesView()
        self.curves.save_image_button.clicked.connect(lambda: self.save_curves())
        self.metrics_button = QPushButton("Save metrics (CSV)…")
        self.metrics_button.setToolTip("Save the loss, accuracy and learning rate of every step and the figures "
                                       "of every epoch as a CSV table")
        self.metrics_button.clicked.connect(lambda: self.save_metrics())
        self.curves.bar.addWidget(self.metrics_button)
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
        self.health = HealthView()
        self.views = QTabWidget()
        self.views.addTab(self.curves, "Curves")
        self.views.addTab(self.filters, "Filters")
        self.views.addTab(self.activations, "Activations")
        self.views.addTab(self.predictions, "Predictions")
        self.views.addTab(self.confusion, "Confusion matrix")
        self.views.addTab(self.health, "Health")
        self.views.setMinimumSize(400, 300)  # the views squeeze rather than force a wide window
        self.views.currentChanged.connect(lambda _: self.refresh_views(force=True))
        self.views.currentChanged.connect(lambda _: self._watch_snapshots())
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(status)
        right_layout.addWidget(self.views, 1)

        self.splitter = QSplitter()
        self.splitter.setObjectName("trainColumns")
        self.splitter.addWidget(self.side_scroll)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(0, False)
        self.splitter.setSizes([self.side_scroll.minimumWidth(), 1000])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh_views)
        self.timer.start()
        self._locate_on_show = autoload  # search (and load) when first shown, not in a hidden tab
        self._data_folder = data_folder
        if settings is not None:
            self._restore_settings(settings)
        self._update_controls()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._watch_snapshots()
        if self._locate_on_show:
            self._locate_on_show = False
            if self.data is None:
                self.data_panel.locate(self._data_folder)
                self._update_controls()

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self._watch_snapshots()

    # ---- remembered between starts ----
    def _restore_settings(self, store: QSettings) -> None:
        self._data_folder = self._data_folder or remembered(store, "data/folder", str)
        self.settings.restore(store, "train/settings")
        splitter = remembered(store, "train/columns", QByteArray)
        if splitter is not None:
            self.splitter.restoreState(splitter)
        view = remembered(store, "train/view", int)
        if view is not None and 0 <= view < self.views.count():
            self.views.setCurrentIndex(view)
        log = remembered(store, "train/logScale", bool)
        if log is not None:
            self.curves.log_scale.setChecked(log)

    def save_settings(self) -> None:
        """Write the training settings and the layout to the QSettings given at construction."""
        if self.store is None:
            return
        self.settings.remember(self.store, "train/settings")
        self.store.setValue("train/columns", self.splitter.saveState())
        self.store.setValue("train/view", self.views.currentIndex())
        self.store.setValue("train/logScale", self.curves.log_scale.isChecked())

    # ---- inputs ----
    @property
    def data(self):
        return self.data_panel.data

    def set_data(self, data) -> None:
        """Train on an already loaded Cifar10 (for example a slice of it) or ImageFolder."""
        self.data_panel.set_data(data)

    def set_architecture(self, arch, inference=None) -> None:
        """The network to train from the next Start (a run in progress keeps its own; Start copies it)."""
        self.arch = arch
        self.inference = inference if inference is not None else infer(self.arch)
        self.data_panel.set_input(self.arch.input)  # an image folder is read again to fit it
        self._update_controls()

    def _data_failed(self, title: str, text: str) -> None:
        self.show_error(title, text)
        self._update_controls()

    def _data_loaded(self, data) -> None:
        self.predictions.set_data(data.test_images, data.test_labels, data.label_names)
        self.confusion.set_data(data.test_images, data.test_labels, data.label_names)
        self.activations.set_test_count(len(data.test_labels))
        self.curves.set_classes(len(data.label_names))
        self.loaded_trainer = None
        self._ended = None
        if self.store is not None and data.source is not None:
            self.store.setValue("data/folder", str(data.source))
        self._update_controls()
        if self._resume_path is not None:
            self.load_checkpoint(self._resume_path)

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
            return "Wait until the data is loaded (see Data)."
        if self.data is None:
            return "Load or download CIFAR-10, or choose an image folder, first (see Data)."
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

    def _set_state(self, state: RunState, detail: str = "") -> None:
        """Show the run's state here and tell the window (stateChanged) when its words change."""
        text = describe(state, detail)
        if text == self.state_text:
            return
        label = self.status["state"]
        if state is not self.state or not self.state_text:  # a style sheet costs a restyle: only when the colour changes
            colour = STATE_COLOURS.get(state)
            label.setStyleSheet(f"font-weight: bold; color: {colour};" if colour else "font-weight: bold;")
        self.state, self.state_text = state, text
        label.setText(text)
        self.stateChanged.emit(text)

    def _idle_state(self) -> None:
        """The state while no run goes on: loading, how the last run ended, or ready."""
        if self.running():
            return
        if self._load is not None:
            self._set_state(RunState.LOADING, f"reading the checkpoint {self._pending_checkpoint.name}")
        elif self.data_panel.busy():
            self._set_state(RunState.LOADING, self.data_panel.activity())
        elif self._ended is not None:
            self._set_state(*self._ended)
        elif self.loaded_trainer is not None:
            self._set_state(RunState.READY, f"press Continue run to go on from step {self.loaded_trainer.step:,}")
        else:  # what the builder's network lacks first: the status bar shows this on the Builder tab too
            self._set_state(RunState.READY, self.network_blocker() or self.start_blocker() or "press Start to train")

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
        self.metrics_button.setEnabled(self.trainer is not None)
        self.settings.set_running(running)
        self.data_panel.setEnabled(not running)
        no_data = "Load the data first (Data, above)."
        self.sanity.set_blocker("Pause or stop training first." if running and not paused else
                                self.network_blocker() if self.data is not None else no_data)
        self._idle_state()

    # ---- controls ----
    def start(self) -> None:
        """Start a new run (or continue a loaded checkpoint) in the worker thread."""
        if self.running() or self.start_blocker() is not None:
            return
        config = self.settings.config()
        config.snapshot_rate = self._snapshots_wanted()
        loaded, self.loaded_trainer = self.loaded_trainer, None
        resumed, self._resume_path = self._resume_path, None
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
            self.health.clear()
            self._epoch_seconds = []
        self.run_path = resumed if resumed is not None and loaded is not None else new_run_path()
        self._first_step = (loaded.step if loaded is not None else 0) + 1  # the trainer may be past it when ready arrives
        if loaded is None:
            self.checkpoint_path = None  # a new run is not the checkpoint saved or loaded before
        self.trainer = None
        self._last_step = None
        self._ended = None
        self._steps_at_save = 0
        self._pause_requested = self._paused = False
        self._autosave_problems = []
        health = 1.0 / VIEW_SECONDS[HealthView]  # a health sample per redraw of Health (ResNet-20: ~40 ms each)
        snapshots, probe = config.snapshot_rate, self._snapshots_probe()
        worker = TrainingWorker(lambda: _watching(make(), health, snapshots, probe),
                                after_epoch=self._resume_file_writer())
        worker.ready.connect(self._on_ready)
        worker.paused.connect(self._on_paused)
        worker.steps.connect(self._on_steps)
        worker.snapshot.connect(self._on_snapshot)
        worker.health.connect(self.health.add_health)
        worker.epoch.connect(self._on_epoch)
        worker.diverged.connect(self._on_diverged)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_done)
        self._run = Background(worker, "convviz-training")
        self._set_state(RunState.TRAINING, "starting (normalising the data, building the network)")
        if resumed is not None and loaded is not None:
            self.say("Resumed the interrupted run", f"from step {loaded.step:,}; it goes on saving to {resumed}.")
        else:
            self.banner.hide()
        if self.store is not None:
            self.settings.remember(self.store, "train/settings")
        self._run.start()
        self._update_controls()

    def _resume_file_writer(self):
        """The worker's after_epoch: write the run's resume file (in the worker thread, between steps)."""
        path, problems = self.run_path, self._autosave_problems

        def write(trainer) -> None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                trainer.save_checkpoint(path)
            except (OSError, ValueError) as error:
                problems.append(f"Could not keep this run's resume checkpoint in {path.parent}: {error}")

        return write

    def toggle_pause(self) -> None:
        """Pause after the current step (confirmed by the worker: then Save checkpoint is safe), or resume."""
        if not self.running():
            return
        worker = self._run.worker
        self._pause_requested = not self._pause_requested
        if self._pause_requested:
            worker.pause()
            self._set_state(RunState.TRAINING, "pausing after the current step")
        else:
            worker.resume()
            self._set_state(RunState.TRAINING, self._progress())
        self._update_controls()

    @Slot(bool)
    def _on_paused(self, paused: bool) -> None:
        """The worker holds (True) or goes on (False). A hold confirmed after Resume or Stop was
        pressed is stale: the worker is already leaving it, so saving would race with training."""
        self._paused = paused and self._pause_requested
        if self._paused:
            self._set_state(RunState.PAUSED, f"{self._progress()}; Save checkpoint is available")
            for key in ("speed", "left"):  # nothing moves: no speed, no time left
                self.status[key].setText("—")
        self._update_controls()

    def stop(self) -> None:
        """Ask the run to stop after the current step; the views keep the last state."""
        if self._run is not None:
            self._run.worker.request_stop()
            self._pause_requested = self._paused = False  # a hold ends now: no saving while it winds down
            self._set_state(RunState.STOPPING, "after the current step")
            self._update_controls()

    def _live_hyper(self, change: dict) -> None:
        if self.trainer is None or not self.running():
            return
        try:
            self.trainer.set_hyper(**change)
        except ValueError as error:
            self.show_error("Cannot change the setting", str(error))
            return
        # used from the next step the trainer takes: the one after the latest it finished (or, when a
        # step is under way as the change arrives, the one after that)
        step = self.trainer.step + 1
        changes = {name: (self._hyper_now[name], value) for name, value in change.items()
                   if name in self._hyper_now and value != self._hyper_now[name]}
        if changes:
            self._hyper_now.update({name: new for name, (_, new) in changes.items()})
            self.curves.mark_change(step, changes)

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
        self._steps_at_save = self._first_step - 1
        net = trainer.net
        titles = layer_titles(trainer.arch, net.nodes)
        self.filters.set_layers(titles)
        self.activations.set_network(titles, trainer.label_names)
        trainer.set_probe(self.activations.probe())
        self._watch_snapshots()  # the view shown may have changed since start()
        self.curves.set_classes(net.classes)
        self._hyper_now = live_hyper(trainer)
        self.curves.start_settings(self._first_step, self._hyper_now)
        if self.state is RunState.TRAINING and not self._pause_requested:  # not stopping already
            self._set_state(RunState.TRAINING, self._progress())
        if trainer.warnings:  # batch norm on single images, memory near the limit
            self.say("Warning", " ".join(trainer.warnings), error=True)
        self._update_controls()

    def _progress(self) -> str:
        """'step 340 of 780 (epoch 1 of 10)' for the latest step (or where the trainer stands)."""
        config = self.trainer.config if self.trainer is not None else self.settings.config()
        e = self._last_step
        if e is None:
            if self.trainer is None:
                return ""
            step, epoch, per_epoch = self.trainer.step, self.trainer.epoch, self.trainer.batches_per_epoch
        else:
            step, epoch, per_epoch = e.step, e.epoch, e.batches_per_epoch
        return (f"step {step:,} of {_total_steps(config, per_epoch):,} "
                f"(epoch {min(epoch + 1, config.epochs)} of {config.epochs})")

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
        self.status["lr"].setText(f"{e.lr:.6g}")
        if self.state is RunState.TRAINING and not self._pause_requested:
            self._set_state(RunState.TRAINING, self._progress())
        if self.state is not RunState.TRAINING:  # paused, stopping or ended: nothing to time
            return
        self.status["speed"].setText(f"{e.images_per_second:,.0f} images/s")
        if e.images_per_second > 0:
            per_step = config.batch_size / e.images_per_second
            self.status["left"].setText(f"about {_duration((_total_steps(config, e.batches_per_epoch) - e.step) * per_step)}")
            if not self._epoch_seconds:
                self.status["epoch_time"].setText(f"about {_duration(e.batches_per_epoch * per_step)} (estimate)")

    def _snapshots_wanted(self) -> float:
        """Snapshots per second a run should take now: snapshot_rate while a picture view is shown, else 0."""
        return self.snapshot_rate if type(self.views.currentWidget()) in PICTURE_SECONDS and self.isVisible() else 0.0

    def _snapshots_probe(self) -> bool:
        """Whether the run's snapshots should pass the probe through the network: the view shown shows it."""
        return type(self.views.currentWidget()) in PROBE_VIEWS

    def _watch_snapshots(self) -> None:
        """Tell the run how many snapshots to take now (the view shown changed, or the tab); a trainer that
        is not running passes its probe through its network now if the picture views are behind it."""
        rate, trainer = self._snapshots_wanted(), self.trainer
        if trainer is None:
            return
        if self.running():
            trainer.watch_snapshots(rate, self._snapshots_probe())
        elif rate > 0 and self._snapshot_step != trainer.step:
            self._snapshot_step = trainer.step
            self.probe_jobs.snapshot_of(trainer)
            self._update_controls()

    @Slot(object)
    def _on_snapshot(self, snapshot) -> None:
        self.filters.set_snapshot(snapshot)
        if snapshot.has_probe:
            self._snapshot_step = snapshot.step
            self.activations.set_snapshot(snapshot)

    @Slot(object)
    def _on_epoch(self, event) -> None:
        self.curves.add_epoch(event)
        if event.test_probabilities is not None:
            self.predictions.set_probabilities(event.test_probabilities)
        self.confusion.set_epoch(event)
        self._epoch_seconds.append(event.seconds)
        self.status["epoch_time"].setText(_duration(event.seconds))
        if self._autosave_problems:
            self.show_error("Cannot keep the run's resume checkpoint", self._autosave_problems[-1])
            self._autosave_problems.clear()
        self.refresh_views()

    @Slot(object)
    def _on_diverged(self, event) -> None:
        self.show_error("Training diverged", event.message)

    @Slot(object)
    def _on_finished(self, event) -> None:
        self._ended = end_of_run(event.reason, event.steps, event.epochs)
        self._set_state(*self._ended)
        if self._last_step is not None:  # the last step's figures (not its speed: the run is over)
            self._status_dirty = False
            self._show_step_status()
        self.status["left"].setText("—")
        if self.trainer is not None and self.trainer.images_per_second > 0:
            self.status["speed"].setText(f"{self.trainer.images_per_second:,.0f} images/s (average)")
        self._finished_reason = event.reason

    @Slot(str)
    def _on_failed(self, text: str) -> None:
        self._ended = (RunState.FAILED, "see the message above")
        self._set_state(*self._ended)
        self._finished_reason = "failed"
        self.show_error("Training failed", text)

    @Slot()
    def _on_done(self) -> None:
        if self._run is None:
            return
        self._run.wait()  # the worker has quit its thread: returns at once
        self._run = None
        self._pause_requested = self._paused = False
        if self.run_path is not None:  # the run ended here: nothing to resume at the next start
            discard_run(self.run_path)
            self.run_path = None
        self.refresh_views(force=True)
        self._update_controls()
        self.runFinished.emit(self._finished_reason)
        self._finished_reason = "failed"

    # ---- views ----
    def refresh_views(self, force: bool = False) -> None:
        """Redraw the status and the visible view if their data changed (the timer calls this
        REFRESH_MS apart)."""
        if self._status_dirty and self._last_step is not None:
            self._status_dirty = False
            self._show_step_status()
        elif not self.running() and self._load is None:
            self._idle_state()  # a data load may have started or ended
        view = self.views.currentWidget()
        if view is None or not (force or self.isVisible()):
            return
        now = time.monotonic()
        due = VIEW_SECONDS.get(type(view), 0.0) - REFRESH_MS / 2000  # the timer jitters: half a tick early, not one late
        if force or now - self._drawn_at.get(view, 0.0) >= due:
            self._drawn_at[view] = now
            view.refresh(force=force)

    def _sanity_inputs(self) -> tuple:
        """(architecture, data, weights or None, seed) for the sanity checks: the builder's network, with the
        weights of the last run when it trained that network and holds still (a copy)."""
        blocker = self.network_blocker() if self.data is not None else "Load the data first (Data, above)."
        if blocker:
            raise ValueError(blocker)
        trainer = self.idle_trainer()
        same = trainer is not None and trainer.arch.to_dict() == self.arch.to_dict()
        state = {k: a.copy() for k, a in trainer.net.state().items()} if same else None
        return self.arch.copy(), self.data, state, self.settings.config().seed

    # ---- results to keep ----
    def save_curves(self, path=None) -> bool:
        """Save the curves as a PNG or SVG picture at path (asked for when None)."""
        if path is None:
            path, chosen = QFileDialog.getSaveFileName(self, "Save the curves", "convviz-curves.png",
                                                       "PNG picture (*.png);;SVG drawing (*.svg)")
            if not path:
                return False
            if Path(path).suffix.lower() not in IMAGE_SUFFIXES:
                path += ".svg" if "svg" in chosen else ".png"
        try:
            self.curves.save_image(path)
        except (OSError, ValueError) as error:
            self.show_error("Cannot save the curves", str(error))
            return False
        self.say("Saved the curves", f"to {path}.")
        return True

    def save_metrics(self, path=None) -> bool:
        """Save the run's per-step and per-epoch metrics as CSV at path (asked for when None)."""
        if self.trainer is None:
            self.show_error("No metrics yet", "Start a run (or load a checkpoint) first.")
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save the metrics", "convviz-metrics.csv", "CSV table (*.csv)")
            if not path:
                return False
            if not Path(path).suffix:
                path += ".csv"
        history = {k: list(v) for k, v in self.trainer.history.items()}  # a copy: the worker may be appending
        try:
            write_metrics(path, history, self.trainer.batches_per_epoch)
        except (OSError, ValueError) as error:
            self.show_error("Cannot save the metrics", str(error))
            return False
        self.say("Saved the metrics", f"of {len(history['step']):,} steps to {path}.")
        return True

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
        self.say("Saved the checkpoint", f"at step {self.trainer.step:,} to {path}.")
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
        self._load.start()
        self._update_controls()

    def resume_run(self, path) -> None:
        """Continue an interrupted run from its resume file: read it as soon as the data is loaded,
        then start; the run goes on replacing that file."""
        self._resume_path = Path(path)
        self.say("Resuming the interrupted run", f"from {path}…")
        if self.data is not None:
            self.load_checkpoint(path)

    @Slot(object)
    def _checkpoint_loaded(self, trainer) -> None:
        self.loaded_trainer = self.trainer = trainer
        self.checkpoint_path = None if self._resume_path is not None else self._pending_checkpoint
        self._ended = None
        self.settings.set_config(dataclasses.replace(trainer.config, **live_hyper(trainer)))
        self.curves.load_history(trainer.history)
        self.curves.set_classes(trainer.net.classes)
        self.filters.clear()
        self.activations.clear()
        self.say(f"Loaded {self._pending_checkpoint.name}",
                 f"step {trainer.step:,}, {trainer.epoch} epochs done, with its own "
                 f"{len(trainer.arch.layers)}-block network."
                 + ("" if self._resume_path is not None else " Press Continue run to go on exactly from there."))
        self.refresh_views(force=True)

    @Slot(object)
    def _checkpoint_failed(self, error) -> None:
        text = describe_error(error)
        if self._resume_path is not None:
            text += f" (the interrupted run stays in {self._resume_path} until you discard it)"
            self._resume_path = None
        self.show_error("Cannot load the checkpoint", text)

    @Slot()
    def _load_done(self) -> None:
        if self._load is not None:
            self._load.wait()
            self._load = None
        self._update_controls()
        if self._resume_path is not None and self.loaded_trainer is not None:
            self.start()

    # ---- messages and shutdown ----
    def say(self, title: str, text: str = "", error: bool = False) -> None:
        """Show title (bold) and text in the banner across the top of the tab; pass the title on
        (notice) for a status bar."""
        self.banner.show_message(title, text, error)
        self.notice.emit(title)

    def show_error(self, title: str, text: str) -> None:
        """Tell the user about a problem in the banner, where the user is looking (tests replace
        this method to observe messages)."""
        self.say(title, text, error=True)

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

    def shutdown(self, save_run: bool = True) -> None:
        """Stop the run and wait for it and every background job. With save_run, a run that moved on
        is saved to its resume file (offered at the next start) and to the checkpoint it was saved to
        during this session, if any; without, its resume file is deleted."""
        self.timer.stop()
        if self._run is not None:
            self._run.worker.request_stop()
            self._run.wait()
            self._run = None
            self._pause_requested = self._paused = False
            trainer = self.trainer
            if save_run and trainer is not None and trainer.step > 0:
                try:
                    self.run_path.parent.mkdir(parents=True, exist_ok=True)
                    trainer.save_checkpoint(self.run_path)
                except (OSError, ValueError) as error:  # the run is still in memory: offer another place
                    if self.ask_save_elsewhere(describe_error(error)):
                        self.save_checkpoint()
                if self.checkpoint_path is not None and trainer.step > self._steps_at_save:
                    self.save_checkpoint(self.checkpoint_path)  # if it fails, the user may save elsewhere
            elif self.run_path is not None:
                discard_run(self.run_path)
            self.run_path = None
        if self._load is not None:
            self._load.wait()
            self._load = None
        self.probe_jobs.shutdown()
        self.sanity.shutdown()
        self.data_panel.shutdown()
