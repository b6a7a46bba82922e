"""The curves of a run in one zoomable pyqtgraph scene: the loss per step (raw, faint, and smoothed)
with the chance level ln C and a mark at each live change of a setting; the learning rate, weight
decay and momentum per step; the accuracies per epoch. Saved as PNG or SVG with save_image()."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (pg.exporters is not imported with pyqtgraph)
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...engine.files import atomic_write
from .style import ACCENT, BAD, GOOD, INFO, TEXT_DIM, WARN

SMOOTHING = 0.9  # TensorBoard's smoothing weight: each value counts 0.9 times as much as the next
HYPER_NAMES = {"lr": "learning rate", "momentum": "momentum", "weight_decay": "weight decay"}
IMAGE_SUFFIXES = (".png", ".svg")


class Smoother:
    """TensorBoard's debiased exponential moving average: after values v1..vn the smoothed value is
    sum(w^k v[n-k]) / sum(w^k), so the first one is v1 itself. A moving average describes the steps
    it averages, not the newest one: each smoothed value is drawn at the same weighted average of the
    steps (without that it trails a falling loss by w / (1 - w) steps, and sits above it)."""

    def __init__(self, weight: float = SMOOTHING):
        self.weight = weight
        self.total = self.steps = self.weights = 0.0

    def add(self, step: float, value: float) -> tuple[float, float]:
        """-> (where to draw it: the weighted mean step, the smoothed value)."""
        w = self.weight
        self.total = w * self.total + value
        self.steps = w * self.steps + step
        self.weights = w * self.weights + 1.0
        return self.steps / self.weights, self.total / self.weights


def _steps_of(changes: list[tuple[int, float]], last: int) -> tuple[np.ndarray, np.ndarray]:
    """A setting that holds each value from its step on, drawn up to step last -> (x, y) with
    vertical jumps."""
    x, y = [], []
    for i, (step, value) in enumerate(changes):
        end = changes[i + 1][0] if i + 1 < len(changes) else max(last, step)
        x += [step, end]
        y += [value, value]
    return np.asarray(x, float), np.asarray(y, float)


class CurvesView(QWidget):
    """Appends metric events; draws (setData on items made once) when refresh() finds it visible."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.lrs: list[float] = []
        self.smooth_x: list[float] = []
        self.smoothed: list[float] = []
        self._smoother = Smoother()
        self.hyper: dict[str, list[tuple[int, float]]] = {}  # momentum, weight_decay: (from step, value)
        self.marks: dict[int, list[str]] = {}  # step -> what changed live there
        self._mark_items: dict[int, pg.InfiniteLine] = {}
        self.classes: int | None = None
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
        self.summary.setWordWrap(True)
        self.save_image_button = QPushButton("Save image…")
        self.save_image_button.setToolTip("Save these charts as a PNG or SVG picture")
        self.bar = QHBoxLayout()
        self.bar.addWidget(self.summary, 1)
        self.bar.addWidget(self.log_scale)
        self.bar.addWidget(self.save_image_button)

        self.plots = pg.GraphicsLayoutWidget()
        self.loss_plot = self.plots.addPlot(row=0, col=0, title="Training loss per step")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setLabel("left", "cross-entropy loss")
        # no grid on this plot: redrawn twice a second, pyqtgraph's grid would be most of the cost
        self.loss_plot.addLegend(offset=(-10, 10))
        self.loss_plot.setDownsampling(auto=True, mode="peak")  # long runs: thousands of steps
        self.loss_plot.setClipToView(True)
        self.raw_item = self.loss_plot.plot(pen=pg.mkPen((120, 170, 255, 110), width=1), name="loss (raw)")
        self.smooth_item = self.loss_plot.plot(pen=pg.mkPen(ACCENT, width=2.5), name="loss (smoothed)",
                                               antialias=True)
        self.chance_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(BAD, width=1, style=Qt.DashLine),
                                           label="", labelOpts={"position": 0.03, "color": BAD, "anchors": [(0, 1), (0, 1)]})
        self.chance_line.setVisible(False)
        self.loss_plot.addItem(self.chance_line, ignoreBounds=True)

        self.hyper_plot = self.plots.addPlot(row=1, col=0)
        self.hyper_plot.setLabel("left", "rate")
        self.hyper_plot.setLabel("right", "momentum")
        self.hyper_plot.setLogMode(y=True)
        self.hyper_plot.setXLink(self.loss_plot)
        self.hyper_plot.addLegend(offset=(-10, 5), colCount=3)
        self.lr_item = self.hyper_plot.plot(pen=pg.mkPen(ACCENT, width=2), name="learning rate")
        self.decay_item = self.hyper_plot.plot(pen=pg.mkPen(INFO, width=2), name="weight decay")
        self.momentum_box = pg.ViewBox()  # momentum (0 to 1) on its own linear axis, at the right
        self.hyper_plot.scene().addItem(self.momentum_box)
        self.hyper_plot.getAxis("right").linkToView(self.momentum_box)
        self.momentum_box.setXLink(self.hyper_plot)
        self.momentum_box.setYRange(0, 1)
        self.momentum_item = pg.PlotDataItem(pen=pg.mkPen(WARN, width=2), name="momentum")
        self.momentum_box.addItem(self.momentum_item)
        self.hyper_plot.legend.addItem(self.momentum_item, "momentum (right axis)")
        self.hyper_plot.vb.sigResized.connect(self._align_momentum_box)

        self.acc_plot = self.plots.addPlot(row=2, col=0, title="Accuracy per epoch")
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
        rows = self.plots.ci.layout
        for row, stretch in enumerate((5, 2, 3)):
            rows.setRowStretchFactor(row, stretch)
        for plot in (self.loss_plot, self.hyper_plot, self.acc_plot):
            plot.getAxis("left").setWidth(58)  # the three charts' steps line up

        layout = QVBoxLayout(self)
        layout.addLayout(self.bar)
        layout.addWidget(self.plots, 1)

    def _align_momentum_box(self) -> None:
        self.momentum_box.setGeometry(self.hyper_plot.vb.sceneBoundingRect())
        self.momentum_box.linkedViewChanged(self.hyper_plot.vb, self.momentum_box.XAxis)

    # ---- data ----
    def clear(self) -> None:
        for series in (self.steps, self.losses, self.lrs, self.smooth_x, self.smoothed, self.epochs, self.train_acc,
                       self.val_acc, self.test_acc):
            series.clear()
        self._smoother = Smoother()
        self.hyper = {}
        self.marks = {}
        for item in self._mark_items.values():
            self.loss_plot.removeItem(item)
        self._mark_items = {}
        self._epochs_drawn = -1
        self._dirty = True
        self.refresh(force=True)

    def set_classes(self, classes: int) -> None:
        """Draw the chance level: the loss of a network that spreads its belief evenly, ln C."""
        self.classes = classes
        self.chance_line.setVisible(True)
        self.chance_line.label.setFormat(f"chance: ln {classes} = {math.log(classes):.2f}")
        self._place_chance_line()

    def _place_chance_line(self) -> None:
        if self.classes is not None:
            level = math.log(self.classes)
            self.chance_line.setPos(math.log10(level) if self.log_scale.isChecked() else level)

    def add_steps(self, events) -> None:
        """StepEvents, in order; non-finite losses are skipped (the divergence message explains them)."""
        for e in events:
            if not np.isfinite(e.loss):
                continue
            self._append(e.step, float(e.loss), float(e.lr))
        self._dirty = True

    def _append(self, step: int, loss: float, lr: float) -> None:
        self.steps.append(int(step))
        self.losses.append(loss)
        self.lrs.append(lr)
        x, y = self._smoother.add(step, loss)
        self.smooth_x.append(x)
        self.smoothed.append(y)

    def start_settings(self, step: int, values: dict) -> None:
        """The momentum and weight decay a run uses from step on ({"momentum": 0.9, ...}; no momentum
        for an optimiser without one)."""
        for name in ("momentum", "weight_decay"):
            if name in values:
                self.hyper.setdefault(name, []).append((int(step), float(values[name])))
        self._dirty = True

    def mark_change(self, step: int, changes: dict) -> None:
        """A live change used from step on: {"lr": (old, new), ...} -> a labelled line on the loss chart."""
        for name, (old, new) in changes.items():
            self.marks.setdefault(int(step), []).append(f"{HYPER_NAMES[name]} {old:g} → {new:g}")
            if name in ("momentum", "weight_decay"):
                self.hyper.setdefault(name, []).append((int(step), float(new)))
        line = self._mark_items.get(step)
        if line is None:
            line = self._mark_items[step] = pg.InfiniteLine(
                pos=step, angle=90, movable=False, pen=pg.mkPen(WARN, width=1, style=Qt.DashLine), label="",
                labelOpts={"position": 0.95, "color": WARN, "anchors": [(0, 0), (0, 0)]})
            self.loss_plot.addItem(line, ignoreBounds=True)
        line.label.setFormat(", ".join(self.marks[step]))
        self._dirty = True

    def add_epoch(self, e) -> None:
        self.epochs.append(e.epoch + 1)  # shown counted from 1
        self.train_acc.append(100 * e.train_accuracy)
        self.val_acc.append(np.nan if e.val_accuracy is None else 100 * e.val_accuracy)
        self.test_acc.append(np.nan if e.test_accuracy is None else 100 * e.test_accuracy)
        self._dirty = True

    def load_history(self, history: dict) -> None:
        """Restore the curves of a checkpoint (a Trainer.history; accuracies as fractions)."""
        self.clear()
        for step, loss, lr in zip(history.get("step", []), history.get("loss", []), history.get("lr", [])):
            if np.isfinite(loss):
                self._append(step, float(loss), float(lr))
        self.epochs.extend(int(e) + 1 for e in history.get("epoch", []))
        for target, key in ((self.train_acc, "train_accuracy"), (self.val_acc, "val_accuracy"),
                            (self.test_acc, "test_accuracy")):
            target.extend(np.nan if v is None else 100 * float(v) for v in history.get(key, []))
        self._dirty = True

    # ---- drawing ----
    def _set_log(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=on)
        self._place_chance_line()
        self._dirty = True
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        if not self._dirty or not (force or self.isVisible()):
            return
        self._dirty = False
        steps = np.asarray(self.steps, float)
        self.raw_item.setData(steps, np.asarray(self.losses))
        self.smooth_item.setData(np.asarray(self.smooth_x), np.asarray(self.smoothed))
        self.lr_item.setData(steps, np.asarray(self.lrs))
        last = self.steps[-1] if self.steps else 0
        decay = self.hyper.get("weight_decay", [])
        if decay and any(v > 0 for _, v in decay):  # a log axis cannot show 0
            self.decay_item.setData(*_steps_of(decay, last))
        else:
            self.decay_item.setData([], [])
        self.momentum_item.setData(*_steps_of(self.hyper.get("momentum", []), last))
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

    def save_image(self, path) -> None:
        """Write the charts to path as PNG or SVG (by its suffix), atomically. Raises ValueError for
        another suffix, OSError when it cannot be written."""
        path = Path(path)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(f"{path.name}: save the curves as .png or .svg")
        self._dirty = True
        self.refresh(force=True)
        if path.suffix.lower() == ".svg":
            data = pg.exporters.SVGExporter(self.plots.scene()).export(toBytes=True)
        else:
            buffer = QBuffer(QByteArray())
            buffer.open(QIODevice.OpenModeFlag.WriteOnly)
            self.plots.grab().save(buffer, "PNG")
            data = bytes(buffer.data())
        with atomic_write(path) as f:
            f.write(data)
