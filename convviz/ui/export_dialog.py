"""File > Export: the builder's network as a standalone PyTorch file or an ONNX model, with the weights
of the Train tab's run, of a weights file, or (PyTorch file only) none. ExportDialog asks; Exporter
writes off the GUI thread (a large network's weights take seconds) and reports one line."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import (QButtonGroup, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QRadioButton, QVBoxLayout)

from ..export.network import FORMATS, export_network, weights_beside
from ..training.checkpoint import architecture_difference
from ..training.run_weights import weights_and_settings
from .dashboard.dashboard import live_hyper
from .worker import Background, JobWorker

FORMAT_TITLES = {"torch": "PyTorch file (.py): Net, load_weights, and a train command for a GPU",
                 "onnx": "ONNX model (.onnx), for onnxruntime and other runtimes"}
WEIGHTS_FILTER = "ConvViz weights or checkpoints (*.npz);;All files (*)"


@dataclass
class ExportRequest:
    """One export, as export_network takes it."""

    arch: object
    to: str
    path: Path
    weights: Path | dict | None
    settings: dict
    settings_source: str
    title: str

    def run(self) -> str:
        """Write it (in a worker thread) -> the one line saying what was written. A checkpoint chosen as
        the weights file gives its network's weights and its run's settings."""
        weights, settings, said = self.weights, self.settings, self.settings_source
        if isinstance(weights, Path):
            weights, run_settings = weights_and_settings(weights)
            if run_settings is not None:
                settings, said = run_settings, f" (those of the checkpoint {self.weights.name})"
        return export_network(self.arch, self.to, self.path, settings, weights, self.title, said,
                              source=self.weights if isinstance(self.weights, Path) else None)


def run_problem(dashboard, arch) -> str | None:
    """Why the Train tab's run cannot give arch its weights now, or None when it can."""
    trainer = dashboard.trainer
    if trainer is None:
        return "there is no run yet"
    difference = architecture_difference(trainer.arch.to_dict(), arch.to_dict())
    if difference:
        return f"the run trains another network ({difference})"
    if dashboard.idle_trainer() is None:
        return "pause the run first"
    return None


class ExportDialog(QDialog):
    """Asks for the format, the weights and the file; request() gives the ExportRequest (copying the
    run's weights at that moment). title names the network; folder is where the file goes by default."""

    def __init__(self, arch, title: str, dashboard, folder: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export network")
        self.arch, self.title, self.dashboard = arch, title, dashboard
        self.run_problem = run_problem(dashboard, arch)

        self.formats = QButtonGroup(self)
        format_box = QVBoxLayout()
        for i, name in enumerate(FORMATS):
            button = QRadioButton(FORMAT_TITLES[name])
            self.formats.addButton(button, i)
            format_box.addWidget(button)
        self.formats.button(0).setChecked(True)

        step = f" (step {dashboard.trainer.step:,})" if dashboard.trainer is not None else ""
        self.use_run = QRadioButton(f"The Train tab's run{step}" if self.run_problem is None else
                                    f"The Train tab's run: {self.run_problem}")
        self.use_run.setEnabled(self.run_problem is None)
        self.use_file = QRadioButton("A weights file:")
        self.use_none = QRadioButton("None: the PyTorch file alone, to train from scratch")
        self.weights_group = QButtonGroup(self)
        for button in (self.use_run, self.use_file, self.use_none):
            self.weights_group.addButton(button)
        (self.use_run if self.run_problem is None else self.use_file).setChecked(True)
        self.weights_path = QLineEdit()
        self.weights_path.setPlaceholderText("a weights .npz or a checkpoint")
        file_row = _row(self.use_file, self.weights_path, self._button("Choose…", self.choose_weights))
        weights_box = QVBoxLayout()
        weights_box.addWidget(self.use_run)
        weights_box.addLayout(file_row)
        weights_box.addWidget(self.use_none)

        self.out_path = QLineEdit(str(Path(folder) / f"{title}{FORMATS['torch']}"))
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Format", format_box)
        form.addRow("Weights", weights_box)
        form.addRow("Save as", _row(self.out_path, self._button("Choose…", self.choose_output)))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.hint)
        layout.addWidget(self.buttons)
        self.formats.idToggled.connect(self._format_changed)
        self.weights_group.buttonToggled.connect(self._update)
        self.weights_path.textChanged.connect(self._update)
        self.out_path.textChanged.connect(self._update)
        self.resize(640, self.sizeHint().height())
        self._update()

    def _button(self, text: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(slot)
        return button

    @property
    def format(self) -> str:
        return list(FORMATS)[self.formats.checkedId()]

    def _format_changed(self, _id: int, checked: bool) -> None:
        """Keep the file's suffix that of the format, and None for PyTorch files only."""
        if not checked:
            return
        path = Path(self.out_path.text())
        if path.suffix.lower() in FORMATS.values():
            self.out_path.setText(str(path.with_suffix(FORMATS[self.format])))
        self.use_none.setEnabled(self.format == "torch")
        if self.use_none.isChecked() and self.format != "torch":
            (self.use_run if self.run_problem is None else self.use_file).setChecked(True)
        self._update()

    def problem(self) -> str | None:
        """What keeps Export disabled, as a sentence, or None."""
        if self.use_file.isChecked() and not Path(self.weights_path.text().strip()).is_file():
            return "Choose the weights file."
        if not self.out_path.text().strip():
            return "Choose where to save it."
        return None

    def _update(self, *_) -> None:
        problem = self.problem()
        self.export_button.setEnabled(problem is None)
        if problem:
            self.hint.setText(problem)
        elif self.format == "torch" and self.use_run.isChecked():
            self.hint.setText(f"The run's weights go beside it, as {weights_beside(self.out_path.text()).name}; "
                              "its train command starts from the run's settings.")
        elif self.format == "torch":
            self.hint.setText("Its train command starts from the Train tab's settings (a checkpoint's own, if "
                              "the weights come from one).")
        else:
            self.hint.setText("Its outputs are the logits and the probabilities, for images normalised as in training.")

    def choose_weights(self) -> None:
        path = QFileDialog.getOpenFileName(self, "Weights file", self.weights_path.text(), WEIGHTS_FILTER)[0]
        if path:
            self.weights_path.setText(path)
            self.use_file.setChecked(True)

    def choose_output(self) -> None:
        suffix = FORMATS[self.format]
        path = QFileDialog.getSaveFileName(self, "Export network", self.out_path.text(), f"*{suffix}")[0]
        if path:
            self.out_path.setText(path if Path(path).suffix else path + suffix)

    def request(self) -> ExportRequest:
        """The export asked for; the run's weights and settings are copied now."""
        if self.use_run.isChecked():
            trainer = self.dashboard.trainer
            weights = {key: a.copy() for key, a in trainer.net.state().items()}
            config = dataclasses.replace(trainer.config, **live_hyper(trainer))
            source = f" (those of the run, at step {trainer.step:,})"
        else:
            weights = Path(self.weights_path.text().strip()) if self.use_file.isChecked() else None
            config, source = self.dashboard.settings.config(), " (the Train tab's)"
        return ExportRequest(self.arch, self.format, Path(self.out_path.text().strip()).expanduser(), weights,
                             config.to_dict(), source, self.title)


class Exporter(QObject):
    """Writes one ExportRequest at a time in a worker thread. finished(ok, message): the one line to show."""

    finished = Signal(bool, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._job: Background | None = None
        self._path: Path | None = None

    def busy(self) -> bool:
        return self._job is not None

    def start(self, request: ExportRequest) -> bool:
        """Begin writing request; False (nothing started) while another export runs."""
        if self.busy():
            return False
        worker = JobWorker(lambda report: request.run())
        worker.result.connect(self._written)
        worker.failed.connect(self._failed)
        worker.done.connect(self._done)
        self._path = request.path
        self._job = Background(worker, "convviz-export")
        self._job.start()
        return True

    def wait(self) -> None:
        """Block until the export being written (if any) has ended."""
        if self._job is not None:
            self._job.wait()
            self._job = None

    @Slot(object)
    def _written(self, message: str) -> None:
        self.finished.emit(True, message)

    @Slot(object)
    def _failed(self, error: BaseException) -> None:
        if isinstance(error, OSError):
            message = f"Cannot write {self._path}: {error.strerror or error}"
        elif isinstance(error, (ValueError, ImportError)):  # the engine's checks, the missing onnx package
            message = str(error)
        else:
            message = f"The export failed: {error}"
        self.finished.emit(False, message)

    @Slot()
    def _done(self) -> None:
        self.wait()


def _row(*items) -> QHBoxLayout:
    row = QHBoxLayout()
    for item in items:
        row.addWidget(item, 1 if isinstance(item, QLineEdit) else 0)
    return row
