"""Every conv layer's filters as a grid of tiles: the first layer in colour, deeper layers one tile
per filter per input channel (or their mean), each filter normalised on its own, with the scale shown."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

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
        self.layer_names: dict[str, str] = {}
        self.step = None
        self._dirty = False
        self._rows: dict[str, tuple[pg.LabelItem, pg.ViewBox, pg.ImageItem]] = {}
        self._shapes: dict[int, tuple] = {}
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
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.canvas)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.caption)
        layout.addWidget(scroll, 1)

    def set_layer_names(self, names: dict[str, str]) -> None:
        """Titles of the layers with filters by node key, e.g. {"0": '0 · Conv → 32x32x16'} (layer_titles)."""
        self.layer_names = dict(names)

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
        self._shapes.clear()
        self._dirty = True
        self.refresh(force=True)

    def _rebuild(self, shapes: dict[int, tuple]) -> None:
        """Make one title and one image per conv layer (only when the layers change)."""
        self.canvas.clear()
        self._rows.clear()
        total = 0
        first = min(shapes) if shapes else None
        for index, (height, width) in shapes.items():
            label = self.canvas.addLabel("", row=2 * len(self._rows), col=0, justify="left")
            view = self.canvas.addViewBox(row=2 * len(self._rows) + 1, col=0, lockAspect=True,
                                          invertY=True, enableMenu=False)
            image = pg.ImageItem()
            view.addItem(image)
            h = height * (PIXELS_PER_RGB_WEIGHT if index == first and self._rgb_first else PIXELS_PER_WEIGHT)
            self.canvas.ci.layout.setRowFixedHeight(2 * len(self._rows) + 1, h)
            self.canvas.ci.layout.setRowFixedHeight(2 * len(self._rows), TITLE_HEIGHT)
            self._rows[index] = (label, view, image)
            total += h + TITLE_HEIGHT + 12
        self.canvas.setMinimumHeight(total)
        self._shapes = dict(shapes)

    def image_of(self, index: str) -> np.ndarray | None:
        """The RGBA picture currently shown for the layer with this node key (for tests and screenshots)."""
        row = self._rows.get(index)
        return None if row is None or row[2].image is None else np.array(row[2].image)

    def refresh(self, force: bool = False) -> None:
        if not self._dirty or not (force or self.isVisible()):
            return
        self._dirty = False
        pictures = {}
        first = next(iter(self.filters), None)
        for index, weights in self.filters.items():
            rgb = index == first and weights.shape[1] == 3
            tiles, cols = filter_tiles(weights, "rgb" if rgb else self.mode.currentData())
            grid = mosaic(tiles, cols)
            pictures[index] = rgb_to_rgba(grid) if rgb else colorize(grid, DIVERGING)
        shapes = {i: p.shape[:2] for i, p in pictures.items()}
        self._rgb_first = first is not None and self.filters[first].shape[1] == 3
        rebuilt = shapes != self._shapes
        if rebuilt:
            self._rebuild(shapes)
        for index, picture in pictures.items():
            label, view, image = self._rows[index]
            weights = self.filters[index]
            k, c, f = weights.shape[0], weights.shape[1], weights.shape[2]
            name = self.layer_names.get(index, f"block {index}")
            detail = ("RGB" if index == first and c == 3 else
                      f"rows: {k} filters, columns: {c} input channels" if self.mode.currentData() == "channels"
                      else f"{k} filters, mean of {c} input channels")
            text = f"<b>{name}</b> — {k} filters of {f}x{f}x{c} · {detail} · |w| max {np.abs(weights).max():.2g}"
            if label.text != text:  # re-laying a graphics label out is costly
                label.setText(text)
            image.setImage(picture, autoLevels=False)
            if rebuilt:
                view.autoRange(padding=0.01)
        if self.step is not None:
            self.caption.setText(f"Filters at step {self.step}.")
