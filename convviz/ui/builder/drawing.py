"""The network drawn as the seed draws it: each activation volume a 3-D box (height up, depth across,
width receding), the filters (or pooling windows) as small boxes between volumes, labelled with their
sizes. Sizes are drawn on a log scale so a 1x1x10 classifier and a 224x224x64 volume both read, and
the boxes are scaled (MIN_ZOOM to MAX_ZOOM) so that the drawing fits the height available. Layers that keep the volume
(activations, dropout, batch norm, softmax) are listed under the volume they act on.

A container splits the line into parallel lanes, one row each (its first lane stays on the line, the
others run below it), that join again at its merge ("+" or "concat") and the merged volume. To keep
ResNet-56 readable, a run of identical consecutive containers (same blocks, same input volume, same
layers after them) is drawn once, marked "×9" under its merged volume; a container collapsed in the
stack is drawn as one box. The drawing scrolls when it is still wider or taller than its place.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from ...engine import LAYER_TYPES, Volume
from ...engine.layers import CONTAINER_TYPES
from ...engine.tree import Path
from ...model.names import lane_title
from .document import INPUT
from .style import ERROR, kind_colour

SHAPING_KINDS = {"conv", "pool", "dense"}  # kinds drawn as an operator box followed by a new volume
GAP = 16           # horizontal space between slots
MARGIN = 12
ROW_GAP = 6        # between the rows of a container's lanes
LINE = 14          # one line of labels
MIN_ZOOM = 0.45
MAX_ZOOM = 1.6
OPERATOR_SHRINK = 0.55
SPLIT = 66         # where a container's lanes fan out: room for the lanes' names
JOIN = 30          # where they come together, before the merge sign
EMPTY_LANE = 60    # the length of an empty lane (the identity)


@lru_cache(maxsize=4096)
def scale_height(n: int) -> float:
    """Drawn height (and receding width) for a spatial size n, log scale."""
    return 8 + 11 * math.log2(max(n, 1))


@lru_cache(maxsize=4096)
def scale_depth(n: int) -> float:
    """Drawn thickness for a depth n, log scale."""
    return 4 + 5 * math.log2(max(n, 1))


@dataclass(eq=False)
class Box:
    """A 3-D box: dims (width, height, depth) in cells, or None for a volume that cannot be computed
    (drawn dashed red with '?'); labels above (operators) and below (volumes); path: the block that
    makes it (INPUT for the input); listed: the blocks listed under it (element-wise layers). x, slot
    and baseline are set by the layout."""

    dims: Volume | None
    colour: QColor
    label: str
    below: list[str] = field(default_factory=list)
    above: list[str] = field(default_factory=list)
    operator: bool = False
    path: Path = INPUT
    tip: str = ""
    listed: list[Path] = field(default_factory=list)
    then: list[str] = field(default_factory=list)  # the titles of the listed blocks, drawn on one line
    x: float = 0.0
    slot: float = 0.0
    baseline: float = 0.0
    top: float = 0.0
    bottom: float = 0.0

    def lines_then(self) -> list[str]:
        return [" · ".join(self.then)] if self.then else []

    def extent(self, zoom: float) -> tuple[float, float, float]:
        """(front width, front height, receding offset) in pixels."""
        w, h, d = self.dims if self.dims is not None else (8, 8, 8)
        k = zoom * (OPERATOR_SHRINK if self.operator else 1.0)
        return scale_depth(d) * k, scale_height(h) * k, scale_height(w) * k * 0.35


@dataclass(eq=False)
class Lane:
    """A row of items (Boxes and Groups) left to right; name: shown where it starts (a container's
    lanes); listed: element-wise layers at its start, before any volume of its own. Layout fills
    x, top, width, height."""

    items: list = field(default_factory=list)
    name: str = ""
    listed: list[str] = field(default_factory=list)
    x: float = 0.0
    top: float = 0.0
    baseline: float = 0.0
    width: float = 0.0
    height: float = 0.0


@dataclass(eq=False)
class Group:
    """A container's lanes between its input and its merge sign; the merged volume follows it in the
    parent lane. repeat: how many identical containers it stands for. Layout fills x, width, height."""

    path: Path
    lanes: list[Lane]
    merge_title: str
    tip: str
    repeat: int = 1
    x: float = 0.0
    top: float = 0.0
    width: float = 0.0
    height: float = 0.0
    join_x: float = 0.0


def operator_box(layer_type: str, hp: dict, vol_in: Volume) -> tuple[list[str], Volume]:
    """Labels above an operator and its box: a conv's filter F x F x D_in, a pool's window F x F x 1
    (a global pool's: the whole input), an fc's weights drawn as its input volume."""
    declared = LAYER_TYPES[layer_type]
    if declared.has_filters:
        lines = [f"{declared.title} {hp['filters']}@{hp['size']}x{hp['size']}",
                 f"s{hp['stride']} p{hp['pad']}" + (f" d{hp['dilation']}" if hp["dilation"] != 1 else "")]
        return lines, Volume(hp["size"], hp["size"], vol_in.depth)
    if declared.kind == "pool":
        span, stride = declared.window(hp, vol_in)
        lines = [f"{declared.title} {span}x{span}"] + ([f"s{stride} p{hp['pad']}"] if "pad" in hp else [])
        return lines, Volume(span, span, 1)
    return [f"{declared.title} {hp['units']}"], vol_in


class _Builder:
    """Turns an architecture and its inference into Lanes, Groups and Boxes."""

    def __init__(self, collapsed: set[Path]):
        self.collapsed = collapsed

    def lane(self, blocks: list, infos: list, last: Box | None, name: str = "") -> Lane:
        lane = Lane(name=name)
        i = 0
        while i < len(blocks):
            block, info = blocks[i], infos[i]
            if info.is_container and isinstance(block.lanes, list):
                end = _unit_end(blocks, i)
                key, repeats, j = _unit_key(blocks, infos, i, end), [info.path], end
                while j < len(blocks) and infos[j].is_container:  # identical units in a row: drawn once
                    following = _unit_end(blocks, j)
                    if _unit_key(blocks, infos, j, following) != key:
                        break
                    repeats.append(infos[j].path)
                    j = following
                last = self.container(lane, block, info, CONTAINER_TYPES[block.type], repeats)
                for k in range(i + 1, end):
                    self.listed(lane, last, blocks[k], infos[k])
                i = j
                continue
            declared = LAYER_TYPES.get(block.type) if isinstance(block.type, str) else None
            if declared is None or declared.kind not in SHAPING_KINDS:
                self.listed(lane, last, block, info)
            else:
                if info.hp is not None and info.input is not None:
                    above, dims = operator_box(block.type, info.hp, info.input)
                else:  # hyperparameters it cannot use
                    above, dims = [declared.title], None
                colour = kind_colour(declared.kind)
                lane.items.append(Box(dims, colour, "", above=above, operator=True, path=info.path,
                                      tip=f"<b>{declared.title}</b> (block {info.label}): " + ", ".join(above)))
                out = info.output
                last = Box(out, ERROR if out is None else colour, str(out) if out is not None else "?", path=info.path,
                           tip=f"Output of {declared.title} (block {info.label}): "
                               + (f"<b>{out}</b>" if out is not None else "cannot be computed"))
                lane.items.append(last)
            i += 1
        return lane

    @staticmethod
    def listed(lane: Lane, last: Box | None, block, info) -> None:
        """A block that keeps the volume: listed under the last volume (or at the lane's start)."""
        title = info.title if info.kind else f"{block.type}?"
        shown = f"{title} ✖" if info.errors else title
        if last is None:
            lane.listed.append(shown)
            return
        last.then.append(shown)
        last.tip += f"<br>then {title} (block {info.label})"
        last.listed.append(info.path)

    def container(self, lane: Lane, block, info, container, repeats: list[Path]) -> Box:
        """Add a container's group (or, collapsed, one box) and its merged volume to lane -> that volume.
        repeats: the paths of the identical containers in a row it stands for (itself first)."""
        out = info.output
        colour = kind_colour("container")
        summary = f"<b>{info.title}</b> (block {info.label}): {container.summary}"
        if info.path in self.collapsed:
            lane.items.append(Box(Volume(3, 3, 3), colour, "", above=[info.title, "collapsed"], operator=True,
                                  path=info.path, tip=summary))
        else:
            lanes = [self.lane(sub, sub_infos, None, lane_title(container, j))
                     for j, (sub, sub_infos) in enumerate(zip(block.lanes, info.lanes))]
            lane.items.append(Group(info.path, lanes, container.merge_title, summary, len(repeats)))
        merged = Box(out, ERROR if out is None else colour, str(out) if out is not None else "?",
                     below=[f"{container.merge_title} ({info.title} {info.label})" + (" ✖" if info.errors else "")],
                     path=info.path, tip=f"{summary}<br>merged: " + (f"<b>{out}</b>" if out is not None else
                                                                      "the lanes' volumes do not fit together"))
        if len(repeats) > 1:
            first, final = repeats[0][-1], repeats[-1][-1]
            merged.below.append(f"× {len(repeats)} (blocks {first}–{final})")
            merged.tip += f"<br>drawn once for {len(repeats)} identical blocks in a row ({first} to {final})"
        lane.items.append(merged)
        return merged


def _unit_end(blocks: list, i: int) -> int:
    """One past the container at i and the blocks after it that keep the volume (listed under it)."""
    j = i + 1
    while j < len(blocks):
        declared = LAYER_TYPES.get(blocks[j].type) if isinstance(blocks[j].type, str) else None
        if declared is None or declared.kind in SHAPING_KINDS:
            break
        j += 1
    return j


def _unit_key(blocks: list, infos: list, i: int, end: int) -> tuple:
    """What makes two units (a container and the blocks listed after it) draw alike: their blocks,
    the volume fed to them, and their problems."""
    return (str([b.to_dict() for b in blocks[i:end]]), str(infos[i].input),
            any(infos[k].errors for k in range(i, end)))


class NetworkDrawing(QWidget):
    """set_network(arch, inference) builds the boxes; the layout follows the widget's height.
    Clicking a box emits blockClicked(path, INPUT for the input); the selected block's box is outlined.
    set_collapsed(paths): the containers drawn as one box (the stack's collapsed ones)."""

    blockClicked = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.root = Lane()
        self.boxes: list[Box] = []
        self.groups: list[Group] = []
        self.selected: Path | None = None
        self.collapsed: set[Path] = set()
        self._network = None
        self._offset = QPointF()
        self.zoom = 1.0
        self._natural = QSize(200, 160)
        self._size = (0.0, 0.0)
        self._font_pair: tuple[QFont, QFont] | None = None
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setAccessibleName("Network drawing")

    def set_network(self, arch, inference) -> None:
        self._network = (arch, inference)
        first = Box(arch.input, kind_colour("input"), str(arch.input), below=["INPUT"],
                    tip=f"INPUT volume <b>{arch.input}</b>")
        self.root = _Builder(self.collapsed).lane(arch.layers, inference.blocks, first)
        self.root.items.insert(0, first)
        self.boxes, self.groups = [], []
        _collect(self.root, self.boxes, self.groups)
        self._layout()

    def set_collapsed(self, paths: set[Path]) -> None:
        self.collapsed = set(paths)
        if self._network is not None:
            self.set_network(*self._network)

    # --- layout --------------------------------------------------------------------------------
    def _metrics(self, lane: Lane, zoom: float) -> tuple[float, float]:
        """(ascent, descent) of a lane's row around its baseline at zoom: its boxes with their labels,
        and the first lanes of its containers (they run on the same line)."""
        ascent, descent = (LINE + 10, LINE + 8) if lane.name or not lane.items else (10.0, 8.0)
        for item in lane.items:
            if isinstance(item, Group):
                a, d = self._metrics(item.lanes[0], zoom) if item.lanes else (0.0, 0.0)
            else:
                _, height, recede = item.extent(zoom)
                a = height + recede + (LINE * len(item.above) + 6 if item.operator else 6)
                d = 8 if item.operator else 26 + LINE * (len(item.below) + bool(item.then))
            ascent, descent = max(ascent, a), max(descent, d)
        return ascent, descent

    def _height(self, lane: Lane, zoom: float, row: tuple[float, float] | None = None) -> float:
        """The height lane takes at zoom (its containers' other lanes run below its row)."""
        ascent, descent = row or self._metrics(lane, zoom)
        height = ascent + descent + ROW_GAP
        for item in lane.items:
            if isinstance(item, Group) and item.lanes:
                below = self._height(item.lanes[0], zoom, (ascent, descent))
                height = max(height, below + sum(self._height(sub, zoom) for sub in item.lanes[1:]))
        return height

    def _layout(self) -> None:
        """Choose the largest zoom (MIN_ZOOM to MAX_ZOOM) at which the drawing fits the height, then
        place every lane, group and box."""
        available = self.height()
        low, high = (MIN_ZOOM, self._height(self.root, MIN_ZOOM)), (MAX_ZOOM, self._height(self.root, MAX_ZOOM))
        if high[1] <= available:
            self.zoom = MAX_ZOOM
        else:
            for _ in range(3):  # the height is convex in the zoom: the chord's answer always fits; refine it
                if high[1] <= low[1] or available <= low[1]:
                    break
                z = low[0] + (available - low[1]) / (high[1] - low[1]) * (high[0] - low[0])
                fits = (z, self._height(self.root, z))
                if high[0] - z < 0.01:
                    break
                low, high = (fits, high) if fits[1] <= available else (low, fits)
            self.zoom = low[0]
        small, bold = (_Widths(font) for font in self._fonts())
        self._place(self.root, MARGIN, 0.0, None, small, bold)
        width = self.root.width + 2 * MARGIN
        self._natural = QSize(int(width), int(self.root.height))
        self.setMinimumSize(int(width), int(self._height(self.root, MIN_ZOOM)))
        self._size = (width, self.root.height)
        self.update()

    def _place(self, lane: Lane, x0: float, top: float, row: tuple[float, float] | None, small: "_Widths",
               bold: "_Widths") -> None:
        """Lay lane out from (x0, top): its items left to right on one baseline (row: the ascent and
        descent it shares with the lane it continues), its containers' other lanes below its row."""
        ascent, descent = row or self._metrics(lane, self.zoom)
        lane.x, lane.top, lane.baseline = x0, top, top + ascent
        x = x0 + (SPLIT if lane.name else 0)
        height = ascent + descent + ROW_GAP
        for item in lane.items:
            if isinstance(item, Group):
                item.x, item.top = x, top
                below, widest = top, 0.0
                for j, sub in enumerate(item.lanes):
                    self._place(sub, x, below, (ascent, descent) if j == 0 else None, small, bold)
                    widest = max(widest, sub.width)
                    below += sub.height
                item.join_x = x + widest + JOIN
                item.width = widest + JOIN + max(22.0, bold.horizontalAdvance(item.merge_title) + 12) + GAP
                item.height = below - top
                x += item.width
                height = max(height, item.height)
                continue
            text_width = max([small.horizontalAdvance(line) for line in item.above + item.below + item.lines_then()]
                             + [bold.horizontalAdvance(item.label)])
            front, _, recede = item.extent(self.zoom)
            item.x, item.slot, item.baseline = x, max(front + recede, text_width + 6), lane.baseline
            item.top, item.bottom = top, top + ascent + descent
            x += item.slot + GAP
        if not lane.items:
            x += EMPTY_LANE
        lane.width, lane.height = x - x0, height

    def resizeEvent(self, event):
        if self.boxes and event.size().height() != event.oldSize().height():
            self._layout()
        super().resizeEvent(event)

    def sizeHint(self) -> QSize:
        return self._natural

    def changeEvent(self, event):
        if event.type() == QEvent.FontChange:
            self._font_pair = None
        super().changeEvent(event)

    def _fonts(self) -> tuple[QFont, QFont]:
        """(small, bold) fonts for the labels."""
        if self._font_pair is None:
            self._font_pair = self._make_fonts()
        return self._font_pair

    def _make_fonts(self) -> tuple[QFont, QFont]:
        small = QFont(self.font())
        small.setPointSizeF(self.font().pointSizeF() * 0.85)
        bold = QFont(self.font())
        bold.setBold(True)
        return small, bold

    # --- painting ------------------------------------------------------------------------------
    def paintEvent(self, event):
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        width, height = self._size if self.boxes else (0, 0)
        dx = max(0.0, (self.width() - width) / 2)
        dy = max(0.0, (self.height() - height) / 2)
        painter.translate(dx, dy)
        self._offset = QPointF(dx, dy)
        visible = QRectF(event.rect()).translated(-dx, -dy).adjusted(-GAP, -GAP, GAP, GAP)
        small, bold = self._fonts()
        self._paint_lane(painter, self.root, visible, small, bold)
        painter.end()

    def _connector_y(self, lane: Lane) -> float:
        return lane.baseline - 8 * self.zoom

    def _paint_lane(self, painter: QPainter, lane: Lane, visible: QRectF, small: QFont, bold: QFont) -> None:
        line_pen = QPen(QColor(150, 150, 150), 1.2)
        y = self._connector_y(lane)
        text = self.palette().text().color()
        faint = QColor(text.red(), text.green(), text.blue(), 170)
        if lane.name:
            painter.setFont(small)
            painter.setPen(faint)
            name = lane.name + (" · " + ", ".join(lane.listed) if lane.listed else "")
            name = painter.fontMetrics().elidedText(name, Qt.ElideRight, SPLIT - 16)
            painter.drawText(QRectF(lane.x + 14, y - LINE - 2, SPLIT - 16, LINE), Qt.AlignLeft | Qt.AlignVCenter, name)
        previous_right = lane.x + 12 if lane.name else None
        if not lane.items:
            painter.setPen(QPen(QColor(150, 150, 150), 1.2, Qt.DashLine))
            painter.drawLine(QPointF(lane.x + 12, y), QPointF(lane.x + lane.width, y))
            painter.setFont(small)
            painter.setPen(faint)
            painter.drawText(QRectF(lane.x + SPLIT, y + 2, EMPTY_LANE, LINE), Qt.AlignCenter, "identity")
            return
        for item in lane.items:
            if isinstance(item, Group):
                if previous_right is not None:
                    painter.setPen(line_pen)
                    painter.drawLine(QPointF(previous_right + 3, y), QPointF(item.x, y))
                if item.x <= visible.right() and item.x + item.width >= visible.left():
                    self._paint_group(painter, item, y, visible, small, bold)
                previous_right = item.x + item.width - GAP
                continue
            front, height, recede = item.extent(self.zoom)
            left = item.x + (item.slot - front - recede) / 2
            if previous_right is not None and item.x >= visible.left() and previous_right <= visible.right():
                painter.setPen(line_pen)
                painter.drawLine(QPointF(previous_right + 3, y), QPointF(left - 3, y))
            previous_right = left + front
            if item.x > visible.right() or item.x + item.slot < visible.left():
                continue
            self._paint_box(painter, item, left, front, height, recede, small, bold, text, faint)
        if lane.name:  # a container's lane runs on to where the lanes join
            painter.setPen(line_pen)
            painter.drawLine(QPointF(previous_right + 3, y), QPointF(lane.x + lane.width, y))

    def _paint_group(self, painter: QPainter, group: Group, y: float, visible: QRectF, small: QFont,
                     bold: QFont) -> None:
        """A container: its frame, the split into lanes, each lane, their join and the merge sign."""
        colour = kind_colour("container")
        frame = QRectF(group.x + 4, group.top + 2, group.width - GAP - 2, group.height - 4)
        selected = self.selected is not None and self.selected == group.path
        tint = QColor(colour)
        tint.setAlpha(14)
        painter.setBrush(tint)
        painter.setPen(QPen(self.palette().highlight().color(), 2.5) if selected else QPen(colour.lighter(150), 1))
        painter.drawRoundedRect(frame, 8, 8)
        pen = QPen(QColor(150, 150, 150), 1.2)
        sign_x = group.join_x
        for sub in group.lanes:
            sub_y = self._connector_y(sub)
            painter.setPen(pen)
            painter.drawLine(QPointF(group.x, y), QPointF(group.x + 12, y))
            painter.drawLine(QPointF(group.x + 12, y), QPointF(group.x + 12, sub_y))
            painter.drawLine(QPointF(sub.x + sub.width, sub_y), QPointF(sign_x - JOIN / 2, sub_y))
            painter.drawLine(QPointF(sign_x - JOIN / 2, sub_y), QPointF(sign_x - JOIN / 2, y))
            if sub.top <= visible.bottom() and sub.top + sub.height >= visible.top():
                self._paint_lane(painter, sub, visible, small, bold)
        painter.setPen(pen)
        painter.drawLine(QPointF(sign_x - JOIN / 2, y), QPointF(sign_x, y))
        width = max(22.0, QFontMetrics(bold).horizontalAdvance(group.merge_title) + 12)
        sign = QRectF(sign_x, y - 11, width, 22)
        painter.setBrush(self.palette().base())
        painter.setPen(QPen(colour, 1.5))
        painter.drawRoundedRect(sign, 11, 11)
        painter.setFont(bold)
        painter.setPen(self.palette().text().color())
        painter.drawText(sign, Qt.AlignCenter, group.merge_title)
        painter.setPen(pen)
        painter.drawLine(QPointF(sign.right(), y), QPointF(group.x + group.width, y))

    def _paint_box(self, painter: QPainter, box: Box, left: float, front: float, height: float, recede: float,
                   small: QFont, bold: QFont, text: QColor, faint: QColor) -> None:
        self._draw_box(painter, box, left, front, height, recede)
        painter.setFont(small)
        painter.setPen(text)
        if box.operator:
            y = box.baseline - height - recede - 4
            for line in reversed(box.above):
                painter.drawText(QRectF(box.x - GAP / 2, y - LINE, box.slot + GAP, LINE), Qt.AlignCenter, line)
                y -= LINE
            return
        painter.setFont(bold)
        painter.setPen(ERROR if box.dims is None else text)
        painter.drawText(QRectF(box.x - GAP / 2, box.baseline + 6, box.slot + GAP, 16), Qt.AlignCenter, box.label)
        painter.setFont(small)
        for i, line in enumerate(box.below + box.lines_then()):
            painter.setPen(ERROR if "✖" in line else faint)
            painter.drawText(QRectF(box.x - GAP / 2, box.baseline + 24 + LINE * i, box.slot + GAP, LINE),
                             Qt.AlignCenter, line)

    def set_selected(self, path: Path | None) -> None:
        self.selected = None if path is None else tuple(path)
        self.update()

    def spot_of(self, path: Path) -> QPointF | None:
        """Where the block at path (or the nearest container drawn around it) is drawn, in widget
        coordinates; None when it is not drawn (a repeat drawn once under another's box)."""
        path = tuple(path)
        while True:
            box = next((b for b in self.boxes if b.path == path and not b.operator), None) or next(
                (b for b in self.boxes if path in b.listed or b.path == path), None)
            if box is not None:
                return QPointF(box.x + box.slot / 2, box.baseline) + self._offset
            if len(path) < 3:
                return None
            path = path[:-2]

    def box_at(self, pos: QPointF) -> Box | None:
        """The box whose slot (its lane's full row height) contains a widget position."""
        x, y = pos.x() - self._offset.x(), pos.y() - self._offset.y()
        return next((b for b in self.boxes if b.x - GAP / 2 <= x < b.x + b.slot + GAP / 2 and b.top <= y < b.bottom),
                    None)

    def mousePressEvent(self, event):
        box = self.box_at(event.position())
        if box is not None and event.button() == Qt.LeftButton:
            self.blockClicked.emit(box.path)
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
        """Front face, top and side of a box standing on its baseline at x0 (outlined when selected)."""
        y0, r = box.baseline, recede
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
        if not box.operator and self.selected is not None and (box.path == self.selected or self.selected in box.listed):
            painter.setPen(QPen(self.palette().highlight().color(), 2.5))
            painter.setBrush(Qt.NoBrush)
            painter.drawRoundedRect(QRectF(x0 - 4, y0 - height - recede - 4, front + recede + 8, height + recede + 8), 3, 3)


class _Widths:
    """Text widths in one font, each text measured once."""

    def __init__(self, font: QFont):
        self.metrics = QFontMetrics(font)
        self.known: dict[str, int] = {}

    def horizontalAdvance(self, text: str) -> int:  # noqa: N802 (as QFontMetrics names it)
        width = self.known.get(text)
        if width is None:
            width = self.known[text] = self.metrics.horizontalAdvance(text)
        return width


def _collect(lane: Lane, boxes: list[Box], groups: list[Group]) -> None:
    """Every Box and Group of a lane, lanes within groups included."""
    for item in lane.items:
        if isinstance(item, Group):
            groups.append(item)
            for sub in item.lanes:
                _collect(sub, boxes, groups)
        else:
            boxes.append(item)
