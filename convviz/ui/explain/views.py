"""The picture of an Explanation: a heat map over the image with its colour scale; pictures side by
side with captions (top images with their receptive fields outlined); the embedding as points
coloured by class (click one to open that image); the accuracy-versus-epsilon curve."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QVBoxLayout, QWidget

from ...interpret.methods import Explanation
from ...interpret.render import BOX, CLASS_COLOURS, HEAT_STOPS, rgb
from ..dashboard.style import ACCENT, TEXT_DIM

HEAT_OPACITY = 0.6
PICTURE_COLUMNS = 5
GAP = 0.12  # between pictures, in picture widths


def heat_colormap() -> pg.ColorMap:
    """The heat maps' colour scale (interpret.render's, so the app and `convviz explain` agree)."""
    return pg.ColorMap([p for p, _ in HEAT_STOPS], [c for _, c in HEAT_STOPS])


def _canvas_box() -> pg.ViewBox:
    """A view box for pictures placed side by side: y down, pixels square, no mouse interaction."""
    box = pg.ViewBox(lockAspect=True, invertY=True, enableMouse=False)
    box.setMenuEnabled(False)
    return box


def _place(box: pg.ViewBox, picture: np.ndarray, x: float, y: float, title: str) -> pg.ImageItem:
    """Add picture ((H, W) values or (H, W, 3) colours) to box with its top left at (x, y) and its title above."""
    item = pg.ImageItem(picture)
    item.setPos(x, y)
    box.addItem(item)
    label = pg.TextItem(title, anchor=(0.5, 1.0), color=(200, 204, 210))
    label.setPos(x + picture.shape[1] / 2, y)
    box.addItem(label)
    return item


class ResultView(QWidget):
    """show(explanation, image) draws it; imageClicked(test index) when a point of the embedding or a
    top image is clicked."""

    imageClicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.caption = QLabel("Pick an image and a method.")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet(f"color: {TEXT_DIM};")
        self.canvas = pg.GraphicsLayoutWidget()
        self.explanation: Explanation | None = None
        self.colorbar: pg.ColorBarItem | None = None
        self.heat_item: pg.ImageItem | None = None
        self.scatter: list[pg.ScatterPlotItem] = []
        self.marker: pg.ScatterPlotItem | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.canvas, 1)

    def clear(self, text: str = "") -> None:
        self.canvas.clear()
        self.explanation, self.colorbar, self.heat_item, self.scatter, self.marker = None, None, None, [], None
        if text:
            self.caption.setText(text)

    def show_result(self, e: Explanation, image: np.ndarray, names: list[str], selected: int | None = None) -> None:
        """Draw explanation e of image (uint8 (D, H, W)); selected: the test index to mark in an embedding."""
        self.clear()
        self.explanation = e
        self.caption.setText(e.caption)
        if e.heat is not None:
            self._heat(e, image)
        elif e.pictures:
            self._pictures(e)
        elif e.points is not None:
            self._embedding(e, names, selected)
        else:
            self._curve(e)

    def _heat(self, e: Explanation, image: np.ndarray) -> None:
        """The image and, beside it at the same size, the heat map over it; the colour scale on the right."""
        box = _canvas_box()
        h, w = image.shape[1:]
        gap = GAP * w
        _place(box, rgb(image), 0, 0, "image")
        _place(box, rgb(image), w + gap, 0, e.heat_label)
        low, high = e.heat_range or (float(e.heat.min()), float(e.heat.max()))
        self.heat_item = pg.ImageItem(e.heat, levels=(low, high))
        self.heat_item.setPos(w + gap, 0)
        self.heat_item.setOpacity(HEAT_OPACITY)
        box.addItem(self.heat_item)
        self.canvas.addItem(box, row=0, col=0)
        self.colorbar = pg.ColorBarItem(values=(low, high), colorMap=heat_colormap(), interactive=False, width=14)
        self.colorbar.setImageItem(self.heat_item)
        self.colorbar.axis.enableAutoSIPrefix(False)  # before the label: P 0.35..0.9 stays 0.35..0.9
        self.colorbar.setLabel("right", e.heat_label)
        self.canvas.addItem(self.colorbar, row=0, col=1)

    def _pictures(self, e: Explanation) -> None:
        """The pictures in rows of PICTURE_COLUMNS, all at one scale, with their titles and boxes."""
        box = _canvas_box()
        columns = min(PICTURE_COLUMNS, len(e.pictures))
        h, w = e.pictures[0].image.shape[1:]
        step_x, step_y = w * (1 + GAP), h * (1 + 3 * GAP)
        pen = QPen(QColor(*BOX))
        pen.setCosmetic(True)
        pen.setWidthF(2.0)
        for k, p in enumerate(e.pictures):
            r, col = divmod(k, columns)
            x, y = col * step_x, r * step_y
            item = _place(box, rgb(p.image), x, y, p.title)
            for top, left, bottom, right in p.boxes:
                rect = QGraphicsRectItem(QRectF(x + left, y + top, right - left, bottom - top))
                rect.setPen(pen)
                box.addItem(rect)
            if p.index is not None:
                item.mouseClickEvent = lambda ev, i=p.index: self.imageClicked.emit(i)
        self.canvas.addItem(box)

    def _embedding(self, e: Explanation, names: list[str], selected: int | None) -> None:
        plot = self.canvas.addPlot()
        plot.hideAxis("left")
        plot.hideAxis("bottom")
        plot.setAspectLocked(True)
        plot.addLegend(offset=(8, 8))
        for cls in range(int(e.labels.max()) + 1 if len(e.labels) else 0):
            where = np.flatnonzero(e.labels == cls)
            colour = CLASS_COLOURS[cls % len(CLASS_COLOURS)]
            item = pg.ScatterPlotItem(e.points[where, 0], e.points[where, 1], data=where, size=7, pen=None,
                                      brush=pg.mkBrush(*colour, 210), name=names[cls] if cls < len(names) else str(cls))
            item.sigClicked.connect(self._point_clicked)
            plot.addItem(item)
            self.scatter.append(item)
        self.marker = pg.ScatterPlotItem(size=16, pen=pg.mkPen(ACCENT, width=2.5), brush=None, symbol="o")
        plot.addItem(self.marker)
        self.mark(selected)

    def mark(self, index: int | None) -> None:
        """Ring the embedding's point of test image index (None: no ring)."""
        if self.marker is None or self.explanation is None:
            return
        points = self.explanation.points
        if index is None or not 0 <= index < len(points):
            self.marker.setData([], [])
        else:
            self.marker.setData([points[index, 0]], [points[index, 1]])

    def _point_clicked(self, item, points, *_) -> None:
        if len(points):
            self.imageClicked.emit(int(points[0].data()))

    def _curve(self, e: Explanation) -> None:
        eps, accuracy = e.curve
        plot = self.canvas.addPlot()
        positions = np.arange(len(eps))
        plot.plot(positions, accuracy, pen=pg.mkPen(ACCENT, width=2), symbol="o", symbolBrush=ACCENT)
        plot.getAxis("bottom").setTicks([[(float(i), f"{v:g}") for i, v in zip(positions, eps)]])
        plot.setLabel("bottom", "FGSM epsilon (/255 per pixel)")
        plot.setLabel("left", "test accuracy")
        plot.setYRange(0, 1, padding=0.02)
        plot.showGrid(y=True, alpha=0.3)
        for i, a in zip(positions, accuracy):
            label = pg.TextItem(f"{a:.0%}", anchor=(0.5, 1.3), color=(220, 220, 220))
            label.setPos(float(i), float(a))
            plot.addItem(label)
