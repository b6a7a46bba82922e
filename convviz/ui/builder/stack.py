"""The network as a vertical stack of blocks: a list model over the document, a delegate that
paints each block, and a view that accepts palette drops and reorders blocks by dragging.

Stack rows: row 0 is the INPUT block, row i (i >= 1) is layer i - 1 of the Architecture.
A drop position is a gap: gap g inserts before row g, i.e. at layer index g - 1 (g >= 1).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate

from ...engine import LAYER_TYPES
from .document import BuilderDocument
from .style import ERROR, WARNING, count, icon, kind_colour

LAYER_MIME = "application/x-convviz-layer"   # from the palette: {"type": "conv"}
BLOCK_MIME = "application/x-convviz-block"   # a block of the stack being moved: {"index": 3}
BLOCK_ROLE = Qt.UserRole + 1


@dataclass
class BlockView:
    """What a block shows: kind (colour), title, hyperparameters, output volume, parameters, problems."""

    kind: str
    icon_name: str
    title: str
    detail: str
    volume: str
    params: str
    errors: list[str]
    warnings: list[str]

    @property
    def message(self) -> str | None:
        return (self.errors or self.warnings or [None])[0]


def hyper_text(layer_type: str, params: dict) -> str:
    """'filters 16 · size 5 · stride 1 · pad 2' from the layer's declaration and its given values."""
    declared = LAYER_TYPES.get(layer_type)
    if declared is None:
        return ", ".join(f"{k} {v}" for k, v in params.items())
    hp = declared.resolve(params)
    return " · ".join(f"{h.name} {hp[h.name]:g}" if isinstance(hp[h.name], (int, float)) else f"{h.name} {hp[h.name]!r}"
                      for h in declared.hypers)


class StackModel(QAbstractListModel):
    """A read-only view of the document's blocks; drops become document edits (undoable commands)."""

    def __init__(self, document: BuilderDocument, parent=None):
        super().__init__(parent)
        self.document = document
        self._rows: list[BlockView] = []
        self._rebuild()
        document.changed.connect(self._document_changed)

    def _rebuild(self) -> None:
        arch, inference = self.document.arch, self.document.inference
        rows = [BlockView("input", "input", "INPUT", " · ".join(f"{k} {v}" for k, v in arch.input._asdict().items())
                          + f" · {arch.classes} classes", str(arch.input), "",
                          [p.message for p in inference.errors if p.path is None],
                          [p.message for p in inference.warnings if p.path is None])]
        for layer, info in zip(arch.layers, inference.blocks):
            declared = LAYER_TYPES.get(layer.type)
            rows.append(BlockView(
                declared.kind if declared else "", layer.type, info.title or layer.type,
                hyper_text(layer.type, layer.params), str(info.output) if info.output is not None else "?",
                f"{count(info.params)} params" if info.params else "",
                [p.message for p in info.errors], [p.message for p in info.warnings]))
        self._rows = rows

    def _document_changed(self, arch, inference) -> None:
        before = len(self._rows)
        if before != len(arch.layers) + 1:
            self.beginResetModel()
            self._rebuild()
            self.endResetModel()
        else:
            self._rebuild()
            self.dataChanged.emit(self.index(0), self.index(before - 1))

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        block = self._rows[index.row()]
        if role == Qt.DisplayRole:
            return f"{block.title}  {block.volume}"
        if role == BLOCK_ROLE:
            return block
        if role == Qt.ToolTipRole:
            return self._tooltip(index.row(), block)
        if role == Qt.AccessibleTextRole:
            return f"{block.title}, {block.detail}, output {block.volume}" + (f", {block.message}" if block.message else "")
        return None

    def _tooltip(self, row: int, block: BlockView) -> str:
        if row == 0:
            lines = ["<b>INPUT</b>: the image volume fed to the network (width x height x depth)."]
        else:
            declared = LAYER_TYPES.get(self.document.arch.layers[row - 1].type)
            lines = [f"<b>{block.title}</b>: {declared.summary if declared else 'unknown layer type'}"]
        lines += [f"<span style='color:{ERROR.name()}'>Error: {m}</span>" for m in block.errors]
        lines += [f"<span style='color:{WARNING.name()}'>Warning: {m}</span>" for m in block.warnings]
        return "<br>".join(lines)

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemIsDropEnabled
        flags = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        return flags | Qt.ItemIsDragEnabled if index.row() > 0 else flags

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME, BLOCK_MIME]

    def mimeData(self, indexes) -> QMimeData:
        mime = QMimeData()
        rows = [i.row() for i in indexes if i.row() > 0]
        if rows:
            mime.setData(BLOCK_MIME, json.dumps({"index": rows[0] - 1}).encode())
        return mime

    def supportedDropActions(self):
        return Qt.CopyAction | Qt.MoveAction

    def canDropMimeData(self, data, action, row, column, parent) -> bool:
        return data.hasFormat(LAYER_MIME) or data.hasFormat(BLOCK_MIME)

    def dropMimeData(self, data: QMimeData, action, row: int, column: int, parent: QModelIndex) -> bool:
        """row: the gap to drop into (-1 = after the last block). Palette data adds a block,
        block data moves one; both through the document's undo stack."""
        gap = len(self._rows) if row < 0 else max(1, row)
        try:
            if data.hasFormat(LAYER_MIME):
                layer_type = json.loads(bytes(data.data(LAYER_MIME)).decode())["type"]
                if layer_type not in LAYER_TYPES:
                    return False
                self.document.insert_layer(gap - 1, layer_type)
                return True
            if data.hasFormat(BLOCK_MIME):
                source = json.loads(bytes(data.data(BLOCK_MIME)).decode())["index"]
                self.document.move_layer(int(source), gap - 1)
                return True
        except (ValueError, KeyError, TypeError):
            return False
        return False


class BlockDelegate(QStyledItemDelegate):
    """Paints a block: a colour stripe by kind, icon, title, hyperparameters, output volume,
    parameter count, and the first error (red) or warning (amber)."""

    TITLE_HEIGHT = 34
    LINE_HEIGHT = 17

    def sizeHint(self, option, index) -> QSize:
        block = index.data(BLOCK_ROLE)
        lines = bool(block.detail or block.params) + bool(block.message)
        return QSize(280, self.TITLE_HEIGHT + self.LINE_HEIGHT * lines)

    def paint(self, painter: QPainter, option, index) -> None:
        block: BlockView = index.data(BLOCK_ROLE)
        painter.save()
        painter.setRenderHint(QPainter.Antialiasing)
        rect = option.rect.adjusted(6, 2, -6, -2)
        colour = kind_colour(block.kind)
        palette = option.palette
        selected = bool(option.state & QStyle.State_Selected)
        status = ERROR if block.errors else WARNING if block.warnings else None

        background = QColor(status or colour)
        background.setAlpha(48 if status else 26)
        painter.setPen(Qt.NoPen)
        painter.setBrush(palette.base())
        painter.drawRoundedRect(rect, 6, 6)
        painter.setBrush(background)
        painter.drawRoundedRect(rect, 6, 6)
        border = palette.highlight().color() if selected else (status or colour.lighter(130))
        painter.setPen(QPen(border, 2.5 if selected or status else 1))
        painter.setBrush(Qt.NoBrush)
        painter.drawRoundedRect(rect, 6, 6)
        painter.setPen(Qt.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(QRect(rect.left(), rect.top(), 7, rect.height()), 3, 3)

        icon(block.icon_name).paint(painter, QRect(rect.left() + 14, rect.top() + 5, 22, 22))
        text = palette.text().color()
        faint = QColor(text)
        faint.setAlpha(150)

        title_font = QFont(option.font)
        title_font.setBold(True)
        volume_font = QFont(option.font)
        volume_font.setBold(True)
        volume_font.setPointSizeF(option.font.pointSizeF() * 1.15)
        small = QFont(option.font)
        small.setPointSizeF(option.font.pointSizeF() * 0.9)

        left = rect.left() + 42
        right = rect.right() - 10
        top_line = QRect(left, rect.top() + 6, right - left, 22)
        painter.setFont(volume_font)
        painter.setPen(ERROR if block.volume == "?" else text)
        painter.drawText(top_line, Qt.AlignRight | Qt.AlignVCenter, block.volume)
        volume_width = painter.fontMetrics().horizontalAdvance(block.volume) + 12
        painter.setFont(title_font)
        painter.setPen(text)
        painter.drawText(top_line.adjusted(0, 0, -volume_width, 0), Qt.AlignLeft | Qt.AlignVCenter, block.title)
        if index.row() > 0:
            title_width = painter.fontMetrics().horizontalAdvance(block.title)
            painter.setFont(small)
            painter.setPen(faint)
            painter.drawText(top_line.adjusted(title_width + 8, 0, -volume_width, 0), Qt.AlignLeft | Qt.AlignVCenter,
                             f"block {index.row() - 1}")

        y = rect.top() + 27
        if block.detail or block.params:
            second = QRect(left, y, right - left, self.LINE_HEIGHT)
            painter.setFont(small)
            painter.setPen(faint)
            params_width = painter.fontMetrics().horizontalAdvance(block.params) + 12 if block.params else 0
            painter.drawText(second, Qt.AlignRight | Qt.AlignVCenter, block.params)
            detail = painter.fontMetrics().elidedText(block.detail, Qt.ElideRight, second.width() - params_width)
            painter.drawText(second, Qt.AlignLeft | Qt.AlignVCenter, detail)
            y += self.LINE_HEIGHT

        if block.message:
            painter.setFont(small)
            line = QRect(left, y, right - left, self.LINE_HEIGHT)
            painter.setPen((ERROR if block.errors else WARNING).darker(115))
            message = ("✖ " if block.errors else "⚠ ") + block.message
            painter.drawText(line, Qt.AlignLeft | Qt.AlignVCenter,
                             painter.fontMetrics().elidedText(message, Qt.ElideRight, line.width()))
        painter.restore()


class StackView(QListView):
    """The block stack. Accepts palette drops and internal moves, drawing a line at the insertion
    gap while dragging. deleteRequested is emitted for the Delete key on a selected block."""

    deleteRequested = Signal()

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
        self.setSpacing(2)
        self.setAccessibleName("Network blocks")
        self.drop_gap: int | None = None

    def gap_at(self, pos: QPoint) -> int:
        """The gap (stack row to insert before, >= 1) nearest to a viewport position."""
        index = self.indexAt(pos)
        if not index.isValid():
            last = self.model().rowCount() - 1
            if last >= 0 and pos.y() < self.visualRect(self.model().index(0)).top():
                return 1
            return last + 1
        rect = self.visualRect(index)
        return max(1, index.row() + (1 if pos.y() >= rect.center().y() else 0))

    def _accepts(self, event) -> bool:
        mime = event.mimeData()
        return mime.hasFormat(LAYER_MIME) or mime.hasFormat(BLOCK_MIME)

    def dragEnterEvent(self, event):
        if self._accepts(event):
            event.setDropAction(Qt.MoveAction if event.mimeData().hasFormat(BLOCK_MIME) else Qt.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event):
        if not self._accepts(event):
            event.ignore()
            return
        self.drop_gap = self.gap_at(event.position().toPoint())
        event.setDropAction(Qt.MoveAction if event.mimeData().hasFormat(BLOCK_MIME) else Qt.CopyAction)
        event.accept()
        self.viewport().update()

    def dragLeaveEvent(self, event):
        self.drop_gap = None
        self.viewport().update()

    def dropEvent(self, event):
        gap = self.gap_at(event.position().toPoint())
        self.drop_gap = None
        self.viewport().update()
        if self.model().dropMimeData(event.mimeData(), event.dropAction(), gap, 0, QModelIndex()):
            event.setDropAction(Qt.MoveAction if event.mimeData().hasFormat(BLOCK_MIME) else Qt.CopyAction)
            event.accept()
        else:
            event.ignore()

    def startDrag(self, supported_actions):
        """Drag the selected block with BLOCK_MIME; the drop moves it (nothing is removed here)."""
        indexes = [i for i in self.selectedIndexes() if i.row() > 0]
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
        if event.key() in (Qt.Key_Delete, Qt.Key_Backspace) and self.currentIndex().row() > 0:
            self.deleteRequested.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def paintEvent(self, event):
        super().paintEvent(event)
        if self.drop_gap is None:
            return
        rows = self.model().rowCount()
        if self.drop_gap < rows:
            y = self.visualRect(self.model().index(self.drop_gap)).top() - 1
        else:
            y = self.visualRect(self.model().index(rows - 1)).bottom() + 2
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.Antialiasing)
        pen = QPen(self.palette().highlight().color(), 3)
        painter.setPen(pen)
        painter.drawLine(10, y, self.viewport().width() - 10, y)
        painter.setBrush(self.palette().highlight())
        painter.drawEllipse(QPoint(10, y), 4, 4)
        painter.end()
