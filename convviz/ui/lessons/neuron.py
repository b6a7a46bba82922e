"""How one number is made, in the Train tab's activations view: click any neuron of any volume and the
panel beside the volumes explains it (interpret.neuron) with the probe image's numbers: what it sees
of the input and of every earlier volume (outlined on them in the view), and for a conv neuron its
window through the whole input depth, its filter, their products and sum plus the bias; for a pool
its window and the maximum or the average; after a merge, what each lane sees.

The numbers need the weights to hold still: the run's (paused or finished), copied when first asked.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsRectItem, QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from ...engine.fields import Box
from ...interpret.neuron import NeuronExplanation, describe, explain_neuron
from ...interpret.subject import Subject
from ..dashboard.activations import ActivationsView, tile_columns
from ..dashboard.imaging import DIVERGING, tile_at, tile_place
from ..dashboard.style import ACCENT, TEXT_DIM
from ..dashboard.thumbs import pixmap_of
from ..worker import Background, JobWorker

FIELD = QColor(0, 255, 120)      # receptive fields
NEURON = QColor(*ACCENT)         # the neuron clicked
PICTURE = 160                    # side of the input picture in the panel
SLICES = 3                       # depth slices of a window shown number by number
CELLS = 144                      # a window slice larger than this is summed, not listed


class NeuronPicker(QObject):
    """Turns clicks on an ActivationsView's volumes into picked(node key, depth, row, column), and
    outlines an explanation's regions there (on every depth slice of each earlier volume, the neuron
    in its own slice, the input patch on the probe image)."""

    picked = Signal(str, int, int, int)

    def __init__(self, view: ActivationsView):
        super().__init__(view)
        self.view = view
        self.outlines: list[tuple[pg.ViewBox, QGraphicsRectItem]] = []
        view.canvas.scene().sigMouseClicked.connect(self._clicked)

    def keys(self) -> list[str]:
        """The node keys of the volumes shown, in order."""
        return list(self.view.snapshot.activations) if self.view.snapshot is not None else []

    def neuron_at(self, row: int, scene_pos) -> tuple[int, int, int] | None:
        """(depth, row, column) of the neuron of volume row under a scene position, or None."""
        kind, holder = self.view.volume_views()[row]
        d, h, w = self.view.snapshot.activations[self.keys()[row]].shape
        box = holder if kind == "image" else holder.vb
        if not box.sceneBoundingRect().contains(scene_pos):
            return None
        p = box.mapSceneToView(scene_pos)
        if kind == "bars":
            k = int(round(p.x()))
            return (k, 0, 0) if 0 <= k < d else None
        return tile_at(p.y(), p.x(), d, tile_columns(d), h, w)

    @Slot(object)
    def _clicked(self, event) -> None:
        if self.view.snapshot is None or event.button() != Qt.MouseButton.LeftButton:
            return
        for row, key in enumerate(self.keys()[:len(self.view.volume_views())]):
            found = self.neuron_at(row, event.scenePos())
            if found is not None:
                self.picked.emit(key, *found)
                return

    def clear(self) -> None:
        for box, item in self.outlines:
            if item.scene() is not None:
                box.removeItem(item)
        self.outlines = []

    def outline(self, e: NeuronExplanation, keys_by_id: dict[int, str]) -> None:
        """Outline e's regions on the volumes shown (keys_by_id: node id -> key of e's network)."""
        self.clear()
        if self.view.snapshot is None:
            return
        rows = {key: i for i, key in enumerate(self.keys())}
        views = self.view.volume_views()
        for node_id, box in e.regions.items():
            key = keys_by_id.get(node_id)
            if node_id == 0:
                probe = self.view.probe_view()
                if probe is not None:
                    self._rect(probe, 0, 0, box, FIELD)
                continue
            if key not in rows or rows[key] >= len(views) or views[rows[key]][0] != "image":
                continue
            d, h, w = self.view.snapshot.activations[key].shape
            holder, cols = views[rows[key]][1], tile_columns(d)
            slices = [e.depth] if node_id == e.node.id else range(d)
            for k in slices:
                top, left = tile_place(k, cols, h, w)
                self._rect(holder, top, left, box, NEURON if node_id == e.node.id else FIELD)

    def _rect(self, holder: pg.ViewBox, top: int, left: int, box: Box, colour: QColor) -> None:
        t, l, b, r = box
        item = QGraphicsRectItem(QRectF(left + l, top + t, r - l, b - t))
        pen = QPen(colour)
        pen.setCosmetic(True)
        pen.setWidthF(1.5)
        item.setPen(pen)
        item.setZValue(10)
        holder.addItem(item)
        self.outlines.append((holder, item))


def _cell(value: float, scale: float, padded: bool, marked: bool) -> str:
    if padded:
        return f"<td align=right style='color:{TEXT_DIM}'>{'-inf' if value < 0 and np.isinf(value) else '0'}</td>"
    r, g, b, _ = DIVERGING[int(np.clip((value / scale + 1) / 2, 0, 1) * 255)]
    ink = "#000" if 0.3 * r + 0.59 * g + 0.11 * b > 140 else "#fff"
    style = f"background-color:rgb({r},{g},{b}); color:{ink}"
    if marked:
        style += "; font-weight:bold; text-decoration:underline"
    return f"<td align=right style='{style}'>{value:.{3 if abs(value) >= 1 else 2}g}</td>"


def grid_html(a: np.ndarray, padded: np.ndarray | None = None, mark: tuple[int, int] | None = None) -> str:
    """A 2-D array as a table of numbers coloured blue (negative) to red (positive); padding grey."""
    finite = a[np.isfinite(a)]
    scale = float(np.abs(finite).max()) if finite.size and np.abs(finite).max() > 0 else 1.0
    rows = []
    for i in range(a.shape[0]):
        cells = "".join(_cell(float(a[i, j]), scale, bool(padded is not None and padded[i, j]), mark == (i, j))
                        for j in range(a.shape[1]))
        rows.append(f"<tr>{cells}</tr>")
    return f"<table cellspacing=1 cellpadding=2 style='font-size:8pt'>{''.join(rows)}</table>"


def computation_html(e: NeuronExplanation) -> str:
    """The recipe's numbers: per depth slice the window, the filter and their products (dot), the window
    with its maximum underlined (max) or its sum (mean)."""
    r = e.recipe
    if r.op not in ("dot", "max", "mean") or r.window.ndim != 3:
        return ""
    shown = [k for k in range(len(r.depths)) if r.window[k].size <= CELLS][:SLICES]
    parts = []
    for k in shown:
        pad = r.padded[k] if r.padded is not None else None
        depth = r.depths[k]
        if r.op == "dot":
            products = r.window[k] * r.weights[k]
            cells = (grid_html(r.window[k], pad), "×", grid_html(r.weights[k]), "=", grid_html(products, pad))
            parts.append(f"<p><b>depth slice {depth}</b>: window × filter = products, summed {products.sum():.4g}</p>"
                         f"<table><tr>{''.join(f'<td>{c}</td>' for c in cells)}</tr></table>")
        else:
            mark = r.chosen[1:] if r.op == "max" else None
            what = "its largest number underlined" if r.op == "max" else f"summed {r.window[k].sum():.4g}"
            parts.append(f"<p><b>depth slice {depth}</b>: the window, {what}</p>{grid_html(r.window[k], pad, mark)}")
    rest = len(r.depths) - len(shown)
    if r.op == "dot" and rest:
        total = float((r.window * r.weights).sum())
        listed = float(sum((r.window[k] * r.weights[k]).sum() for k in shown))
        bias = f", plus the bias {r.bias:.4g}" if r.bias is not None else ""
        parts.append(f"<p>…and {rest} more depth slice{'s' * (rest != 1)}, whose products sum to "
                     f"{total - listed:.4g}: {total:.4g} in all{bias} = <b>{r.result:.4g}</b>.</p>")
    return "".join(parts)


def field_picture(image: np.ndarray, box: Box, side: int = PICTURE) -> QPixmap:
    """The input image enlarged to side, the receptive field's box outlined."""
    pixmap = pixmap_of(image, side)
    scale = pixmap.width() / image.shape[2]
    top, left, bottom, right = box
    painter = QPainter(pixmap)
    pen = QPen(FIELD)
    pen.setWidthF(2.0)
    painter.setPen(pen)
    painter.drawRect(QRectF(left * scale + 1, top * scale + 1, (right - left) * scale - 2, (bottom - top) * scale - 2))
    painter.end()
    return pixmap


class NeuronPanel(QWidget):
    """The explanation of the neuron last asked for (explain(...)), computed in a worker thread; one
    job at a time, a request made meanwhile waits (only the latest). shown(explanation, net) follows."""

    shown = Signal(object, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel("<b>How one number is made</b>")
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel("Click any neuron of any volume above to see how it was computed from the probe image.")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.numbers = QLabel()
        self.numbers.setTextFormat(Qt.TextFormat.RichText)
        self.numbers.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setWordWrap(True)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignTop)
        body = QWidget()
        grid = QGridLayout(body)
        grid.addWidget(self.title, 0, 0, 1, 2)
        grid.addWidget(self.picture, 1, 0)
        grid.addWidget(self.text, 1, 1)
        grid.addWidget(self.numbers, 2, 0, 1, 2)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(3, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.setMinimumHeight(160)
        self.explanation: NeuronExplanation | None = None
        self._job: Background | None = None
        self._next = None
        self._image = None

    def say(self, text: str) -> None:
        """A sentence instead of an explanation (why there is none)."""
        self.explanation = None
        self.picture.clear()
        self.numbers.clear()
        self.text.setText(text)

    def explain(self, subject: Subject, image: np.ndarray, key: str, depth: int, row: int, col: int) -> None:
        """Explain neuron (depth, row, col) of block key for image (uint8 (D, H, W), the probe as the
        network saw it), with subject's network and normaliser."""
        self._next = (subject, image, key, depth, row, col)
        if self._job is None:
            self._start()

    def busy(self) -> bool:
        return self._job is not None or self._next is not None

    def _start(self) -> None:
        (subject, image, key, depth, row, col), self._next = self._next, None
        self._image = image
        self.text.setText(f"Computing block {key}'s neuron at depth {depth}, row {row}, column {col}…")
        worker = JobWorker(lambda report: (explain_neuron(subject.net, subject.normalise(image), key, depth, row, col),
                                           subject.net))
        worker.result.connect(self._show)
        worker.failed.connect(self._failed)
        worker.done.connect(self._done)
        self._job = Background(worker, "convviz-neuron")
        self._job.start()

    @Slot(object)
    def _show(self, value) -> None:
        e, net = value
        self.explanation = e
        lines = describe(e, net)
        self.title.setText(f"<b>{lines[0]}</b>")
        self.picture.setPixmap(field_picture(self._image, e.regions[0]))
        self.text.setText("".join(f"<p>{line}</p>" for line in lines[1:]))
        self.numbers.setText(computation_html(e))
        self.shown.emit(e, net)

    @Slot(object)
    def _failed(self, error) -> None:
        self.say(str(error) if isinstance(error, ValueError) else f"Cannot explain this neuron: {error}")

    @Slot()
    def _done(self) -> None:
        if self._job is None:
            return
        self._job.wait()  # the worker has quit its thread: returns at once
        self._job = None
        if self._next is not None:
            self._start()

    def shutdown(self) -> None:
        self._next = None
        if self._job is not None:
            self._job.wait()
            self._job = None


class NeuronLesson(QObject):
    """The activations view of a TrainDashboard with a NeuronPanel beside it: a click asks the run's
    weights (paused or finished: idle_trainer) for the neuron's explanation and outlines its regions."""

    def __init__(self, dashboard):
        super().__init__(dashboard)
        self.dashboard = dashboard
        view = dashboard.activations
        self.picker = NeuronPicker(view)
        self.panel = NeuronPanel()
        view.splitter.addWidget(self.panel)
        view.splitter.setStretchFactor(0, 3)
        view.splitter.setStretchFactor(1, 2)
        view.probeChanged.connect(lambda _: self.clear())
        self.picker.picked.connect(self.explain)
        self.panel.shown.connect(self._shown)
        self._subject: tuple[tuple, Subject] | None = None

    @Slot(object, object)
    def _shown(self, e: NeuronExplanation, net) -> None:
        """Outline e's regions; the first time, give the panel half the height (it starts small)."""
        self.picker.outline(e, {n.id: n.key for n in net.nodes})
        splitter = self.dashboard.activations.splitter
        total = sum(splitter.sizes())
        if splitter.sizes()[1] < total // 3:
            splitter.setSizes([total - total // 2, total // 2])

    def clear(self) -> None:
        """Forget the explanation (another probe image was chosen)."""
        self.picker.clear()
        self.panel.say("Click any neuron of any volume above to see how it was computed from the probe image.")

    def subject(self) -> Subject | None:
        """A copy of the idle run's network (made once per step), or None when its weights may change."""
        trainer = self.dashboard.idle_trainer()
        if trainer is None:
            return None
        made_for = (id(trainer), trainer.step)
        if self._subject is None or self._subject[0] != made_for:
            self._subject = made_for, Subject.copied(trainer.arch, trainer.net.state(), trainer.normalizer,
                                                     trainer.label_names)
        return self._subject[1]

    @Slot(str, int, int, int)
    def explain(self, key: str, depth: int, row: int, col: int) -> None:
        subject = self.subject()
        snapshot = self.dashboard.activations.snapshot
        if subject is None:
            why = ("Pause the run to see how this number is made: the weights change with every step."
                   if self.dashboard.running() else "Train the network first: a neuron's numbers need its weights.")
            self.panel.say(why)
            return
        self.panel.explain(subject, snapshot.probe_image, key, depth, row, col)
