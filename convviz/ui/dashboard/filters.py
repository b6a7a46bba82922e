"""Every conv layer's filters as a grid of tiles: the first layer in colour, deeper layers one tile
per filter per input channel (or their mean), each filter normalised on its own, with the scale shown.
Layers are titled by their readable names (model.names), under a heading per top-level container."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from ...model.names import LayerTitle
from .activations import rows_in_view
from .imaging import DIVERGING, colorize, filter_tiles, mosaic, rgb_to_rgba
from .style import TEXT_DIM

PIXELS_PER_WEIGHT = 6       # screen pixels per weight of deeper layers' tiles (before fitting)
PIXELS_PER_RGB_WEIGHT = 12  # the first layer's colour filters are few: show them larger
TITLE_HEIGHT = 26


class FiltersView(QWidget):
    """Keeps the latest snapshot's filters; refresh() redraws them when visible."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.filters: dict[str, np.ndarray] = {}
        self.titles: dict[str, LayerTitle] = {}
        self.step = None
        self._dirty = False
        self._rows: dict[str, tuple[pg.LabelItem, str, pg.ViewBox, pg.ImageItem]] = {}  # (as the activations')
        self.headings: list[str] = []  # the container headings shown, in order
        self._signature = None  # what the rows were laid out for: the mode and each layer's weight shape
        self._stale: set[str] = set()  # layers not drawn since the last snapshot (out of view then)
        self._rgb_first = False

        self.mode = QComboBox()
        self.mode.addItem("one tile per input channel", "channels")
        self.mode.addItem("mean over input channels", "mean")
        self.mode.setToolTip("How to show filters of deeper layers, whose inputs are not RGB colours")
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.caption = QLabel("The filters appear with the first snapshot once training starts.")
        self.caption.setStyleSheet(f"color: {TEXT_DIM};")

        scale = pg.GraphicsLayoutWidget()
        scale.setFixedHeight(58)
        scale.setMinimumWidth(260)
        cmap = pg.ColorMap(np.linspace(0, 1, len(DIVERGING)), DIVERGING)
        self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=cmap, interactive=False,
                                        orientation="horizontal", width=12)
        self.colorbar.setLabel("bottom", "w ÷ max |w| of its filter")
        scale.addItem(self.colorbar)
        legend = QLabel("First layer: RGB, each filter stretched to its own min…max.\n"
                        "Deeper layers: blue negative, white zero, red positive.")
        legend.setStyleSheet(f"color: {TEXT_DIM};")

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Deeper layers:"))
        bar.addWidget(self.mode)
        bar.addStretch(1)
        bar.addWidget(legend)
        bar.addWidget(scale, 1)

        self.canvas = pg.GraphicsLayoutWidget()
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.canvas)
        self.scroll.verticalScrollBar().valueChanged.connect(self._scrolled)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.caption)
        layout.addWidget(self.scroll, 1)

    def set_layers(self, titles: dict[str, LayerTitle]) -> None:
        """The titles of the network's nodes by node key (model.names.layer_titles); those with filters
        are shown."""
        if titles != self.titles:  # the same network again keeps its rows
            self.titles = dict(titles)
            self._signature = None

    def set_snapshot(self, snapshot) -> None:
        self.filters = snapshot.filters
        self.step = snapshot.step
        self._dirty = True

    def clear(self) -> None:
        """Forget the filters; the pictures stay until the next run's first snapshot replaces them
        (made again only if the layers differ)."""
        self.filters, self.step = {}, None
        self.caption.setText("Waiting for the first snapshot of this run…")

    def _mode_changed(self) -> None:
        self._dirty = True
        self.refresh(force=True)

    def _rebuild(self, shapes: dict[str, tuple]) -> None:
        """Make one title and one image per conv layer, and a heading before each container's layers
        (only when the layers change)."""
        self.canvas.clear()
        self._rows.clear()
        self.headings = []
        layout = self.canvas.ci.layout
        total, row, group = 0, 0, ""
        first = next(iter(shapes), None)
        for key, (height, width) in shapes.items():
            title = self.titles.get(key)
            if title is not None and title.group and title.group != group:
                self.canvas.addLabel(f"<b>{title.heading}</b>", row=row, col=0, justify="left", size="11pt")
                layout.setRowFixedHeight(row, TITLE_HEIGHT)
                self.headings.append(title.heading)
                row, total = row + 1, total + TITLE_HEIGHT
            group = title.group if title is not None else ""
            label = self.canvas.addLabel("", row=row, col=0, justify="left")
            view = self.canvas.addViewBox(row=row + 1, col=0, lockAspect=True, invertY=True, enableMenu=False)
            image = pg.ImageItem()
            view.addItem(image)
            h = height * (PIXELS_PER_RGB_WEIGHT if key == first and self._rgb_first else PIXELS_PER_WEIGHT)
            layout.setRowFixedHeight(row + 1, h)
            layout.setRowFixedHeight(row, TITLE_HEIGHT)
            self._rows[key] = (label, "image", view, image)
            row += 2
            total += h + TITLE_HEIGHT + 12
        self.canvas.setMinimumHeight(total)

    def image_of(self, index: str) -> np.ndarray | None:
        """The RGBA picture currently shown for the layer with this node key (for tests and screenshots)."""
        row = self._rows.get(index)
        return None if row is None or row[3].image is None else np.array(row[3].image)

    def refresh(self, force: bool = False) -> None:
        if not self._dirty or not (force or self.isVisible()):
            return
        self._dirty = False
        first = next(iter(self.filters), None)
        self._rgb_first = first is not None and self.filters[first].shape[1] == 3
        signature = (self.mode.currentData(), tuple((k, w.shape) for k, w in self.filters.items()))
        rebuilt = signature != self._signature
        if rebuilt:  # every picture, to lay the rows out
            pictures = {k: self._picture(k) for k in self.filters}
            self._rebuild({k: p.shape[:2] for k, p in pictures.items()})
            self._signature = signature
        else:  # the rows in view; the others when scrolled to (a deep net has more than fit)
            pictures = {k: self._picture(k) for k in rows_in_view(self.scroll, self.canvas, self._rows)
                        if k in self.filters}
        self._stale = set(self.filters) - set(pictures)
        for key, picture in pictures.items():
            self._show(key, picture, rebuilt)
        if self.step is not None:
            self.caption.setText(f"Filters at step {self.step}.")

    def _picture(self, key: str) -> np.ndarray:
        """The RGBA mosaic of one layer's filters."""
        weights = self.filters[key]
        rgb = key == next(iter(self.filters)) and weights.shape[1] == 3
        tiles, cols = filter_tiles(weights, "rgb" if rgb else self.mode.currentData())
        grid = mosaic(tiles, cols)
        return rgb_to_rgba(grid) if rgb else colorize(grid, DIVERGING)

    def _show(self, key: str, picture: np.ndarray, rebuilt: bool) -> None:
        label, _, view, image = self._rows[key]
        weights = self.filters[key]
        k, c, f = weights.shape[0], weights.shape[1], weights.shape[2]
        title = self.titles.get(key)
        name = f"{title.name} ({title.label})" if title is not None else f"block {key}"
        detail = ("RGB" if key == next(iter(self.filters)) and c == 3 else
                  f"rows: {k} filters, columns: {c} input channels" if self.mode.currentData() == "channels"
                  else f"{k} filters, mean of {c} input channels")
        text = f"<b>{name}</b> — {k} filters of {f}x{f}x{c} · {detail} · |w| max {np.abs(weights).max():.2g}"
        if label.text != text:  # re-laying a graphics label out is costly
            label.setText(text)
        image.setImage(picture, autoLevels=False)
        if rebuilt:
            view.autoRange(padding=0.01)

    def _scrolled(self) -> None:
        """Draw the layers scrolled into view that an earlier refresh left for later."""
        for key in rows_in_view(self.scroll, self.canvas, self._rows) & self._stale:
            if key in self.filters:
                self._stale.discard(key)
                self._show(key, self._picture(key), False)
