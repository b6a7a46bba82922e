"""The network as a tree of blocks, drawn as an indented stack: a list model whose rows are the
flattened tree, a delegate that paints blocks and framed container cards, and a view that accepts
palette drops and moves blocks by dragging, anywhere in the tree.

Rows, in order: INPUT, then each block; a container is a card: its header row, for each lane a lane
row (an empty lane adds an "identity" row) followed by the lane's blocks, and a merge row ("+" or
"concat") that closes the card. A collapsed container is its header row alone, on one line. Which
containers are collapsed is the view's state (never the architecture's), kept across edits.

Every row offers two insertion points, one per half (Row.points): a drop over the upper half of a
block inserts before it, over the lower half after it; over a lane row into that lane; over a
merge row at the end of the last lane or after the container.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QFont, QFontMetrics, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate

from ...engine.layers import BLOCK_TYPES, CONTAINER_TYPES
from ...engine.tree import Path
from ...model.names import lane_title
from ...units import count
from .document import INPUT, BuilderDocument
from .style import ERROR, WARNING, icon, kind_colour

LAYER_MIME = "application/x-convviz-layer"   # from the palette: {"type": "conv"} or {"template": "inception"}
BLOCK_MIME = "application/x-convviz-block"   # a block of the stack being moved: {"path": [3, 0, 1]}
ROW_ROLE = Qt.UserRole + 1

INDENT = 16        # left indent per container level
RIGHT_INDENT = 6   # right indent per container level
MARGIN = 6
TITLE_HEIGHT = 34
LINE_HEIGHT = 17
LANE_HEIGHT = 22
EMPTY_HEIGHT = 28
MERGE_HEIGHT = 32
CARD_RADIUS = 7
LEFT, RIGHT, CENTRE = Qt.AlignLeft | Qt.AlignVCenter, Qt.AlignRight | Qt.AlignVCenter, Qt.AlignCenter
NO_PEN, NO_BRUSH, ELIDE_LEFT, ELIDE_RIGHT = Qt.NoPen, Qt.NoBrush, Qt.ElideLeft, Qt.ElideRight  # (Qt's enums are
SELECTABLE = Qt.ItemIsEnabled | Qt.ItemIsSelectable                         # slow to combine in Python: once)
DRAGGABLE = SELECTABLE | Qt.ItemIsDragEnabled


@dataclass(slots=True)
class Row:
    """One row of the stack. role: "input", "block" (a leaf), "container" (a card's header, or the whole
    card when collapsed), "lane" (a lane's caption), "empty" (an empty lane: the identity), "merge"
    (where the lanes join; closes the card). path: the block's (a lane's: container path + (lane,); a
    merge's: its container's). depth: the container cards around the row (a header's and a merge's
    own card not counted). points: the insertion points of its (upper half, lower half).
    info, block: the BlockInfo and LayerSpec of a block, container or merge row (its texts are made
    from them when it is drawn); texts: those of an input, lane or empty row (title, detail, volume)."""

    role: str
    path: Path
    depth: int
    points: tuple[Path, Path]
    info: Any = None
    block: Any = None
    collapsed: bool = False
    texts: tuple[str, str, str] = ("", "", "")
    problems: tuple[list, list] = ([], [])  # an input row's (errors, warnings): the network's

    @property
    def kind(self) -> str:
        return self.info.kind if self.info is not None else self.role if self.role == "input" else "container"

    @property
    def icon_name(self) -> str:
        return self.info.type if self.info is not None else self.role

    @property
    def title(self) -> str:
        if self.info is None:
            return self.texts[0]
        return CONTAINER_TYPES[self.info.type].merge_title if self.role == "merge" else self.info.title

    @property
    def label(self) -> str:
        return f"block {self.info.label}" if self.role in ("block", "container") else ""

    @property
    def volume(self) -> str:
        return _volume(self.info.output) if self.info is not None else self.texts[2]

    @property
    def params(self) -> str:
        return f"{count(self.info.params)} params" if self.role in ("block", "container") and self.info.params else ""

    @property
    def detail(self) -> str:
        if self.info is None:
            return self.texts[1]
        if self.role == "block":
            return hyper_text(self.block.type, self.block.params, self.info.hp)
        t = CONTAINER_TYPES[self.info.type]
        if self.role == "merge":
            joiner = f" {t.merge_title} " if len(t.merge_title) == 1 else " | "
            return joiner.join(f"{lane_title(t, j)} {_volume(v)}" for j, v in enumerate(self.info.merge_inputs))
        if self.collapsed:
            leaves = sum(1 for _ in _leaves(self.info))
            return f"{leaves} layer{'s' * (leaves != 1)} in {len(self.block.lanes)} lanes"
        return " · ".join(f"{lane_title(t, j)} " + (_blocks(len(lane)) if lane else "identity")
                          for j, lane in enumerate(self.block.lanes))

    @property
    def errors(self) -> list[str]:
        return [p.message for p in (self.info.errors if self.info is not None else self.problems[0])]

    @property
    def warnings(self) -> list[str]:
        if self.role == "merge":
            return []
        return [p.message for p in (self.info.warnings if self.info is not None else self.problems[1])]

    @property
    def message(self) -> str | None:
        return (self.errors or self.warnings or [None])[0]

    @property
    def height(self) -> int:
        """The row's height in pixels."""
        if self.role == "lane":
            return LANE_HEIGHT
        if self.role == "empty":
            return EMPTY_HEIGHT
        info = self.info
        if self.role == "merge":
            return MERGE_HEIGHT + (LINE_HEIGHT if info.errors else 0)
        if info is None:
            problems = any(self.problems)
        elif self.role == "container" and not self.collapsed:  # its errors are said on its merge row
            problems = bool(info.warnings) and not info.errors
        else:
            problems = bool(info.errors or info.warnings)
        second = self.role == "input" or (not self.collapsed and (
            self.role == "container" or info.params or self.block.params or getattr(
                BLOCK_TYPES.get(info.type), "hypers", ())))
        return TITLE_HEIGHT + 4 + LINE_HEIGHT * (bool(second) + problems)

    @property
    def block_path(self) -> Path:
        """The block this row stands for (a lane row: its container)."""
        return self.path[:-1] if self.role in ("lane", "empty") else self.path

    @property
    def draggable(self) -> bool:
        return self.role in ("block", "container")


def _blocks(n: int) -> str:
    return f"{n} block{'s' * (n != 1)}"


def hyper_text(layer_type: str, params: dict, hp: dict | None = None) -> str:
    """'filters 16 · size 5 · stride 1 · pad 2' from the layer's declaration and its values (hp: the
    resolved values when known)."""
    declared = BLOCK_TYPES.get(layer_type)
    if declared is None or not isinstance(params, dict):
        return ", ".join(f"{k} {v}" for k, v in params.items()) if isinstance(params, dict) else str(params)
    if hp is None:
        try:
            hp = declared.resolve(params)
        except (TypeError, ValueError):
            return ", ".join(f"{k} {v}" for k, v in params.items())
    return " · ".join(f"{h.name} {h.show(hp[h.name])}" for h in declared.hypers)


def _volume(v) -> str:
    return str(v) if v is not None else "?"


def _next(path: Path) -> Path:
    return path[:-1] + (path[-1] + 1,)


class StackModel(QAbstractListModel):
    """A read-only view of the document's tree; drops become document edits (undoable commands).
    collapsed: the paths of the containers shown collapsed. refreshed: the rows' texts changed but not
    their number, kinds or heights (views repaint; nothing is laid out again)."""

    refreshed = Signal()

    def __init__(self, document: BuilderDocument, parent=None):
        super().__init__(parent)
        self.document = document
        self.collapsed: set[Path] = set()
        self._rows: list[Row] = []
        self._index: dict[tuple[str, Path], int] = {}
        self._rebuild()
        document.shifted.connect(self._shifted)
        document.changed.connect(self._document_changed)

    # --- rows --------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        arch, inference = self.document.arch, self.document.inference
        first = (0,)
        rows = [Row("input", INPUT, 0, (first, first), texts=(
            "INPUT", " · ".join(f"{k} {v}" for k, v in arch.input._asdict().items()) + f" · {arch.classes} classes",
            str(arch.input)), problems=([p for p in inference.errors if p.path is None],
                                        [p for p in inference.warnings if p.path is None]))]
        self._lane(rows, arch.layers, inference.blocks, 0)
        self._rows = rows
        self._index = {(r.role, r.path): i for i, r in enumerate(rows)}

    def _lane(self, rows: list[Row], blocks: list, infos: list, depth: int) -> None:
        for block, info in zip(blocks, infos):
            path = info.path
            after = path[:-1] + (path[-1] + 1,)
            if not info.is_container or not isinstance(block.lanes, list):
                rows.append(Row("block", path, depth, (path, after), info, block))
                continue
            if path in self.collapsed:
                rows.append(Row("container", path, depth, (path, after), info, block, True))
                continue
            rows.append(Row("container", path, depth, (path, path + (0, 0)), info, block))
            t = CONTAINER_TYPES[info.type]
            for j, (lane, lane_infos) in enumerate(zip(block.lanes, info.lanes)):
                upper = path + (0, 0) if j == 0 else path + (j - 1, len(block.lanes[j - 1]))
                out = info.merge_inputs[j] if j < len(info.merge_inputs) else None
                rows.append(Row("lane", path + (j,), depth + 1, (upper, path + (j, 0)),
                                texts=(lane_title(t, j), _blocks(len(lane)) if lane else "identity", _volume(out))))
                if not lane:
                    rows.append(Row("empty", path + (j,), depth + 1, (path + (j, 0),) * 2,
                                    texts=("identity", "passes its input on unchanged · drop blocks here", "")))
                self._lane(rows, lane, lane_infos, depth + 1)
            last = len(block.lanes) - 1
            rows.append(Row("merge", path, depth, (path + (last, len(block.lanes[last])), after), info, block))

    def _signature(self) -> list[tuple[str, Path]]:
        return [(r.role, r.path) for r in self._rows]

    def _document_changed(self, arch, inference) -> None:
        before = self._signature()
        heights = [r.height for r in self._rows]
        self._rebuild()
        if self._signature() != before or heights != [r.height for r in self._rows]:
            self.beginResetModel()
            self.endResetModel()
        else:  # rows are read when painted: a repaint shows the new texts (dataChanged would lay all out)
            self.refreshed.emit()

    def _shifted(self, moved) -> None:
        """Keep the collapsed containers collapsed where an edit (or its undo) moved them."""
        self.collapsed = {p for p in (moved(path) for path in self.collapsed) if p is not None}

    def set_collapsed(self, paths: set[Path]) -> None:
        """Show exactly these containers collapsed (the rows are made again)."""
        self.beginResetModel()
        self.collapsed = set(paths)
        self._rebuild()
        self.endResetModel()

    def containers(self) -> list[Path]:
        """Every container's path, expanded or not."""
        return [info.path for info in self.document.inference.walk() if info.is_container]

    # --- lookups -----------------------------------------------------------------------------
    def row_of(self, path: Path) -> int | None:
        """The row showing the block at path (INPUT: 0); None when it is inside a collapsed container."""
        path = tuple(path)
        if path == INPUT:
            return 0
        return self._index.get(("block", path), self._index.get(("container", path)))

    def row(self, r: int) -> Row:
        return self._rows[r]

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == Qt.DisplayRole:
            return f"{row.title}  {row.volume}"
        if role == ROW_ROLE:
            return row
        if role == Qt.ToolTipRole:
            return self._tooltip(row)
        if role == Qt.AccessibleTextRole:
            state = ", collapsed" if row.collapsed else ""
            return f"{row.title} {row.label}{state}, {row.detail}, output {row.volume}" + (
                f", {row.message}" if row.message else "")
        return None

    def _tooltip(self, row: Row) -> str:
        if row.role == "input":
            lines = ["<b>INPUT</b>: the image volume fed to the network (width x height x depth)."]
        elif row.role in ("lane", "empty"):
            container = self.document.arch.block(row.block_path)
            lane = container.lanes[row.path[-1]]
            name = lane_title(CONTAINER_TYPES[container.type], row.path[-1])
            lines = [f"<b>{name}</b> of the {self.document.title(row.block_path)}: "
                     + (f"{_blocks(len(lane))}, giving {row.volume}." if lane else
                        "empty, so it passes its input on unchanged (the identity). Drop blocks here to fill it.")]
        elif row.role == "merge":
            t = CONTAINER_TYPES[self.document.arch.block(row.path).type]
            lines = [f"<b>{t.merge_title}</b>: {t.summary} {row.detail} → {row.volume}"]
        else:
            declared = BLOCK_TYPES.get(self.document.arch.block(row.path).type)
            lines = [f"<b>{row.title}</b> ({row.label}): {declared.summary if declared else 'unknown layer type'}"]
            if row.role == "container":
                lines.append("Double-click, or press ← and →, to collapse and expand it.")
        lines += [f"<span style='color:{ERROR.name()}'>Error: {m}</span>" for m in row.errors]
        lines += [f"<span style='color:{WARNING.name()}'>Warning: {m}</span>" for m in row.warnings]
        return "<br>".join(lines)

    # --- drag and drop -----------------------------------------------------------------------
    def flags(self, index):
        if not index.isValid():
            return Qt.ItemIsDropEnabled
        return DRAGGABLE if self._rows[index.row()].draggable else SELECTABLE

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME, BLOCK_MIME]

    def mimeData(self, indexes) -> QMimeData:
        mime = QMimeData()
        rows = [self._rows[i.row()] for i in indexes if self._rows[i.row()].draggable]
        if rows:
            mime.setData(BLOCK_MIME, json.dumps({"path": list(rows[0].path)}).encode())
        return mime

    def supportedDropActions(self):
        return Qt.CopyAction | Qt.MoveAction

    def canDropMimeData(self, data, action, row, column, parent) -> bool:
        return data.hasFormat(LAYER_MIME) or data.hasFormat(BLOCK_MIME)

    def drop(self, data: QMimeData, point: Path) -> bool:
        """Palette data adds a block (or a template's blocks) at the insertion point, block data moves
        one there; both through the document's undo stack. False for data it cannot use."""
        try:
            if data.hasFormat(LAYER_MIME):
                entry = json.loads(bytes(data.data(LAYER_MIME)).decode())
                if "template" in entry:
                    self.document.insert_template(point, str(entry["template"]))
                else:
                    self.document.insert_type(point, str(entry["type"]))
                return True
            if data.hasFormat(BLOCK_MIME):
                source = tuple(int(i) for i in json.loads(bytes(data.data(BLOCK_MIME)).decode())["path"])
                self.document.move(source, point)
                return True
        except (ValueError, KeyError, TypeError, AttributeError):
            return False
        return False


def _leaves(info):
    """The leaf BlockInfos inside a container."""
    for lane in info.lanes:
        for b in lane:
            if b.is_container:
                yield from _leaves(b)
            else:
                yield b


def frame_rect(rect: QRect, level: int) -> tuple[int, int]:
    """The left and right x of the card of a container `level` cards deep, in a row spanning rect."""
    return rect.left() + MARGIN + level * INDENT, rect.right() - MARGIN - level * RIGHT_INDENT


class BlockDelegate(QStyledItemDelegate):
    """Paints a row: the container cards around it (a tinted band with a border per level), then a
    block (colour stripe by kind, icon, title, hyperparameters, output volume, parameter count, the
    first error in red or warning in amber), a card's header or its merge, a lane's caption.
    Each row's picture is kept (by everything it shows) and reused while the row looks the same, so
    an edit repaints only the rows it changed."""

    CACHED = 600  # row pictures kept

    def __init__(self, parent=None):
        super().__init__(parent)
        self._pictures: OrderedDict[tuple, QPixmap] = OrderedDict()

    def sizeHint(self, option, index) -> QSize:
        return QSize(280, index.data(ROW_ROLE).height)

    def paint(self, painter: QPainter, option, index) -> None:
        row: Row = index.data(ROW_ROLE)
        selected = bool(option.state & QStyle.State_Selected)
        rect = option.rect
        ratio = painter.device().devicePixelRatioF()
        key = (row.role, row.depth, row.kind, row.icon_name, row.title, row.label, row.detail, row.volume,
               row.params, row.message, bool(row.errors), bool(row.warnings), row.collapsed, selected,
               rect.width(), rect.height(), ratio, option.palette.cacheKey(), option.font.key())
        picture = self._pictures.get(key)
        if picture is None:
            picture = QPixmap(int(rect.width() * ratio), int(rect.height() * ratio))
            picture.setDevicePixelRatio(ratio)
            picture.fill(Qt.transparent)
            canvas = QPainter(picture)
            self._paint(canvas, QRect(0, 0, rect.width(), rect.height()), row, selected, option)
            canvas.end()
            self._pictures[key] = picture
            if len(self._pictures) > self.CACHED:
                self._pictures.popitem(last=False)
        else:
            self._pictures.move_to_end(key)
        painter.drawPixmap(rect.topLeft(), picture)

    def _paint(self, painter: QPainter, rect: QRect, row: Row, selected: bool, option) -> None:
        painter.setRenderHint(QPainter.Antialiasing)
        palette = option.palette
        card = kind_colour("container")
        for level in range(row.depth):
            self._band(painter, rect, level, card, palette)
        fonts = _fonts(option.font)
        text = palette.text().color()
        if row.role in ("lane", "empty"):
            self._lane(painter, rect, row, text, fonts, selected, palette)
        elif row.role == "merge":
            self._merge(painter, rect, row, card, text, fonts, selected, palette)
        elif row.role == "container" and not row.collapsed:
            self._header(painter, rect, row, card, text, fonts, selected, palette)
        else:
            left, right = frame_rect(rect, row.depth)
            box = QRect(left, rect.top() + 2, right - left, rect.height() - 4)
            self._block(painter, box, row, text, fonts, selected, palette)

    @staticmethod
    def _band(painter, rect: QRect, level: int, colour: QColor, palette) -> None:
        """The part of a card (level deep) this row crosses: its tint and its two side borders."""
        left, right = frame_rect(rect, level)
        tint = QColor(colour)
        tint.setAlpha(18)
        painter.fillRect(QRect(left, rect.top(), right - left, rect.height()), tint)
        painter.setPen(QPen(colour.lighter(120), 1.2))
        painter.drawLine(left, rect.top(), left, rect.bottom() + 1)
        painter.drawLine(right, rect.top(), right, rect.bottom() + 1)

    def _card_part(self, painter, rect: QRect, level: int, colour: QColor, top: bool, status: QColor | None,
                   selected: bool, palette) -> None:
        """The top (header) or bottom (merge) of a card: a rounded rectangle running past the row's
        other edge, clipped to the row, so only that side's corners show."""
        left, right = frame_rect(rect, level)
        reach = 2 * CARD_RADIUS
        y0, y1 = (rect.top() + 3, rect.bottom() + reach) if top else (rect.top() - reach, rect.bottom() - 2)
        card = QRectF(left, y0, right - left, y1 - y0)
        painter.save()
        painter.setClipRect(QRect(rect.left(), rect.top(), rect.width(), rect.height()))
        tint = QColor(status or colour)
        tint.setAlpha(40 if status else 30)
        painter.setPen(NO_PEN)
        painter.setBrush(palette.base())
        painter.drawRoundedRect(card, CARD_RADIUS, CARD_RADIUS)
        painter.setBrush(tint)
        painter.drawRoundedRect(card, CARD_RADIUS, CARD_RADIUS)
        border = palette.highlight().color() if selected else (status or colour.lighter(120))
        painter.setPen(QPen(border, 2.5 if selected or status else 1.2))
        painter.setBrush(NO_BRUSH)
        painter.drawRoundedRect(card, CARD_RADIUS, CARD_RADIUS)
        painter.restore()

    def _block(self, painter, rect: QRect, row: Row, text: QColor, fonts: "_Fonts", selected: bool, palette) -> None:
        """A leaf, the INPUT block or a collapsed container: a rounded card of its own."""
        colour = kind_colour(row.kind)
        status = ERROR if row.errors else WARNING if row.warnings else None
        background = QColor(status or colour)
        background.setAlpha(48 if status else 26)
        painter.setPen(NO_PEN)
        painter.setBrush(palette.base())
        painter.drawRoundedRect(rect, 6, 6)
        painter.setBrush(background)
        painter.drawRoundedRect(rect, 6, 6)
        border = palette.highlight().color() if selected else (status or colour.lighter(130))
        pen = QPen(border, 2.5 if selected or status else 1)
        if row.collapsed:
            pen.setWidthF(pen.widthF() + 0.8)
        painter.setPen(pen)
        painter.setBrush(NO_BRUSH)
        painter.drawRoundedRect(rect, 6, 6)
        if row.collapsed:  # a second outline: a card with more inside
            painter.setPen(QPen(colour.lighter(140), 1))
            painter.drawRoundedRect(rect.adjusted(3, 3, -3, -3), 4, 4)
        painter.setPen(NO_PEN)
        painter.setBrush(colour)
        painter.drawRoundedRect(QRect(rect.left(), rect.top(), 7, rect.height()), 3, 3)
        left = rect.left() + 14
        if row.collapsed:
            self._arrow(painter, QRect(left - 2, rect.top() + 6, 14, 22), False, text)
            left += 14
        icon(row.icon_name).paint(painter, QRect(left, rect.top() + 5, 22, 22))
        left += 28
        right = rect.right() - 10
        top_line = QRect(left, rect.top() + 5, right - left, 22)
        volume_width = self._title_line(painter, top_line, row, text, fonts)
        y = rect.top() + 27
        faint = _faint(text)
        if row.collapsed:
            painter.setFont(fonts.small)
            title_width = fonts.width(fonts.bold, row.title) + fonts.width(fonts.small, row.label) + 24
            line = top_line.adjusted(title_width, 0, -volume_width, 0)
            painter.setPen(faint)
            painter.drawText(line, RIGHT,
                             painter.fontMetrics().elidedText(f"{row.detail} · {row.params or 'no params'}",
                                                              ELIDE_LEFT, line.width()))
        elif row.detail or row.params:
            self._detail_line(painter, QRect(left, y, right - left, LINE_HEIGHT), row, faint, fonts)
            y += LINE_HEIGHT
        if row.message:
            self._message(painter, QRect(left, y, right - left, LINE_HEIGHT), row, fonts)

    def _header(self, painter, rect: QRect, row: Row, card: QColor, text: QColor, fonts: "_Fonts", selected: bool,
                palette) -> None:
        """An expanded container's header: the top of its card, its title, lanes and totals."""
        status = ERROR if row.errors else WARNING if row.warnings else None
        self._card_part(painter, rect, row.depth, card, True, status, selected, palette)
        left, right = frame_rect(rect, row.depth)
        self._arrow(painter, QRect(left + 6, rect.top() + 9, 14, 22), True, text)
        icon(row.icon_name).paint(painter, QRect(left + 22, rect.top() + 9, 22, 22))
        inner_left, inner_right = left + 50, right - 10
        top_line = QRect(inner_left, rect.top() + 9, inner_right - inner_left, 22)
        self._title_line(painter, top_line, row, text, fonts)
        y = rect.top() + 31
        self._detail_line(painter, QRect(inner_left, y, inner_right - inner_left, LINE_HEIGHT), row, _faint(text), fonts)
        if row.message and not row.errors:  # a merge error is said on the merge row
            self._message(painter, QRect(inner_left, y + LINE_HEIGHT, inner_right - inner_left, LINE_HEIGHT), row, fonts)

    def _merge(self, painter, rect: QRect, row: Row, card: QColor, text: QColor, fonts: "_Fonts", selected: bool,
               palette) -> None:
        """Where the lanes join: the bottom of the card, the merge sign, the volumes meeting, the result."""
        status = ERROR if row.errors else None
        self._card_part(painter, rect, row.depth, card, False, status, selected, palette)
        left, right = frame_rect(rect, row.depth)
        sign = QRect(left + 10, rect.top() + 4, max(24, fonts.width(fonts.bold, row.title) + 12), 22)
        painter.setPen(QPen(status or card, 1.5))
        painter.setBrush(palette.base())
        painter.drawRoundedRect(sign, 11, 11)
        painter.setFont(fonts.bold)
        painter.setPen(status or text)
        painter.drawText(sign, CENTRE, row.title)
        line = QRect(sign.right() + 10, rect.top() + 4, right - 10 - sign.right() - 10, 22)
        painter.setFont(fonts.volume)
        painter.setPen(ERROR if row.volume == "?" else text)
        painter.drawText(line, RIGHT, "→ " + row.volume)
        volume_width = painter.fontMetrics().horizontalAdvance("→ " + row.volume) + 12
        painter.setFont(fonts.small)
        painter.setPen(status.darker(115) if status else _faint(text))
        painter.drawText(line.adjusted(0, 0, -volume_width, 0), LEFT,
                         painter.fontMetrics().elidedText(row.detail, ELIDE_RIGHT, line.width() - volume_width))
        if row.errors:
            self._message(painter, QRect(line.left(), rect.top() + 27, line.width(), LINE_HEIGHT), row, fonts)

    def _lane(self, painter, rect: QRect, row: Row, text: QColor, fonts: "_Fonts", selected: bool, palette) -> None:
        """A lane's caption (name, blocks, output), or the dashed place of an empty lane."""
        left, right = frame_rect(rect, row.depth)
        faint = _faint(text)
        if row.role == "empty":
            box = QRect(left, rect.top() + 3, right - left, rect.height() - 6)
            pen = QPen(palette.highlight().color() if selected else faint, 1.5 if selected else 1, Qt.DashLine)
            painter.setPen(pen)
            painter.setBrush(NO_BRUSH)
            painter.drawRoundedRect(box, 5, 5)
            painter.setFont(fonts.bold_small)
            painter.setPen(text)
            painter.drawText(box.adjusted(12, 0, 0, 0), LEFT, row.title)
            painter.setFont(fonts.small)
            painter.setPen(faint)
            painter.drawText(box.adjusted(16 + fonts.width(fonts.bold_small, row.title), 0, -10, 0),
                             LEFT, row.detail)
            return
        line = QRect(left, rect.top() + 2, right - left, rect.height() - 4)
        if selected:
            painter.setPen(QPen(palette.highlight().color(), 1.5))
            painter.setBrush(NO_BRUSH)
            painter.drawRoundedRect(line, 4, 4)
        painter.setFont(fonts.bold_small)
        painter.setPen(text)
        painter.drawText(line.adjusted(4, 0, 0, 0), LEFT, row.title)
        width = fonts.width(fonts.bold_small, row.title) + 12
        painter.setFont(fonts.small)
        painter.setPen(faint)
        painter.drawText(line.adjusted(width, 0, -6, 0), LEFT, row.detail)
        painter.drawText(line.adjusted(width, 0, -6, 0), RIGHT, "→ " + row.volume)
        painter.setPen(QPen(QColor(faint.red(), faint.green(), faint.blue(), 60), 1))
        y = line.center().y()
        detail_end = line.left() + width + fonts.width(fonts.small, row.detail) + 8
        volume_start = line.right() - 6 - fonts.width(fonts.small, "→ " + row.volume) - 8
        if volume_start > detail_end:
            painter.drawLine(detail_end, y, volume_start, y)

    @staticmethod
    def _arrow(painter, rect: QRect, expanded: bool, colour: QColor) -> None:
        painter.setPen(colour)
        painter.drawText(rect, CENTRE, "▾" if expanded else "▸")

    @staticmethod
    def _title_line(painter, line: QRect, row: Row, text: QColor, fonts: "_Fonts") -> int:
        """Title and label on the left, the output volume on the right -> the volume's width."""
        painter.setFont(fonts.volume)
        painter.setPen(ERROR if row.volume == "?" else text)
        painter.drawText(line, RIGHT, row.volume)
        volume_width = painter.fontMetrics().horizontalAdvance(row.volume) + 12
        painter.setFont(fonts.bold)
        painter.setPen(text)
        painter.drawText(line.adjusted(0, 0, -volume_width, 0), LEFT, row.title)
        if row.label:
            title_width = painter.fontMetrics().horizontalAdvance(row.title)
            painter.setFont(fonts.small)
            painter.setPen(_faint(text))
            painter.drawText(line.adjusted(title_width + 8, 0, -volume_width, 0), LEFT,
                             row.label)
        return volume_width

    @staticmethod
    def _detail_line(painter, line: QRect, row: Row, faint: QColor, fonts: "_Fonts") -> None:
        painter.setFont(fonts.small)
        painter.setPen(faint)
        params_width = painter.fontMetrics().horizontalAdvance(row.params) + 12 if row.params else 0
        painter.drawText(line, RIGHT, row.params)
        painter.drawText(line, LEFT,
                         painter.fontMetrics().elidedText(row.detail, ELIDE_RIGHT, line.width() - params_width))

    @staticmethod
    def _message(painter, line: QRect, row: Row, fonts: "_Fonts") -> None:
        painter.setFont(fonts.small)
        painter.setPen((ERROR if row.errors else WARNING).darker(115))
        message = ("✖ " if row.errors else "⚠ ") + row.message
        painter.drawText(line, LEFT,
                         painter.fontMetrics().elidedText(message, ELIDE_RIGHT, line.width()))


@lru_cache(maxsize=8)
def _fonts_for(key: str) -> "_Fonts":
    font = QFont()
    font.fromString(key)
    return _Fonts(font)


def _fonts(base: QFont) -> "_Fonts":
    return _fonts_for(base.toString())


class _Fonts:
    """The delegate's fonts, made from the view's."""

    def __init__(self, base: QFont):
        self.bold = QFont(base)
        self.bold.setBold(True)
        self.volume = QFont(base)
        self.volume.setBold(True)
        self.volume.setPointSizeF(base.pointSizeF() * 1.15)
        self.small = QFont(base)
        self.small.setPointSizeF(base.pointSizeF() * 0.9)
        self.bold_small = QFont(self.small)
        self.bold_small.setBold(True)
        self.metrics = {id(f): QFontMetrics(f) for f in (self.bold, self.volume, self.small, self.bold_small)}

    def width(self, font: QFont, text: str) -> int:
        return self.metrics[id(font)].horizontalAdvance(text)


def _faint(text: QColor) -> QColor:
    faint = QColor(text)
    faint.setAlpha(150)
    return faint


class StackView(QListView):
    """The block stack. Accepts palette drops and moves of its own blocks anywhere in the tree, drawing
    a line at the insertion point while dragging (indented to the lane it goes into).
    deleteRequested: Delete on a block; toggleRequested(path): a container to collapse or expand
    (double-click, or ← / → on it)."""

    deleteRequested = Signal()
    toggleRequested = Signal(object, bool)  # (container path, collapse)

    def __init__(self, model: StackModel, parent=None):
        super().__init__(parent)
        self.setModel(model)
        self.setItemDelegate(BlockDelegate(self))
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(False)
        self.setDragDropMode(QAbstractItemView.DragDrop)
        self.setDefaultDropAction(Qt.MoveAction)
        self.setVerticalScrollMode(QAbstractItemView.ScrollPerPixel)
        self.setSpacing(0)
        self.setAccessibleName("Network blocks")
        model.refreshed.connect(self.viewport().update)
        self.drop_at: tuple[int, bool] | None = None  # (row, upper half) under the pointer while dragging

    def target_at(self, pos: QPoint) -> tuple[int, bool]:
        """(row, upper half) of a viewport position; below the last row: the last row's lower half."""
        index = self.indexAt(pos)
        model = self.model()
        if not index.isValid():
            last = model.rowCount() - 1
            return (0, True) if pos.y() < self.visualRect(model.index(0)).top() else (last, False)
        rect = self.visualRect(index)
        return index.row(), pos.y() < rect.center().y()

    def point_at(self, pos: QPoint) -> Path:
        """The insertion point for a drop at a viewport position."""
        r, upper = self.target_at(pos)
        return self.model().row(r).points[0 if upper else 1]

    def _accepts(self, event) -> bool:
        mime = event.mimeData()
        return mime.hasFormat(LAYER_MIME) or mime.hasFormat(BLOCK_MIME)

    def _action(self, event):
        return Qt.MoveAction if event.mimeData().hasFormat(BLOCK_MIME) else Qt.CopyAction

    def dragEnterEvent(self, event):
        if self._accepts(event):
            event.setDropAction(self._action(event))
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event):
        if not self._accepts(event):
            event.ignore()
            return
        self.drop_at = self.target_at(event.position().toPoint())
        event.setDropAction(self._action(event))
        event.accept()
        self.viewport().update()

    def dragLeaveEvent(self, event):
        self.drop_at = None
        self.viewport().update()

    def dropEvent(self, event):
        point = self.point_at(event.position().toPoint())
        self.drop_at = None
        self.viewport().update()
        if self._accepts(event) and self.model().drop(event.mimeData(), point):
            event.setDropAction(self._action(event))
            event.accept()
        else:
            event.ignore()

    def startDrag(self, supported_actions):
        """Drag the selected block with BLOCK_MIME; the drop moves it (nothing is removed here)."""
        indexes = [i for i in self.selectedIndexes() if self.model().row(i.row()).draggable]
        if not indexes:
            return
        drag = QDrag(self)
        drag.setMimeData(self.model().mimeData(indexes))
        rect = self.visualRect(indexes[0])
        pixmap = QPixmap(rect.size())
        pixmap.fill(Qt.transparent)
        self.viewport().render(pixmap, QPoint(), rect)
        drag.setPixmap(pixmap)
        drag.setHotSpot(QPoint(rect.width() // 2, rect.height() // 2))
        drag.exec(Qt.MoveAction)

    def keyPressEvent(self, event):
        index = self.currentIndex()
        row = self.model().row(index.row()) if index.isValid() else None
        if row is not None and event.modifiers() == Qt.NoModifier:
            if event.key() in (Qt.Key_Delete, Qt.Key_Backspace) and row.draggable:
                self.deleteRequested.emit()
                event.accept()
                return
            if event.key() in (Qt.Key_Left, Qt.Key_Right) and row.role in ("container", "merge", "lane", "empty"):
                self.toggleRequested.emit(row.block_path, event.key() == Qt.Key_Left)
                event.accept()
                return
        super().keyPressEvent(event)

    def mouseDoubleClickEvent(self, event):
        index = self.indexAt(event.position().toPoint())
        if index.isValid() and self.model().row(index.row()).role == "container":
            row = self.model().row(index.row())
            self.toggleRequested.emit(row.path, not row.collapsed)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def paintEvent(self, event):
        super().paintEvent(event)
        if self.drop_at is None:
            return
        r, upper = self.drop_at
        model = self.model()
        rect = self.visualRect(model.index(r))
        point = model.row(r).points[0 if upper else 1]
        y = rect.top() if upper else rect.bottom() + 1
        left, right = frame_rect(rect, len(point) // 2)
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(self.palette().highlight().color(), 3))
        painter.drawLine(left + 4, y, right - 4, y)
        painter.setBrush(self.palette().highlight())
        painter.drawEllipse(QPoint(left + 4, y), 4, 4)
        painter.end()
