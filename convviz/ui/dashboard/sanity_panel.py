"""The Train tab's Sanity checks: one click runs training.sanity's three checks (initial loss against
ln C, overfitting 20 images, a numerical gradient check) in the background, with progress, and shows
each verdict with its numbers (the gradient check's relative error per layer too)."""
from __future__ import annotations

import html
from typing import Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QGroupBox, QLabel, QProgressBar, QPushButton, QVBoxLayout

from ...engine import Interrupted
from ...training.sanity import SanityChecks
from ..worker import Background, JobWorker
from .style import BAD_CSS, GOOD_CSS, TEXT_DIM

LAYERS_SHOWN = 8  # the gradient check's worst layers listed (in the network's order); all in the tooltip


class SanityPanel(QGroupBox):
    """inputs() -> (architecture, data, weights keyed like Network.state() or None, seed) of the network
    to check, or raises ValueError saying why there is none; set_blocker() says when the button cannot
    be used. shutdown() stops a running check and waits for it."""

    def __init__(self, inputs: Callable[[], tuple], parent=None):
        super().__init__("Sanity checks", parent)
        self._inputs = inputs
        self._job: Background | None = None
        self._checks: SanityChecks | None = None
        self._blocker: str | None = None
        self.results: list = []
        self.button = QPushButton("Run sanity checks")
        self.button.clicked.connect(self.run)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet(f"color: {TEXT_DIM};")
        self.report = QLabel()
        self.report.setWordWrap(True)
        self.report.setTextFormat(Qt.TextFormat.RichText)
        self.report.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        for w in (self.button, self.progress, self.status, self.report):
            layout.addWidget(w)
        self.set_blocker(None)

    def busy(self) -> bool:
        return self._job is not None

    def set_blocker(self, reason: str | None) -> None:
        """Why the checks cannot run now (the button is disabled, saying so), or None."""
        self._blocker = reason
        self.button.setEnabled(reason is None and not self.busy())
        self.button.setToolTip(reason or "Before training: (1) the untrained network's loss against ln C, (2) can it "
                                         "learn 20 images by heart, (3) do backprop's gradients match numerical ones")

    def run(self) -> None:
        if self.busy():
            return
        try:
            arch, data, state, seed = self._inputs()
            self._checks = checks = SanityChecks(arch, data, seed)
        except ValueError as error:
            self.status.setText(f"Cannot run the checks: {error}")
            return
        worker = JobWorker(lambda report: checks.run(state, lambda fraction, text: report((fraction, text))))
        worker.progress.connect(self._on_progress)
        worker.result.connect(self._on_result)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_done)
        self._job = Background(worker, "convviz-sanity")
        self.results = []
        self.report.clear()
        self.status.setText("Starting…")
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.button.setEnabled(False)
        self._job.start()

    @Slot(object)
    def _on_progress(self, value) -> None:
        fraction, text = value
        self.progress.setValue(int(1000 * fraction))
        self.status.setText(text)

    @Slot(object)
    def _on_result(self, results) -> None:
        self.results = results
        passed = sum(r.passed for r in results)
        self.status.setText(f"{passed} of {len(results)} checks passed.")
        self.report.setText("".join(self._html(r) for r in results))
        errors = next((r.layers for r in results if r.layers), [])
        self.report.setToolTip("\n".join(f"block {label} ({title}): relative error {error:.1e}"
                                         for label, title, error in errors))

    @staticmethod
    def _html(result) -> str:
        colour, mark = (GOOD_CSS, "✓ pass") if result.passed else (BAD_CSS, "✗ FAIL")
        text = f"<p><b style='color:{colour}'>{mark}</b> <b>{result.name}</b>: {html.escape(result.line)}"
        if result.layers:
            worst = sorted(range(len(result.layers)), key=lambda i: -result.layers[i][2])[:LAYERS_SHOWN]
            text += "<br>" + "<br>".join(f"&nbsp;&nbsp;block {html.escape(label)} ({title}): {error:.1e}"
                                         for label, title, error in (result.layers[i] for i in sorted(worst)))
            if len(result.layers) > LAYERS_SHOWN:
                text += f"<br>&nbsp;&nbsp;… and {len(result.layers) - LAYERS_SHOWN} more layers (hover for all)"
        return text + "</p>"

    @Slot(object)
    def _on_failed(self, error) -> None:
        self.status.setText("Stopped." if isinstance(error, Interrupted) else f"The checks could not finish: {error}")

    @Slot()
    def _on_done(self) -> None:
        if self._job is not None:
            self._job.wait()
            self._job = None
        self.progress.setVisible(False)
        self.set_blocker(self._blocker)

    def shutdown(self) -> None:
        if self._job is not None:
            self._checks.stop()
            self._job.wait()
            self._job = None
