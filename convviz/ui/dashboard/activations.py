"""The probe image flowing through the network: every layer's output volume as a grid of its depth
slices (small heat maps), 1x1 volumes (fc, softmax) as bars, and the class probabilities; optionally
the gradient of the loss with respect to each volume instead, as ConvNetJS shows. The probe is a test
image, the next training image, or a picture of the user's (Open picture…)."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QFileDialog, QHBoxLayout, QLabel, QPushButton,
                               QRadioButton, QScrollArea, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from .imaging import DIVERGING, SEQUENTIAL, colorize, grid_shape, mosaic, volume_tiles
from .style import ACCENT, BAD, GOOD, INFO, TEXT_DIM

TITLE_HEIGHT = 24
TITLE_SECONDS = 2.0  # value ranges in the titles change at most this often (re-laying text out is costly)
BAR_HEIGHT = 130
MAX_ROW_HEIGHT = 420
GRID_ASPECT = 5.0  # each volume's depth slices are laid out about this many times wider than high


def tile_columns(depth: int) -> int:
    """How many depth slices a volume shows to a row."""
    return grid_shape(depth, aspect=GRID_ASPECT)[1]


def _set_text(label: pg.LabelItem, text: str) -> None:
    """Re-lay a graphics label out only when its text changes (it is costly)."""
    if label.text != text:
        label.setText(text)


def _pixels_per_cell(height: int) -> int:
    return int(np.clip(96 // max(height, 1), 2, 16))


PICTURE_NAME = 24  # characters of the picture's file name shown beside its button
PICTURES = "Pictures (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"


class ActivationsView(QWidget):
    """probeChanged(probe) asks for another probe image: a test-set index, None for the next training
    image, or a picture (uint8 (3, H, W), any size). pictureChosen(path) asks for the picture at path
    to be read; set_picture() then makes it the probe."""

    probeChanged = Signal(object)
    pictureChosen = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.snapshot = None
        self.layer_names: list[str] = []
        self.label_names: list[str] = []
        self._dirty = False
        self._signature = None
        self._rows: list[tuple] = []
        self._titles_at = 0.0
        self._heading = ""
        self.picture: np.ndarray | None = None  # the user's picture, uint8 (3, H, W)
        self.picture_name = ""

        self.use_test = QRadioButton("Test image #")
        self.use_training = QRadioButton("Next training image")
        self.use_picture = QRadioButton()  # the picture's name, shown once one was opened
        self.use_picture.setVisible(False)
        self.use_test.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.use_test)
        group.addButton(self.use_training)
        group.addButton(self.use_picture)
        self.open_picture = QPushButton("Open picture…")
        self.open_picture.setToolTip("Classify a PNG or JPEG of your own: it is fitted to the INPUT block and "
                                     "shown with its activations")
        self.open_picture.clicked.connect(lambda: self.choose_picture())
        self.index = QSpinBox()
        self.index.setRange(0, 0)
        self.index.setToolTip("Which image of the test set to send through the network")
        previous, following = QPushButton("◀"), QPushButton("▶")
        for button, step in ((previous, -1), (following, 1)):
            button.setFixedWidth(32)
            button.clicked.connect(lambda _=False, s=step: self.index.setValue(self.index.value() + s))
        self.gradients = QCheckBox("Show gradients (∂loss/∂volume)")
        self.gradients.setToolTip("Show how the loss changes with each neuron instead of its activation")
        self.gradients.toggled.connect(self._redraw)
        group.buttonToggled.connect(lambda button, checked: self._emit_probe() if checked else None)
        self.index.valueChanged.connect(self._emit_probe)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Probe:"))
        bar.addWidget(self.use_test)
        bar.addWidget(self.index)
        bar.addWidget(previous)
        bar.addWidget(following)
        bar.addWidget(self.use_training)
        bar.addWidget(self.open_picture)
        bar.addWidget(self.use_picture)
        bar.addStretch(1)
        bar.addWidget(self.gradients)
        self.caption = QLabel("The activations appear with the first snapshot once training starts.")
        self.caption.setStyleSheet(f"color: {TEXT_DIM};")

        self.canvas = pg.GraphicsLayoutWidget()
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.canvas)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.caption)
        self.splitter = QSplitter(Qt.Orientation.Vertical)  # panels may sit under the volumes (the neuron explanation)
        self.splitter.addWidget(self.scroll)
        layout.addWidget(self.splitter, 1)

    def set_test_count(self, n: int) -> None:
        self.index.setRange(0, max(0, n - 1))

    def set_network(self, layer_names: list[str], label_names: list[str]) -> None:
        """Titles of the layers in order, e.g. '0 · Conv → 32x32x16' (layer_titles), and the class names."""
        self.layer_names, self.label_names = list(layer_names), list(label_names)
        self._signature = None

    def probe(self) -> int | np.ndarray | None:
        if self.use_picture.isChecked():
            return self.picture
        return self.index.value() if self.use_test.isChecked() else None

    def choose_picture(self, path=None) -> None:
        """Ask for a picture (a file dialog when path is None); pictureChosen(path) follows."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open a picture to classify", "", PICTURES)
            if not path:
                return
        self.pictureChosen.emit(str(path))

    def set_picture(self, picture: np.ndarray, name: str) -> None:
        """Make picture (uint8 (3, H, W), read from the file name) the probe."""
        self.picture, self.picture_name = picture, name
        self.use_picture.setText(name if len(name) <= PICTURE_NAME else name[:PICTURE_NAME - 1] + "…")
        self.use_picture.setToolTip(f"{name}: {picture.shape[2]}x{picture.shape[1]}, fitted to the INPUT block")
        self.use_picture.setVisible(True)
        if self.use_picture.isChecked():
            self._emit_probe()
        else:
            self.use_picture.setChecked(True)  # emits probeChanged

    def _emit_probe(self) -> None:
        self.index.setEnabled(self.use_test.isChecked())
        self.probeChanged.emit(self.probe())

    def set_snapshot(self, snapshot) -> None:
        self.snapshot = snapshot
        self._dirty = True

    def clear(self) -> None:
        """Forget the snapshot; the pictures stay until the next run's first snapshot replaces them
        (made again only if the network's volumes differ)."""
        self.snapshot = None
        self.caption.setText("Waiting for the first snapshot of this run…")

    def _redraw(self) -> None:
        self._dirty = True
        self.refresh(force=True)

    def _volumes(self) -> list[np.ndarray]:
        s = self.snapshot
        return list((s.gradients if self.gradients.isChecked() else s.activations).values())

    def _rebuild(self, volumes: list[np.ndarray]) -> None:
        """One title and one picture (or bar chart) per layer, made when the network changes."""
        self.canvas.clear()
        self._heading = ""
        self._rows = []
        layout = self.canvas.ci.layout
        probe_view = self.canvas.addViewBox(row=0, col=0, lockAspect=True, invertY=True, enableMouse=False,
                                            enableMenu=False)
        probe_image = pg.ImageItem()
        probe_view.addItem(probe_image)
        _, height, width = self.snapshot.probe_image.shape
        probe_view.setRange(xRange=(0, width), yRange=(0, height), padding=0.02)
        probs = self.canvas.addPlot(row=0, col=1, title="class probabilities", enableMenu=False)
        probs.setYRange(0, 1)
        probs.setMouseEnabled(False, False)
        probs.getAxis("bottom").setTicks([list(enumerate(self.label_names))])
        prob_bars = pg.BarGraphItem(x=np.arange(len(self.label_names)), height=np.zeros(len(self.label_names)),
                                    width=0.75)
        probs.addItem(prob_bars)
        layout.setRowFixedHeight(0, 170)
        layout.setColumnStretchFactor(1, 3)
        self._probe = (probe_view, probe_image, probs, prob_bars)
        total = 190
        for i, volume in enumerate(volumes):
            title = self.canvas.addLabel("", row=1 + 2 * i, col=0, colspan=2, justify="left")
            layout.setRowFixedHeight(1 + 2 * i, TITLE_HEIGHT)
            depth, height, width = volume.shape
            if height == 1 and width == 1:
                plot = self.canvas.addPlot(row=2 + 2 * i, col=0, colspan=2, enableMenu=False)
                plot.setMouseEnabled(x=True, y=False)
                bars = pg.BarGraphItem(x=np.arange(depth), height=np.zeros(depth), width=0.8)
                plot.addItem(bars)
                if depth == len(self.label_names):
                    plot.getAxis("bottom").setTicks([list(enumerate(self.label_names))])
                self._rows.append((title, "bars", plot, bars))
                row_height = BAR_HEIGHT
            else:
                view = self.canvas.addViewBox(row=2 + 2 * i, col=0, colspan=2, lockAspect=True, invertY=True,
                                              enableMenu=False)
                image = pg.ImageItem()
                view.addItem(image)
                rows = grid_shape(depth, aspect=GRID_ASPECT)[0]
                row_height = min(MAX_ROW_HEIGHT, rows * (height + 1) * _pixels_per_cell(height))
                self._rows.append((title, "image", view, image))
            layout.setRowFixedHeight(2 + 2 * i, row_height)
            total += row_height + TITLE_HEIGHT + 10
        self.canvas.setMinimumHeight(total)

    def refresh(self, force: bool = False) -> None:
        if self.snapshot is None or not self._dirty or not (force or self.isVisible()):
            return
        self._dirty = False
        s = self.snapshot
        volumes = self._volumes()
        signature = (tuple(v.shape for v in volumes), tuple(self.label_names), s.probe_image.shape)
        rebuilt = signature != self._signature
        if rebuilt:
            self._rebuild(volumes)
            self._signature = signature
        signed = self.gradients.isChecked()
        now = time.monotonic()
        titles = force or rebuilt or now - self._titles_at >= TITLE_SECONDS
        if titles:
            self._titles_at = now
        probe_view, probe_image, probs_plot, prob_bars = self._probe
        picture = s.probe_image[0] if s.probe_image.shape[0] == 1 else s.probe_image.transpose(1, 2, 0)
        probe_image.setImage(np.ascontiguousarray(picture), autoLevels=False, levels=(0, 255))
        probs = np.asarray(s.probabilities, float)
        predicted = int(np.argmax(probs))
        brushes = [pg.mkBrush(GOOD if k == s.probe_label else BAD if k == predicted else (110, 115, 125))
                   for k in range(len(probs))]
        prob_bars.setOpts(height=probs, brushes=brushes)
        if s.probe_label is None:  # the user's picture: no true class
            heading = f"class probabilities — predicted: {self._name(predicted)} ({probs[predicted]:.0%})"
        else:
            verdict = "right" if predicted == s.probe_label else "wrong"
            heading = (f"class probabilities — true: {self._name(s.probe_label)}, predicted: "
                       f"{self._name(predicted)} ({verdict})")
        if heading != self._heading:  # only when the prediction changes: re-laying text out is costly
            self._heading = heading
            probs_plot.setTitle(heading)
        for i, (volume, row) in enumerate(zip(volumes, self._rows)):
            title, kind, holder, item = row
            name = self.layer_names[i] if i < len(self.layer_names) else f"layer {i}"
            depth, height, width = volume.shape
            if kind == "bars":
                values = volume.reshape(-1).astype(float)
                item.setOpts(height=values, brushes=[pg.mkBrush(INFO if v >= 0 else ACCENT) for v in values])
                if titles:
                    _set_text(title, f"<b>{name}</b> — {depth} values · {values.min():.3g} … {values.max():.3g}")
                continue
            tiles, low, high = volume_tiles(volume, signed)
            grid = mosaic(tiles, tile_columns(depth))
            item.setImage(colorize(grid, DIVERGING if signed else SEQUENTIAL), autoLevels=False)
            if rebuilt:
                holder.autoRange(padding=0.01)
            scale = "blue − · white 0 · red +" if signed else "dark low · yellow high"
            if titles:
                _set_text(title, f"<b>{name}</b> — {depth} depth slices of {width}x{height} · "
                                 f"{low:.2g} … {high:.2g} ({scale})")
        if s.probe_index is not None:
            which = f"test image #{s.probe_index}"
        else:
            which = f"your picture {self.picture_name}" if s.probe_label is None else "a training image"
        kind = ("gradients of the loss (for the predicted class)" if s.probe_label is None else
                "gradients of the loss") if signed else "activations"
        self.caption.setText(f"Step {s.step}: {kind} for {which}, one scale per layer.")

    def volume_views(self) -> list[tuple[str, object]]:
        """Per volume shown, in the snapshot's order: ("image", its ViewBox, tiles by tile_columns) or
        ("bars", its PlotItem); and the probe image's ViewBox is probe_view()."""
        return [(kind, holder) for _, kind, holder, _ in self._rows]

    def probe_view(self):
        return self._probe[0] if self._rows else None

    def _name(self, label: int) -> str:
        return self.label_names[label] if 0 <= label < len(self.label_names) else str(label)

    def image_of(self, layer: int) -> np.ndarray | None:
        """The picture shown for a layer (RGBA) or its bar heights (for tests)."""
        if layer >= len(self._rows):
            return None
        _, kind, _, item = self._rows[layer]
        return np.array(item.image) if kind == "image" else np.array(item.opts["height"])
