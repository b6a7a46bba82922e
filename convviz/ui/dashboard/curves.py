"""The curves of a run in one zoomable pyqtgraph scene: the loss per step (raw, faint, and smoothed)
with the chance level ln C and a mark at each live change of a setting; the learning rate, weight
decay and momentum per step; the accuracies per epoch. Saved as PNG or SVG with save_image()."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QIODevice, Qt
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...engine.files import atomic_write
from .style import ACCENT, BAD, GOOD, INFO, TEXT_DIM, WARN

SMOOTHING = 0.9  # TensorBoard's smoothing weight: each value counts 0.9 times as much as the next
HYPER_NAMES = {"lr": "learning rate", "momentum": "momentum", "weight_decay": "weight decay"}
IMAGE_SUFFIXES = (".png", ".svg")
HYPER_ROW_HEIGHT = 52  # pixels for each settings chart, its title included


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


def _loss(value: float) -> str:
    """'2.303'; a diverging run's '3.4e+27' rather than 28 digits."""
    return f"{value:.3f}" if abs(value) < 1e4 else f"{value:.3g}"


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
        # no titles: the axes say what each chart shows, and the height goes to the curves
        self.loss_plot = self.plots.addPlot(row=0, col=0)
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setLabel("left", "cross-entropy loss")
        self.loss_plot.getAxis("left").enableAutoSIPrefix(False)  # a diverging run's 3e+27 in the ticks, not cut off
        # no grid on this plot: redrawn twice a second, pyqtgraph's grid would be most of the cost
        self.loss_plot.addLegend(offset=(10, -10))  # bottom left: a loss starts high (at chance) and falls
        self.loss_plot.setDownsampling(auto=True, mode="peak")  # long runs: thousands of steps
        self.loss_plot.setClipToView(True)
        self.raw_item = self.loss_plot.plot(pen=pg.mkPen((120, 170, 255, 110), width=1), name="loss (raw)")
        self.smooth_item = self.loss_plot.plot(pen=pg.mkPen(ACCENT, width=2.5), name="loss (smoothed)",
                                               antialias=True)
        self.chance_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(BAD, width=1, style=Qt.DashLine),
                                           label="", labelOpts={"position": 0.98, "color": BAD, "anchors": [(1, 1), (1, 1)]})
        self.chance_line.setVisible(False)
        self.loss_plot.addItem(self.chance_line, ignoreBounds=True)

        # the settings over steps: one slim chart each, steps lined up with the loss chart's
        self.hyper_plots, self.hyper_items, self._hyper_titles, self._hyper_scales = {}, {}, {}, {}
        for row, (name, colour) in enumerate((("lr", ACCENT), ("momentum", WARN), ("weight_decay", INFO)), start=1):
            plot = self.plots.addPlot(row=row, col=0)
            plot.setXLink(self.loss_plot)
            plot.hideAxis("bottom")
            plot.getAxis("left").setStyle(tickLength=-4)
            plot.getAxis("left").enableAutoSIPrefix(False)
            plot.setMouseEnabled(y=False)
            self.plots.ci.layout.setRowFixedHeight(row, HYPER_ROW_HEIGHT)
            self.hyper_plots[name] = plot
            self.hyper_items[name] = plot.plot(pen=pg.mkPen(colour, width=2))
        self.hyper_plots["lr"].setLogMode(y=True)  # a schedule divides it by 10s
        self._scale_hypers()
        self._title_hypers()

        self.acc_plot = self.plots.addPlot(row=4, col=0)
        self.acc_plot.setLabel("bottom", "epoch")
        self.acc_plot.setLabel("left", "accuracy", units="%")
        self.acc_plot.showGrid(x=True, y=True, alpha=0.15)
        self.acc_plot.setYRange(0, 100)
        self.acc_plot.getAxis("bottom").setTickSpacing(major=1, minor=1)
        self.acc_plot.addLegend(offset=(-10, 10), colCount=3)
        symbol = dict(symbol="o", symbolSize=7)
        self.train_item = self.acc_plot.plot(pen=pg.mkPen(INFO, width=2), symbolBrush=INFO, name="train", **symbol)
        self.val_item = self.acc_plot.plot(pen=pg.mkPen(WARN, width=2), symbolBrush=WARN, name="validation", **symbol)
        self.test_item = self.acc_plot.plot(pen=pg.mkPen(GOOD, width=2), symbolBrush=GOOD, name="test", **symbol)
        self.plots.ci.layout.setRowStretchFactor(0, 3)
        self.plots.ci.layout.setRowStretchFactor(4, 2)
        for plot in (self.loss_plot, *self.hyper_plots.values(), self.acc_plot):
            plot.getAxis("left").setWidth(58)  # the charts' steps line up

        layout = QVBoxLayout(self)
        layout.addLayout(self.bar)
        layout.addWidget(self.plots, 1)

    def _scale_hypers(self) -> None:
        """Each settings chart's axis: ticks at its lowest and highest value only (a chart this slim has
        room for no more); rates from 0 up, momentum from 0 to 1, the learning rate on a log scale."""
        values = {"lr": self.lrs, **{name: [v for _, v in changes] for name, changes in self.hyper.items()}}
        for name, plot in self.hyper_plots.items():
            shown = sorted({float(v) for v in values.get(name, []) if v > 0 or name != "lr"})
            ends = (shown[0], shown[-1]) if shown else ()
            if self._hyper_scales.get(name) == ends:
                continue
            self._hyper_scales[name] = ends
            if not ends:
                plot.getAxis("left").setTicks([[]])
                continue
            if name == "lr":
                low, high = math.log10(ends[0]), math.log10(ends[1])
                plot.setYRange(low - 0.2, high + 0.2, padding=0)
                ticks = [(low, f"{ends[0]:g}"), (high, f"{ends[1]:g}")]
            else:
                top = 1.0 if name == "momentum" else ends[1] * 1.25 or 1.0
                plot.setYRange(0, top, padding=0.05)
                ticks = [(v, f"{v:g}") for v in sorted({0.0, *ends})]
            plot.getAxis("left").setTicks([ticks, []])

    def _title_hypers(self) -> None:
        """Each settings chart's title: the setting and its latest value."""
        latest = {"lr": self.lrs[-1] if self.lrs else None,
                  **{name: changes[-1][1] for name, changes in self.hyper.items()}}
        for name, plot in self.hyper_plots.items():
            value = latest.get(name)
            shown = "" if value is None else f" {value:.4g}" if name == "lr" else f" {value:g}"
            if name == "momentum" and value is None and self.steps:
                shown = ": not used by this optimiser"
            title = f"{HYPER_NAMES[name]}{shown}"
            if self._hyper_titles.get(name) != title:  # a new title lays the scene out again: only on change
                self._hyper_titles[name] = title
                plot.setTitle(title, size="8pt", justify="left")

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
        self.hyper_items["lr"].setData(steps, np.asarray(self.lrs))
        last = self.steps[-1] if self.steps else 0
        for name in ("momentum", "weight_decay"):
            self.hyper_items[name].setData(*_steps_of(self.hyper.get(name, []), last))
        self._scale_hypers()
        self._title_hypers()
        if len(self.epochs) != self._epochs_drawn:  # the accuracy plot changes once an epoch
            self._epochs_drawn = len(self.epochs)
            epochs = np.asarray(self.epochs, float)
            self.train_item.setData(epochs, np.asarray(self.train_acc))
            self.val_item.setData(epochs, np.asarray(self.val_acc), connect="finite")
            self.test_item.setData(epochs, np.asarray(self.test_acc), connect="finite")
        self.plots.scene().prepareForPaint()  # the ranges follow the new data now: one paint, not a second after
        if self.losses:
            text = f"step {self.steps[-1]}: loss {_loss(self.losses[-1])} (smoothed {_loss(self.smoothed[-1])})"
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
        buffer = QBuffer()  # its own byte array
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if path.suffix.lower() == ".svg":  # Qt's SVG painter: pyqtgraph's SVG exporter fails on these charts
            svg = QSvgGenerator()
            svg.setOutputDevice(buffer)
            svg.setResolution(self.plots.logicalDpiX())  # as on screen: the axes are drawn in device pixels
            svg.setSize(self.plots.size())
            svg.setViewBox(self.plots.rect())
            svg.setTitle("ConvViz training curves")
            painter = QPainter(svg)
            self.plots.render(painter)
            painter.end()
        else:
            self.plots.grab().save(buffer, "PNG")
        data = bytes(buffer.data())
        with atomic_write(path) as f:
            f.write(data)
