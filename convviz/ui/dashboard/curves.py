"""Loss per step (raw, faint, and smoothed) and accuracies per epoch, as zoomable pyqtgraph plots."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .style import ACCENT, GOOD, INFO, TEXT_DIM, WARN

SMOOTHING = 0.95  # weight of the bias-corrected moving average drawn as the smoothed loss


class CurvesView(QWidget):
    """Appends metric events; draws (setData on items made once) when refresh() finds it visible."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self._average = 0.0
        self._epochs_drawn = -1
        self.epochs: list[int] = []
        self.train_acc: list[float] = []
        self.val_acc: list[float] = []
        self.test_acc: list[float] = []
        self._dirty = False

        self.log_scale = QCheckBox("Log scale for the loss")
        self.log_scale.toggled.connect(self._set_log)
        self.summary = QLabel("Press Start to train; the loss appears here step by step.")
        self.summary.setStyleSheet(f"color: {TEXT_DIM};")
        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.log_scale)

        self.loss_plot = pg.PlotWidget(title="Training loss per step")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setLabel("left", "cross-entropy loss")
        # no grid on this plot: redrawn twice a second, pyqtgraph's grid would be most of the cost
        self.loss_plot.addLegend(offset=(-10, 10))
        self.loss_plot.setDownsampling(auto=True, mode="peak")  # long runs: thousands of steps
        self.loss_plot.setClipToView(True)
        self.raw_item = self.loss_plot.plot(pen=pg.mkPen((120, 170, 255, 110), width=1), name="loss (raw)")
        self.smooth_item = self.loss_plot.plot(pen=pg.mkPen(ACCENT, width=2.5), name="loss (smoothed)",
                                               antialias=True)

        self.acc_plot = pg.PlotWidget(title="Accuracy per epoch")
        self.acc_plot.setLabel("bottom", "epoch")
        self.acc_plot.setLabel("left", "accuracy", units="%")
        self.acc_plot.showGrid(x=True, y=True, alpha=0.15)
        self.acc_plot.setYRange(0, 100)
        self.acc_plot.getAxis("bottom").setTickSpacing(major=1, minor=1)
        self.acc_plot.addLegend(offset=(-10, 10))
        symbol = dict(symbol="o", symbolSize=7)
        self.train_item = self.acc_plot.plot(pen=pg.mkPen(INFO, width=2), symbolBrush=INFO, name="train", **symbol)
        self.val_item = self.acc_plot.plot(pen=pg.mkPen(WARN, width=2), symbolBrush=WARN, name="validation", **symbol)
        self.test_item = self.acc_plot.plot(pen=pg.mkPen(GOOD, width=2), symbolBrush=GOOD, name="test", **symbol)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.loss_plot, 3)
        layout.addWidget(self.acc_plot, 2)

    def clear(self) -> None:
        for series in (self.steps, self.losses, self.smoothed, self.epochs, self.train_acc, self.val_acc,
                       self.test_acc):
            series.clear()
        self._average = 0.0
        self._epochs_drawn = -1
        self._dirty = True
        self.refresh(force=True)

    def add_steps(self, events) -> None:
        """StepEvents, in order; non-finite losses are skipped (the divergence message explains them)."""
        for e in events:
            if not np.isfinite(e.loss):
                continue
            self._append_loss(e.step, float(e.loss))
        self._dirty = True

    def _append_loss(self, step: int, loss: float) -> None:
        self._average = SMOOTHING * self._average + (1 - SMOOTHING) * loss
        self.steps.append(int(step))
        self.losses.append(loss)
        self.smoothed.append(self._average / (1 - SMOOTHING ** len(self.losses)))

    def add_epoch(self, e) -> None:
        self.epochs.append(e.epoch + 1)  # shown counted from 1
        self.train_acc.append(100 * e.train_accuracy)
        self.val_acc.append(np.nan if e.val_accuracy is None else 100 * e.val_accuracy)
        self.test_acc.append(np.nan if e.test_accuracy is None else 100 * e.test_accuracy)
        self._dirty = True

    def load_history(self, steps, losses, epochs, train_acc, val_acc, test_acc) -> None:
        """Restore the curves of a checkpoint (accuracies as fractions)."""
        self.clear()
        for step, loss in zip(steps, losses):
            if np.isfinite(loss):
                self._append_loss(step, float(loss))
        self.epochs.extend(int(e) + 1 for e in epochs)
        for target, values in ((self.train_acc, train_acc), (self.val_acc, val_acc), (self.test_acc, test_acc)):
            target.extend(np.nan if v is None else 100 * float(v) for v in values)
        self._dirty = True

    def _set_log(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=on)
        self._dirty = True
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        if not self._dirty or not (force or self.isVisible()):
            return
        self._dirty = False
        steps = np.asarray(self.steps, float)
        self.raw_item.setData(steps, np.asarray(self.losses))
        self.smooth_item.setData(steps, np.asarray(self.smoothed))
        if len(self.epochs) != self._epochs_drawn:  # the accuracy plot changes once an epoch
            self._epochs_drawn = len(self.epochs)
            epochs = np.asarray(self.epochs, float)
            self.train_item.setData(epochs, np.asarray(self.train_acc))
            self.val_item.setData(epochs, np.asarray(self.val_acc), connect="finite")
            self.test_item.setData(epochs, np.asarray(self.test_acc), connect="finite")
        if self.losses:
            text = f"step {self.steps[-1]}: loss {self.losses[-1]:.3f} (smoothed {self.smoothed[-1]:.3f})"
            if self.epochs:
                text += f"  ·  epoch {self.epochs[-1]}: train {self.train_acc[-1]:.1f}%"
                if np.isfinite(self.val_acc[-1]):
                    text += f", validation {self.val_acc[-1]:.1f}%"
                if np.isfinite(self.test_acc[-1]):
                    text += f", test {self.test_acc[-1]:.1f}%"
            self.summary.setText(text)
