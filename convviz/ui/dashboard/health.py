"""Training health while it trains (training.health): per layer with parameters, the update / weight
ratio over steps (log scale, with the notes' 1e-3 rule of thumb), the share of each ReLU's units that
never fired, the percentile bands of one chosen layer's weights and gradients, and the hints in words."""
from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...training.health import DEAD_SHARE, FIRING_WINDOW, RULE_OF_THUMB, scientific
from .style import ACCENT, BAD_CSS, GOOD_CSS, INFO, TEXT_DIM, WARN_CSS

BAND_ALPHA = (60, 120)  # fill opacity of the outer (5-95) and inner (25-75) bands
RATIO_RANGE = (1e-5, 3.0)  # the ratio plot's y range (zoomable): decades around the rule of thumb
MAX_POINTS = 400  # samples drawn per curve at most (evenly spread, the latest always): a long run stays cheap
LEGEND_LAYERS = 10  # more layers than this are told apart by colour alone (first blue ... last red)
DEPTH_COLOURS = pg.ColorMap([0.0, 0.5, 1.0], [(90, 160, 255), (120, 220, 120), (255, 110, 80)])


def _palette(count: int) -> list:
    """Colours from the first layer (blue) through green to the last (red)."""
    return [DEPTH_COLOURS.map(i / max(count - 1, 1), mode="qcolor") for i in range(count)]


def _shown(count: int) -> np.ndarray:
    """Indices of the samples to draw: at most about MAX_POINTS, evenly spread, the last included."""
    stride = -(-count // MAX_POINTS)
    return np.unique(np.r_[np.arange(0, count, stride), count - 1]) if count else np.zeros(0, int)


class _Rows:
    """Rows appended one at a time to an array that doubles when full; rows() is a view of those written."""

    def __init__(self, shape: tuple[int, ...]):
        self._array = np.full((64, *shape), np.nan)
        self.count = 0

    def append(self, row) -> None:
        if self.count == len(self._array):
            self._array = np.concatenate([self._array, np.full_like(self._array, np.nan)])
        self._array[self.count] = row
        self.count += 1

    def rows(self) -> np.ndarray:
        return self._array[:self.count]


class _Bands:
    """One plot's percentile bands over steps: a faint 5-95 fill, a stronger 25-75 fill, the median line."""

    def __init__(self, plot: pg.PlotItem, colour):
        pen = pg.mkPen(None)
        self.curves = [plot.plot(pen=pen) for _ in range(4)]  # p5, p95, p25, p75
        self.fills = []
        for (low, high), alpha in zip(((0, 1), (2, 3)), BAND_ALPHA):
            self.fills.append(pg.FillBetweenItem(self.curves[low], self.curves[high], brush=pg.mkBrush(*colour, alpha)))
            plot.addItem(self.fills[-1])
        self.median = plot.plot(pen=pg.mkPen(colour, width=2), name="median")

    def set_data(self, steps: np.ndarray, bands: np.ndarray) -> None:
        """bands (samples, 5): the 5th, 25th, 50th, 75th and 95th percentiles."""
        for curve, column in zip(self.curves, (0, 4, 1, 3)):
            curve.blockSignals(True)  # each fill is redrawn once below, not after each of its curves
            curve.setData(steps, bands[:, column])
            curve.blockSignals(False)
        for fill in self.fills:
            fill.updatePath()
        self.median.setData(steps, bands[:, 2])


class HealthView(QWidget):
    """Keeps every HealthEvent of the run (add_health); refresh() draws when visible and changed.
    Plot items are made once per network (when the first event names its layers)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.steps: list[int] = []
        self.layers: list[tuple[str, str, str]] = []    # (key, label, title) of the layers in the events
        # per sample: a column per layer with parameters (weighted) or per ReLU (rectifiers), in plan order
        self.weighted: list[str] = []
        self.rectifiers: list[str] = []
        self.ratios = _Rows((0,))                       # (samples, weighted)
        self.weight_bands = _Rows((0, 5))               # (samples, weighted, 5)
        self.grad_bands = _Rows((0, 5))
        self.never_fired = _Rows((0,))                  # (samples, rectifiers), in %
        self.latest = None
        self._dirty = False
        self._drawn_layer = None

        self.summary = QLabel("Press Start to train; each layer's health appears here every three seconds.")
        self.summary.setStyleSheet(f"color: {TEXT_DIM};")
        self.layer = QComboBox()
        self.layer.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.layer.setToolTip("The layer whose weight and gradient distributions are drawn below")
        self.layer.currentIndexChanged.connect(self._layer_changed)
        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        bar.addWidget(QLabel("Distributions of"))
        bar.addWidget(self.layer)
        self.hints = QLabel()
        self.hints.setWordWrap(True)
        self.hints.setTextFormat(Qt.TextFormat.RichText)
        self._hint_spans: dict[str, list] = {}  # layer key -> [first step, last step, hint] of its latest hint

        self.ratio_plot = pg.PlotWidget(title="‖update‖ / ‖weights‖ per step")
        self.ratio_plot.setLogMode(y=True)
        self.ratio_plot.setLabel("bottom", "step")
        self.ratio_plot.getAxis("left").enableAutoSIPrefix(False)
        self.ratio_plot.setYRange(*np.log10(RATIO_RANGE), padding=0)
        self.ratio_plot.enableAutoRange(y=False)
        self.ratio_plot.addLegend(offset=(-10, -10), labelTextSize="8pt")  # bottom right: ratios sit higher
        guide = pg.InfiniteLine(pos=math.log10(RULE_OF_THUMB), angle=0, movable=False,
                                pen=pg.mkPen(ACCENT, width=1.5, style=Qt.PenStyle.DashLine),
                                label=f"rule of thumb {scientific(RULE_OF_THUMB)}",
                                labelOpts={"position": 0.45, "color": ACCENT, "anchors": [(0, 1), (0, 1)]})
        self.ratio_plot.addItem(guide)
        self.fired_plot = pg.PlotWidget(title="ReLU units that never fire (%)")
        self.fired_plot.setLabel("bottom", "step")
        self.fired_plot.setYRange(0, 100)
        self.fired_plot.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.fired_plot.addItem(pg.InfiniteLine(pos=100 * DEAD_SHARE, angle=0, movable=False,
                                                pen=pg.mkPen(BAD_CSS, width=1, style=Qt.PenStyle.DashLine)))
        self.weight_plot = pg.PlotWidget(title="Weights")
        self.grad_plot = pg.PlotWidget(title="Gradients")
        for plot in (self.weight_plot, self.grad_plot):
            plot.setLabel("bottom", "step")
        for plot in (self.ratio_plot, self.fired_plot, self.weight_plot, self.grad_plot):
            plot.setMinimumSize(200, 150)  # no clipToView or downsampling: refresh() thins to MAX_POINTS, cheaper
        self.weight_bands_item = _Bands(self.weight_plot.getPlotItem(), INFO)
        self.grad_bands_item = _Bands(self.grad_plot.getPlotItem(), ACCENT)
        self._ratio_items: dict[str, pg.PlotDataItem] = {}
        self._fired_items: dict[str, pg.PlotDataItem] = {}

        legend = QLabel(f"Dashed: the rule of thumb ({scientific(RULE_OF_THUMB)}) and {DEAD_SHARE:.0%} of units "
                        "silent. "
                        "Colours run from the first layer (blue) to the last (red). "
                        f"A unit never fires when it is 0 for every image of the last {FIRING_WINDOW} samples. "
                        "Bands: the 5th-95th and 25th-75th percentiles, line: the median.")
        legend.setWordWrap(True)
        legend.setStyleSheet(f"color: {TEXT_DIM};")
        grid = QGridLayout()
        grid.addWidget(self.ratio_plot, 0, 0)
        grid.addWidget(self.fired_plot, 0, 1)
        grid.addWidget(self.weight_plot, 1, 0)
        grid.addWidget(self.grad_plot, 1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.hints)
        layout.addLayout(grid, 1)
        layout.addWidget(legend)
        self._show_hints()

    # ---- data ----
    def clear(self) -> None:
        """Forget the samples (a new run); the items stay until the next run's layers differ."""
        self.steps.clear()
        for table in (self.ratios, self.never_fired, self.weight_bands, self.grad_bands):
            table.count = 0
        self.latest = None
        self._hint_spans.clear()
        self.summary.setText("Waiting for the first health sample of this run…")
        self._show_hints()
        self._dirty = True

    def add_health(self, event) -> None:
        """A HealthEvent (after the step it measured)."""
        layers = [(layer.key, layer.label, layer.title) for layer in event.layers]
        if layers != self.layers:
            self._rebuild(event)
        self.steps.append(event.step)
        weighted = [layer for layer in event.layers if layer.update_ratio is not None]
        self.ratios.append([layer.update_ratio for layer in weighted])
        self.weight_bands.append([layer.weight_bands for layer in weighted])
        self.grad_bands.append([layer.grad_bands for layer in weighted])
        self.never_fired.append([100 * layer.never_fired for layer in event.layers if layer.never_fired is not None])
        for layer in event.layers:
            if layer.hint:
                span = self._hint_spans.get(layer.key)
                continues = span is not None and span[1] == (self.steps[-2] if len(self.steps) > 1 else None)
                self._hint_spans[layer.key] = [span[0] if continues else event.step, event.step, layer.hint]
        self.latest = event
        self._dirty = True

    def _rebuild(self, event) -> None:
        """New layers: make the curves and the layer choices again (once per network)."""
        self.layers = [(layer.key, layer.label, layer.title) for layer in event.layers]
        weighted = [layer for layer in event.layers if layer.update_ratio is not None]
        rectifiers = [layer for layer in event.layers if layer.never_fired is not None]
        self.steps.clear()
        self.weighted = [layer.key for layer in weighted]
        self.rectifiers = [layer.key for layer in rectifiers]
        self.ratios, self.never_fired = _Rows((len(weighted),)), _Rows((len(rectifiers),))
        self.weight_bands, self.grad_bands = _Rows((len(weighted), 5)), _Rows((len(weighted), 5))
        for plot, items in ((self.ratio_plot, self._ratio_items), (self.fired_plot, self._fired_items)):
            for item in items.values():
                plot.removeItem(item)
            items.clear()
        for plot, items, layers in ((self.ratio_plot, self._ratio_items, weighted),
                                    (self.fired_plot, self._fired_items, rectifiers)):
            named = len(layers) <= LEGEND_LAYERS
            plot.getPlotItem().legend.setVisible(named)
            for layer, colour in zip(layers, _palette(len(layers))):
                items[layer.key] = plot.plot(pen=pg.mkPen(colour, width=1.5),
                                             name=f"{layer.label} {layer.title}" if named else None)
        self.layer.blockSignals(True)
        self.layer.clear()
        for layer in weighted:
            self.layer.addItem(f"block {layer.label} ({layer.title})", layer.key)
        self.layer.blockSignals(False)
        self._drawn_layer = None

    def _layer_changed(self) -> None:
        self._dirty = True
        self.refresh(force=True)

    # ---- drawing ----
    def refresh(self, force: bool = False) -> None:
        if not self._dirty or not (force or self.isVisible()):
            return
        self._dirty = False
        shown = _shown(len(self.steps))
        steps = np.asarray(self.steps, float)[shown]
        ratios = self.ratios.rows()[shown]
        ratios[~(ratios > 0)] = np.nan  # the log scale draws no 0 (a layer that did not move)
        for column, key in enumerate(self.weighted):
            self._ratio_items[key].setData(steps, ratios[:, column], connect="finite")
        fired = self.never_fired.rows()[shown]
        for column, key in enumerate(self.rectifiers):
            self._fired_items[key].setData(steps, fired[:, column])
        key = self.layer.currentData()
        if key is not None and self.steps:
            column = self.weighted.index(key)
            self.weight_bands_item.set_data(steps, self.weight_bands.rows()[shown, column])
            self.grad_bands_item.set_data(steps, self.grad_bands.rows()[shown, column])
        else:
            for bands in (self.weight_bands_item, self.grad_bands_item):
                bands.set_data(np.zeros(0), np.zeros((0, 5)))
        if key != self._drawn_layer:
            self._drawn_layer = key
            title = self.layer.currentText()
            self.weight_plot.setTitle(f"Weights of {title}" if title else "Weights")
            self.grad_plot.setTitle(f"Gradients of {title}" if title else "Gradients")
        for plot in (self.ratio_plot, self.fired_plot, self.weight_plot, self.grad_plot):
            plot.scene().prepareForPaint()  # the ranges follow the new data now: one paint, not a second after
        e = self.latest
        if e is not None:
            self.summary.setText(f"Health at step {e.step:,} ({len(self.steps)} samples)")
            self._show_hints()

    def hint_lines(self) -> list[tuple[str, str]]:
        """What the hints say, as (state, sentence): ("now", hint) for the latest sample's, ("healthy", ...)
        when it has none, then ("earlier", "Steps a–b: hint") for warnings that no longer hold, so a
        warning seen once stays in view."""
        if self.latest is None:
            return []
        now = [("now", hint) for _, last, hint in self._hint_spans.values() if last == self.latest.step]
        past = sorted(span for span in self._hint_spans.values() if span[1] != self.latest.step)
        return (now or [("healthy", "Every layer looks healthy now.")]) + [
            ("earlier", f"Steps {first:,}–{last:,}: {hint}") for first, last, hint in past]

    def _show_hints(self) -> None:
        marks = {"now": (BAD_CSS, "⚠ "), "healthy": (GOOD_CSS, "✓ "), "earlier": (WARN_CSS, "")}
        text = "".join(f"<div style='color:{marks[state][0]}'>{marks[state][1]}{html.escape(line)}</div>"
                       for state, line in self.hint_lines())
        if self.hints.text() != text:
            self.hints.setText(text)
        self.hints.setVisible(bool(text))
