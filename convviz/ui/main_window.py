"""The main window: menus, toolbar, status bar (the run's state on the right), the builder as the
first tab and the Train dashboard as the second, settings remembered between sessions, and the
document's file handling (New, Open, Save, presets) with the unsaved-changes question. Closing
during a run asks whether to save it; a run interrupted last time is offered at the start.

Dialogs go through small methods (ask_save_changes, ask_close_during_run, ask_resume,
choose_open_path, choose_save_path, show_error, show_info) so tests can replace them instead of
blocking on a modal dialog.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar, QStyle, QTabWidget,
                               QToolButton)

from .. import __version__
from ..engine import formula
from ..engine.files import atomic_write
from ..model import Architecture, infer
from ..model.io import ArchitectureFileError, load_architecture, save_architecture
from ..model.presets import load_preset, preset_groups, preset_names
from ..model.summary import summary_table
from ..units import size_bytes
from ..training.resume import describe_run, discard_run, interrupted_runs
from .builder import BuilderDocument, BuilderWidget
from .builder.document import INPUT
from .builder.style import icon
from .dashboard import TrainDashboard
from .dashboard.settings import remembered
from .explain import ExplainTab
from .export_dialog import ExportDialog, Exporter
from .lessons.window import Lessons
from .worker import Background, JobWorker, describe_error

DEFAULT_PRESET = "convnetjs"
MAX_RECENT = 8
DEFAULT_SIZE = (1280, 800)  # the window works down to this size (and below: 760x480)
STATUS_CHARS = 110  # the run's state in the status bar is cut here (the whole text is its tooltip)
JSON_FILTER = "ConvViz architecture (*.json);;All files (*)"
LARGE_FILE = 200_000  # bytes (some thousands of blocks): opened off the GUI thread


def read_architecture(path: Path):
    """An architecture file read, checked and inferred -> (Architecture, Inference); raises
    ArchitectureFileError. Runs in a worker thread for a large file."""
    arch = load_architecture(path)
    return arch, infer(arch)


class MainWindow(QMainWindow):
    """architectureChanged(Architecture, Inference) is emitted after every edit of the network
    (and after undo, redo, open and presets)."""

    architectureChanged = Signal(object, object)

    def __init__(self, settings: QSettings | None = None, parent=None):
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings()
        self.setWindowIcon(icon("convviz"))
        self.document = BuilderDocument(self._default_architecture(), self)
        self.document.name = f"{DEFAULT_PRESET} (preset)"
        self.builder = BuilderWidget(self.document)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.builder, icon("conv"), "Builder")
        self.dashboard = TrainDashboard(settings=self.settings)
        self.tabs.addTab(self.dashboard, icon("softmax"), "Train")
        self.architectureChanged.connect(self.dashboard.set_architecture)
        self.explain = ExplainTab(self.dashboard)
        self.tabs.addTab(self.explain, icon("fc"), "Explain")
        self.exporter = Exporter(self)
        self.exporter.finished.connect(self._export_finished)
        self.setCentralWidget(self.tabs)

        self._create_actions()
        self._create_menus()
        self._create_toolbar()
        self.lessons = Lessons(self)  # the neuron explanation, Edit > Convert FC layers, the Slide tab
        self.run_state = QLabel()
        self.statusBar().addPermanentWidget(self.run_state)
        self.dashboard.stateChanged.connect(self._show_run_state)
        self.dashboard.notice.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self._offered_resume = False
        self.opening_bar = QProgressBar()  # busy while a large file is read in the background
        self.opening_bar.setRange(0, 0)
        self.opening_bar.setMaximumWidth(120)
        self.opening_bar.setVisible(False)
        self.statusBar().addPermanentWidget(self.opening_bar)
        self._opening: tuple[Background, Path] | None = None

        self.document.changed.connect(self._document_changed)
        self.builder.stack.selectionModel().currentRowChanged.connect(self._update_edit_actions)
        self.document.undo_stack.cleanChanged.connect(self._update_title)
        self._document_changed(self.document.arch, self.document.inference)
        self.document.selectionRequested.emit(INPUT)
        self.setAcceptDrops(True)
        self._restore_settings()
        self._show_run_state(self.dashboard.state_text)
        self.statusBar().showMessage("Drag layers from the palette into the network, or double-click one to add it.", 8000)

    @staticmethod
    def _default_architecture() -> Architecture:
        return load_preset(DEFAULT_PRESET) if DEFAULT_PRESET in preset_names() else Architecture()

    # --- the interface other tabs use ---------------------------------------------------------
    def current_architecture(self) -> Architecture:
        return self.document.arch.copy()

    def current_inference(self):
        return self.document.inference

    # --- actions, menus, toolbar -------------------------------------------------------------
    def _action(self, text: str, slot, shortcut=None, tip: str = "", standard_icon=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        if standard_icon is not None:
            action.setIcon(self.style().standardIcon(standard_icon))
        action.triggered.connect(lambda checked=False: slot())
        return action

    def _create_actions(self) -> None:
        self.new_action = self._action("&New", self.new_network, QKeySequence.New, "Start an empty network",
                                       QStyle.SP_FileIcon)
        self.open_action = self._action("&Open...", self.open_dialog, QKeySequence.Open,
                                        "Open an architecture JSON file", QStyle.SP_DialogOpenButton)
        self.save_action = self._action("&Save", self.save, QKeySequence.Save, "Save the network",
                                        QStyle.SP_DialogSaveButton)
        self.save_as_action = self._action("Save &As...", self.save_as, QKeySequence.SaveAs,
                                           "Save the network under a new name")
        self.export_action = self._action("&Export summary...", self.export_summary_dialog, "Ctrl+E",
                                          "Write the layer table (volumes, parameters, mult-adds) to a text file")
        self.export_network_action = self._action("Export to PyTorch or &ONNX...", self.export_network_dialog,
                                                  tip="Write the network as a standalone PyTorch file or an ONNX "
                                                      "model, with its weights")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.Quit, "Quit ConvViz")
        stack = self.document.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.Undo)
        self.undo_action.setIcon(self.style().standardIcon(QStyle.SP_ArrowBack))
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence.Redo)
        self.redo_action.setIcon(self.style().standardIcon(QStyle.SP_ArrowForward))
        self.delete_action = self._action("&Delete block", self.builder.delete_selected, QKeySequence.Delete,
                                          "Delete the selected block", QStyle.SP_TrashIcon)
        self.delete_action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.builder.stack.addAction(self.delete_action)
        self.duplicate_action = self._action("D&uplicate block", self.builder.duplicate_selected, "Ctrl+D",
                                             "Duplicate the selected block", QStyle.SP_FileDialogNewFolder)
        self.move_up_action = self._action("Move block &up", lambda: self.builder.move_selected(-1), "Ctrl+Up",
                                           "Move the selected block one place up")
        self.move_down_action = self._action("Move block do&wn", lambda: self.builder.move_selected(+1),
                                             "Ctrl+Down", "Move the selected block one place down")
        self.about_action = self._action("&About ConvViz", self.show_about)
        self.formula_action = self._action("The &volume formula", self.show_formula, QKeySequence.HelpContents,
                                           "How each layer's output volume is computed")

    def _create_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([self.save_action, self.save_as_action, self.export_action, self.export_network_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])
        edit_menu.addSeparator()
        edit_menu.addActions([self.delete_action, self.duplicate_action, self.move_up_action, self.move_down_action])
        presets_menu = bar.addMenu("&Presets")
        self.preset_actions = {}
        for title, names in preset_groups():
            presets_menu.addSection(title)
            for name in names:
                action = self._action(name, lambda n=name: self.load_preset(n), tip=f"{title}: load the {name} preset")
                presets_menu.addAction(action)
                self.preset_actions[name] = action
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.formula_action, self.about_action])

    def _create_toolbar(self) -> None:
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        toolbar.addActions([self.new_action, self.open_action, self.save_action])
        toolbar.addSeparator()
        for action in (self.undo_action, self.redo_action):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonIconOnly)
            button.setAutoRaise(True)
            toolbar.addWidget(button)
        toolbar.addSeparator()
        toolbar.addActions([self.delete_action, self.duplicate_action])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_files()
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name)
            action.setStatusTip(path)
            action.triggered.connect(lambda checked=False, p=path: self.open_recent(p))
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def open_recent(self, path: str) -> None:
        """Open a recent file; one that no longer exists is dropped from the list (after the error)."""
        if self.maybe_save() and not self.open_file(path) and not Path(path).exists():
            self.settings.setValue("recentFiles", [p for p in self.recent_files() if p != path])

    # --- document state ----------------------------------------------------------------------
    def _document_changed(self, arch, inference) -> None:
        self._update_title()
        self._update_edit_actions()
        self.architectureChanged.emit(arch.copy(), inference)  # the dashboard's state follows (stateChanged)

    def _show_run_state(self, text: str) -> None:
        """The run's state, as the Train tab says it (ready says why Start is disabled, if it is)."""
        self.run_state.setText(text if len(text) <= STATUS_CHARS else text[:STATUS_CHARS - 1] + "…")
        self.run_state.setToolTip(text)

    def _update_edit_actions(self, *_) -> None:
        """Delete and Duplicate apply to a selected block (not to INPUT, a lane or a merge)."""
        selected = self.builder.block_selected()
        for action in (self.delete_action, self.duplicate_action, self.move_up_action, self.move_down_action):
            action.setEnabled(selected)

    def _update_title(self, *_) -> None:
        """'name[*] — ConvViz': Qt shows the [*] placeholder as '*' while there are unsaved changes."""
        self.setWindowTitle(f"{self.document.name}[*] — ConvViz")
        self.setWindowModified(self.document.is_modified())

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current network (saved, discarded, or unchanged)."""
        if not self.document.is_modified():
            return True
        answer = self.ask_save_changes()
        if answer == "save":
            return self.save()
        return answer == "discard"

    def new_network(self) -> None:
        if self.maybe_save():
            self.document.reset(Architecture(), None, "Untitled")

    def load_preset(self, name: str) -> None:
        if self.maybe_save():
            self.document.reset(load_preset(name), None, f"{name} (preset)")
            self.statusBar().showMessage(f"Loaded the {name} preset", 5000)

    def open_dialog(self) -> None:
        if self.maybe_save():
            path = self.choose_open_path()
            if path:
                self.open_file(path)

    def open_file(self, path) -> bool:
        """Open an architecture JSON; a bad file shows every validation error and changes nothing. A file
        of LARGE_FILE bytes or more is read and checked off the GUI thread, with a busy bar in the status
        bar: True once the file is open (a large one: once its reading has begun)."""
        path = Path(path)
        try:
            large = path.stat().st_size >= LARGE_FILE
        except OSError:
            large = False
        if not large:
            try:
                self._file_opened(path, read_architecture(path))
            except (ArchitectureFileError, OSError) as error:
                self._file_failed(path, error)
                return False
            return True
        if self._opening is not None:
            self.statusBar().showMessage(f"Still opening {self._opening[1].name}", 5000)
            return False
        worker = JobWorker(lambda report: read_architecture(path))
        # bound methods, not lambdas: PySide runs a lambda connected to a worker's signal in the worker's thread
        worker.result.connect(self._large_file_opened)
        worker.failed.connect(self._large_file_failed)
        worker.done.connect(self._open_done)
        self._opening = (Background(worker, "convviz-open"), path)
        self.opening_bar.setVisible(True)
        self.statusBar().showMessage(f"Opening {path.name} ({size_bytes(path.stat().st_size)})…")
        self._opening[0].start()
        return True

    def _file_opened(self, path: Path, result) -> None:
        arch, inference = result
        self.document.reset(arch, path, path.name, inference)
        self._add_recent(path)
        self.statusBar().showMessage(f"Opened {path}", 5000)

    def _file_failed(self, path: Path, error: BaseException) -> None:
        text = str(error) if isinstance(error, ArchitectureFileError) else describe_error(error)
        self.show_error(f"Cannot open {path.name}", text)

    def _large_file_opened(self, result) -> None:
        self._file_opened(self._opening[1], result)

    def _large_file_failed(self, error: BaseException) -> None:
        self._file_failed(self._opening[1], error)

    def _open_done(self) -> None:
        if self._opening is not None:
            self._opening[0].wait()  # the worker quits its thread itself: returns at once
            self._opening = None
        self.opening_bar.setVisible(False)

    def wait_for_open(self) -> None:
        """Wait for a file being opened in the background (closing the window does)."""
        if self._opening is not None:
            self._opening[0].wait()
            self._opening = None

    def dragEnterEvent(self, event) -> None:
        """Accept an architecture file dragged from the file manager."""
        urls = event.mimeData().urls()
        if len(urls) == 1 and urls[0].isLocalFile() and urls[0].toLocalFile().lower().endswith(".json"):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:
        path = event.mimeData().urls()[0].toLocalFile()
        event.acceptProposedAction()
        if self.maybe_save():
            self.open_file(path)

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self.save_to(self.document.path)

    def save_as(self) -> bool:
        path = self.choose_save_path("Save network", JSON_FILTER, ".json")
        return self.save_to(path) if path else False

    def save_to(self, path) -> bool:
        path = Path(path)
        try:
            save_architecture(self.document.arch, path)
        except OSError as error:
            self.show_error("Cannot save", describe_error(error))
            return False
        self.document.path, self.document.name = path, path.name
        self.document.undo_stack.setClean()
        self._update_title()
        self._add_recent(path)
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def export_summary_dialog(self) -> None:
        path = self.choose_save_path("Export summary", "Text (*.txt);;All files (*)", ".txt")
        if path:
            self.export_summary(path)

    def export_summary(self, path) -> bool:
        """Write the layer table (as `convviz summary` prints it) to a text file, atomically."""
        path = Path(path)
        try:
            with atomic_write(path, text=True) as f:
                f.write(summary_table(self.document.arch, self.document.inference))
        except OSError as error:
            self.show_error("Cannot export the summary", describe_error(error))
            return False
        self.statusBar().showMessage(f"Exported the summary to {path}", 5000)
        return True

    def export_network_dialog(self) -> None:
        """Ask how to export the network, then write it off the GUI thread (see export_dialog)."""
        if self.exporter.busy():
            self.statusBar().showMessage("An export is still being written.", 5000)
            return
        title = self.document.path.stem if self.document.path else self.document.name.removesuffix(" (preset)")
        dialog = ExportDialog(self.current_architecture(), title, self.dashboard, self._dialog_folder(), self)
        if dialog.exec() == ExportDialog.DialogCode.Accepted:
            request = dialog.request()
            self.exporter.start(request)
            self.statusBar().showMessage(f"Exporting to {request.path}…")

    def _export_finished(self, ok: bool, message: str) -> None:
        if ok:
            self.statusBar().showMessage(message, 10000)
        else:
            self.show_error("Cannot export the network", message)

    # --- recent files and settings -----------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.settings.value("recentFiles", [])  # one entry comes back as a str, several as a list
        if isinstance(value, str):
            return [value]
        return [str(p) for p in value] if isinstance(value, (list, tuple)) else []

    def _add_recent(self, path: Path) -> None:
        text = str(Path(path).resolve())
        recent = [text] + [p for p in self.recent_files() if p != text]
        self.settings.setValue("recentFiles", recent[:MAX_RECENT])

    def _restore_settings(self) -> None:
        """The layout of the last session; anything missing or damaged keeps its default."""
        geometry = remembered(self.settings, "window/geometry", QByteArray)
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(*DEFAULT_SIZE)
        state = remembered(self.settings, "window/state", QByteArray)
        if state is not None:
            self.restoreState(state)
        for splitter in (self.builder.columns, self.builder.rows):
            saved = remembered(self.settings, f"builder/{splitter.objectName()}", QByteArray)
            if saved is not None:
                splitter.restoreState(saved)
        tab = remembered(self.settings, "window/tab", int)
        if tab is not None and 0 <= tab < self.tabs.count():
            self.tabs.setCurrentIndex(tab)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        for splitter in (self.builder.columns, self.builder.rows):
            self.settings.setValue(f"builder/{splitter.objectName()}", splitter.saveState())
        self.dashboard.save_settings()
        self.settings.sync()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._offered_resume:
            self._offered_resume = True
            QTimer.singleShot(0, self.offer_resume)  # once the window is on screen

    def offer_resume(self) -> None:
        """If a run was interrupted (its resume file is still there), offer to continue it."""
        runs = interrupted_runs()
        if not runs or self.dashboard.running():
            return
        answer = self.ask_resume(describe_run(runs[0]))
        if answer == "resume":
            self.tabs.setCurrentWidget(self.dashboard)
            self.dashboard.resume_run(runs[0])
        elif answer == "discard":
            discard_run(runs[0])

    def closeEvent(self, event) -> None:
        save_run = True
        if self.dashboard.running():
            answer = self.ask_close_during_run()
            if answer == "cancel":
                event.ignore()
                return
            save_run = answer == "save"
        if not self.maybe_save():
            event.ignore()
            return
        self.save_settings()
        self.wait_for_open()
        self.explain.shutdown()  # cancels an explanation and waits for its thread
        self.lessons.shutdown()
        self.dashboard.shutdown(save_run)  # stops a run and waits for the training and data threads
        self.exporter.wait()
        event.accept()

    # --- dialogs (replaceable in tests) ------------------------------------------------------
    def ask_save_changes(self) -> str:
        """'save', 'discard' or 'cancel'."""
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to {self.document.name}?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        return {QMessageBox.Save: "save", QMessageBox.Discard: "discard"}.get(answer, "cancel")

    def ask_close_during_run(self) -> str:
        """'save' (stop the run and save it to continue at the next start), 'quit' or 'cancel'."""
        box = QMessageBox(QMessageBox.Question, "Training is running",
                          "A training run is going on. Stop it and save a checkpoint?", QMessageBox.NoButton, self)
        box.setInformativeText("ConvViz offers to continue a saved run the next time it starts. "
                               "Quitting without saving loses the run.")
        save = box.addButton("Stop and save", QMessageBox.AcceptRole)
        discard = box.addButton("Quit without saving", QMessageBox.DestructiveRole)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(save)
        box.exec()
        clicked = box.clickedButton()
        return "save" if clicked is save else "quit" if clicked is discard else "cancel"

    def ask_resume(self, description: str) -> str:
        """'resume', 'discard' or 'later' for the interrupted run described."""
        box = QMessageBox(QMessageBox.Question, "Continue the interrupted run?",
                          "A training run was interrupted when ConvViz last closed.", QMessageBox.NoButton, self)
        box.setInformativeText(f"It stopped at {description}.")
        resume = box.addButton("Continue it", QMessageBox.AcceptRole)
        discard = box.addButton("Discard it", QMessageBox.DestructiveRole)
        box.addButton("Not now", QMessageBox.RejectRole)
        box.setDefaultButton(resume)
        box.exec()
        clicked = box.clickedButton()
        return "resume" if clicked is resume else "discard" if clicked is discard else "later"

    def choose_open_path(self) -> str:
        return QFileDialog.getOpenFileName(self, "Open network", self._dialog_folder(), JSON_FILTER)[0]

    def choose_save_path(self, title: str, filters: str, suffix: str) -> str:
        path = QFileDialog.getSaveFileName(self, title, self._dialog_folder(), filters)[0]
        if path and not Path(path).suffix:
            path += suffix
        return path

    def _dialog_folder(self) -> str:
        return str(self.document.path.parent) if self.document.path else str(Path.home())

    def show_error(self, title: str, text: str) -> None:
        self.statusBar().showMessage(title, 8000)
        box = QMessageBox(QMessageBox.Warning, title, text.splitlines()[0] if text else title, QMessageBox.Ok, self)
        if "\n" in text:
            box.setDetailedText(text)
            box.setInformativeText("\n".join(text.splitlines()[1:6]))
        box.exec()

    def show_info(self, title: str, html: str) -> None:
        QMessageBox.about(self, title, html)

    def show_about(self) -> None:
        self.show_info("About ConvViz",
                       f"<h3>ConvViz {__version__}</h3><p>Build convolutional networks from layer blocks, see every activation "
                       "volume checked live, and train them on CIFAR-10 with ConvViz's own NumPy engine.</p>")

    def show_formula(self) -> None:
        self.show_info("The volume formula", volume_formula_html())


def volume_formula_html() -> str:
    """The seed's volume rule with a worked example and an invalid one, numbers from engine.formula."""
    return (
        "<h3>Output volume of a conv or pool layer</h3>"
        "<p style='font-size:14pt'><b>W<sub>out</sub> = (W − F + 2P) / S + 1</b></p>"
        "<p>W: input width (or height), F: filter size, P: zero padding, S: stride. With dilation D the "
        "filter spans D(F − 1) + 1. The depth of a conv output is the number of filters K; a pool keeps "
        "the depth.</p>"
        f"<p>32x32x3 input, 16 filters 5x5, stride 1, pad 2: {formula(32, 5, 1, 2)} = 32 → <b>32x32x16</b></p>"
        f"<p>W = 10, F = 3, S = 2, P = 0: {formula(10, 3, 2, 0)} = 4.5 is not a whole number, so the layer is "
        "invalid: ConvViz never rounds silently and offers the nearest padding or stride that fits.</p>")
