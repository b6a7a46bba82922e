"""The network drawn as the seed draws it: each activation volume a 3-D box (height up, depth across,
width receding), the filters (or pooling windows) as small boxes between volumes, labelled with their
sizes. Sizes are drawn on a log scale so a 1x1x10 classifier and a 224x224x64 volume both read, and
the boxes are scaled (MIN_ZOOM to MAX_ZOOM) to the height available. Layers that keep the volume
(activations, dropout, batch norm, softmax) are listed under the volume they act on."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from ...engine import LAYER_TYPES, Volume
from .style import ERROR, kind_colour

SHAPING_KINDS = {"conv", "pool", "dense"}  # kinds drawn as an operator box followed by a new volume
GAP = 16           # horizontal space between slots
MARGIN = 12
TOP_MARGIN = 40    # room for the operator labels above the tallest box
LABEL_SPACE = 46   # room under the boxes for the size label (plus LINE per listed layer)
LINE = 14
MIN_ZOOM = 0.45
MAX_ZOOM = 1.6
OPERATOR_SHRINK = 0.55


def scale_height(n: int) -> float:
    """Drawn height (and receding width) for a spatial size n, log scale."""
    return 8 + 11 * math.log2(max(n, 1))


def scale_depth(n: int) -> float:
    """Drawn thickness for a depth n, log scale."""
    return 4 + 5 * math.log2(max(n, 1))


@dataclass
class Box:
    """A 3-D box: dims (width, height, depth) in cells, or None for a volume that cannot be computed
    (drawn dashed red with '?'); labels above (operators) and below (volumes); x and slot are its
    horizontal place, set by the layout."""

    dims: Volume | None
    colour: QColor
    label: str
    below: list[str] = field(default_factory=list)
    above: list[str] = field(default_factory=list)
    operator: bool = False
    index: int = -1    # the layer block that makes this box (-1: INPUT)
    tip: str = ""
    listed: list[int] = field(default_factory=list)   # the blocks listed under it (element-wise layers)
    x: float = 0.0
    slot: float = 0.0

    def extent(self, zoom: float) -> tuple[float, float, float]:
        """(front width, front height, receding offset) in pixels."""
        w, h, d = self.dims if self.dims is not None else (8, 8, 8)
        k = zoom * (OPERATOR_SHRINK if self.operator else 1.0)
        return scale_depth(d) * k, scale_height(h) * k, scale_height(w) * k * 0.35


def operator_box(layer_type: str, hp: dict, vol_in: Volume | None) -> tuple[list[str], Volume | None]:
    """Labels above an operator and its box: a conv's filter F x F x D_in, a pool's window F x F x 1,
    an fc's weights drawn as its input volume."""
    declared = LAYER_TYPES[layer_type]
    if declared.kind == "conv":
        lines = [f"{declared.title} {hp['filters']}@{hp['size']}x{hp['size']}",
                 f"s{hp['stride']} p{hp['pad']}" + (f" d{hp['dilation']}" if hp["dilation"] != 1 else "")]
        return lines, Volume(hp["size"], hp["size"], vol_in.depth if vol_in else 1)
    if declared.kind == "pool":
        return [f"{declared.title} {hp['size']}x{hp['size']}", f"s{hp['stride']} p{hp['pad']}"], \
            Volume(hp["size"], hp["size"], 1)
    return [f"{declared.title} {hp['units']}"], vol_in


class NetworkDrawing(QWidget):
    """set_network(arch, inference) builds the boxes; the layout follows the widget's height.
    Clicking a box emits blockClicked(layer index, -1 for INPUT); the selected block's box is outlined."""

    blockClicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.boxes: list[Box] = []
        self.selected: int | None = None
        self._offset = QPointF()
        self.zoom = 1.0
        self.baseline = 0.0
        self._natural = QSize(200, 160)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setAccessibleName("Network drawing")

    def set_network(self, arch, inference) -> None:
        boxes = [Box(arch.input, kind_colour("input"), str(arch.input), below=["INPUT"],
                     tip=f"INPUT volume <b>{arch.input}</b>")]
        for layer, info in zip(arch.layers, inference.blocks):
            declared = LAYER_TYPES.get(layer.type)
            if declared is None or declared.kind not in SHAPING_KINDS:
                title = declared.title if declared else f"{layer.type}?"
                boxes[-1].below.append(f"{title} ✖" if info.errors else title)
                boxes[-1].tip += f"<br>then {title} (block {info.path[0]})"
                boxes[-1].listed.append(info.path[0])
                continue
            try:
                above, dims = operator_box(layer.type, declared.resolve(layer.params), info.input)
            except (KeyError, TypeError, ValueError):
                above, dims = [declared.title], None
            colour = kind_colour(declared.kind)
            boxes.append(Box(dims, colour, "", above=above, operator=True, index=info.path[0],
                             tip=f"<b>{declared.title}</b> (block {info.path[0]}): " + ", ".join(above)))
            out = info.output
            boxes.append(Box(out, ERROR if out is None else colour, str(out) if out is not None else "?",
                             index=info.path[0], tip=f"Output of {declared.title} (block {info.path[0]}): "
                             + (f"<b>{out}</b>" if out is not None else "cannot be computed")))
        self.boxes = boxes
        self._layout()

    def _fixed_height(self) -> float:
        return TOP_MARGIN + LABEL_SPACE + LINE * max(len(b.below) for b in self.boxes)

    def _layout(self) -> None:
        """Choose the zoom that fits the height, then place the slots left to right."""
        tallest = max(sum(b.extent(1.0)[1:]) for b in self.boxes)
        fixed = self._fixed_height()
        self.zoom = max(MIN_ZOOM, min(MAX_ZOOM, (self.height() - fixed) / tallest))
        small, bold = (QFontMetrics(font) for font in self._fonts())
        x = MARGIN
        for box in self.boxes:
            text_width = max([small.horizontalAdvance(line) for line in box.above + box.below]
                             + [bold.horizontalAdvance(box.label)])
            front, _, recede = box.extent(self.zoom)
            box.x, box.slot = x, max(front + recede, text_width + 6)
            x += box.slot + GAP
        self.baseline = TOP_MARGIN + self.zoom * tallest
        self._natural = QSize(int(x - GAP + MARGIN), int(fixed + tallest))
        self.setMinimumSize(int(x - GAP + MARGIN), int(fixed + MIN_ZOOM * tallest))
        self.update()

    def resizeEvent(self, event):
        if self.boxes and event.size().height() != event.oldSize().height():
            self._layout()
        super().resizeEvent(event)

    def sizeHint(self) -> QSize:
        return self._natural

    def _fonts(self) -> tuple[QFont, QFont]:
        """(small, bold) fonts for the labels."""
        small = QFont(self.font())
        small.setPointSizeF(self.font().pointSizeF() * 0.85)
        bold = QFont(self.font())
        bold.setBold(True)
        return small, bold

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        used = self.boxes[-1].x + self.boxes[-1].slot + MARGIN if self.boxes else 0
        dx = max(0.0, (self.width() - used) / 2)
        dy = max(0.0, (self.height() - self.baseline - self._fixed_height() + TOP_MARGIN) / 2) if self.boxes else 0
        painter.translate(dx, dy)
        self._offset = QPointF(dx, dy)
        visible = QRectF(event.rect()).translated(-dx, -dy).adjusted(-GAP, 0, GAP, 0)
        small, bold = self._fonts()
        text = self.palette().text().color()
        faint = QColor(text.red(), text.green(), text.blue(), 170)
        previous_right = None
        for box in self.boxes:
            front, height, recede = box.extent(self.zoom)
            left = box.x + (box.slot - front - recede) / 2
            if previous_right is not None and box.x >= visible.left() and previous_right <= visible.right():
                painter.setPen(QPen(QColor(150, 150, 150), 1.2))
                y = self.baseline - 8 * self.zoom
                painter.drawLine(QPointF(previous_right + 3, y), QPointF(left - 3, y))
            previous_right = left + front
            if box.x > visible.right() or box.x + box.slot < visible.left():
                continue
            self._draw_box(painter, box, left, front, height, recede)
            painter.setFont(small)
            painter.setPen(text)
            if box.operator:
                y = self.baseline - height - recede - 4
                for line in reversed(box.above):
                    painter.drawText(QRectF(box.x - GAP / 2, y - LINE, box.slot + GAP, LINE), Qt.AlignCenter, line)
                    y -= LINE
                continue
            painter.setFont(bold)
            painter.setPen(ERROR if box.dims is None else text)
            painter.drawText(QRectF(box.x - GAP / 2, self.baseline + 6, box.slot + GAP, 16), Qt.AlignCenter, box.label)
            painter.setFont(small)
            for i, line in enumerate(box.below):
                painter.setPen(ERROR if line.endswith("✖") else faint)
                painter.drawText(QRectF(box.x - GAP / 2, self.baseline + 24 + LINE * i, box.slot + GAP, LINE),
                                 Qt.AlignCenter, line)
        painter.end()

    def set_selected(self, index: int | None) -> None:
        self.selected = index
        self.update()

    def box_at(self, pos: QPointF) -> Box | None:
        """The box whose slot (full height) contains a widget position."""
        x = pos.x() - self._offset.x()
        return next((b for b in self.boxes if b.x - GAP / 2 <= x < b.x + b.slot + GAP / 2), None)

    def mousePressEvent(self, event):
        box = self.box_at(event.position())
        if box is not None and event.button() == Qt.LeftButton:
            self.blockClicked.emit(box.index)
        super().mousePressEvent(event)

    def event(self, event):
        if event.type() == QEvent.ToolTip:
            box = self.box_at(QPointF(event.pos()))
            if box is not None:
                QToolTip.showText(event.globalPos(), box.tip, self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    def _draw_box(self, painter: QPainter, box: Box, x0: float, front: float, height: float, recede: float) -> None:
        """Front face, top and side of a box standing on the baseline at x0 (outlined when selected)."""
        y0, r = self.baseline, recede
        face = QPolygonF([QPointF(x0, y0 - height), QPointF(x0 + front, y0 - height),
                          QPointF(x0 + front, y0), QPointF(x0, y0)])
        top = QPolygonF([QPointF(x0, y0 - height), QPointF(x0 + r, y0 - height - r),
                         QPointF(x0 + front + r, y0 - height - r), QPointF(x0 + front, y0 - height)])
        side = QPolygonF([QPointF(x0 + front, y0 - height), QPointF(x0 + front + r, y0 - height - r),
                          QPointF(x0 + front + r, y0 - r), QPointF(x0 + front, y0)])
        known = box.dims is not None
        pen = QPen(box.colour.darker(150), 1)
        if not known:
            pen.setStyle(Qt.DashLine)
        painter.setPen(pen)
        alpha = (150 if box.operator else 255) if known else 40
        for shape, colour in ((face, box.colour), (top, box.colour.lighter(135)), (side, box.colour.darker(115))):
            fill = QColor(colour)
            fill.setAlpha(alpha)
            painter.setBrush(fill)
            painter.drawPolygon(shape)
        if not known:
            painter.setPen(ERROR)
            painter.drawText(QRectF(x0, y0 - height, front, height), Qt.AlignCenter, "?")
        if not box.operator and (box.index == self.selected or self.selected in box.listed):
            painter.setPen(QPen(self.palette().highlight().color(), 2.5))
            painter.setBrush(Qt.NoBrush)
            painter.drawRoundedRect(QRectF(x0 - 4, y0 - height - recede - 4, front + recede + 8, height + recede + 8), 3, 3)
