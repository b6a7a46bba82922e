"""The palette of layer blocks, one entry per engine layer type, draggable into the stack."""
from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem

from ...engine import LAYER_TYPES
from .stack import LAYER_MIME
from .style import icon

TYPE_ROLE = Qt.UserRole + 1


class LayerPalette(QListWidget):
    """addRequested(type) on double-click or Enter; dragging an entry carries LAYER_MIME {"type": ...}."""

    addRequested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragOnly)
        self.setDefaultDropAction(Qt.CopyAction)
        self.setIconSize(QSize(22, 22))
        self.setSpacing(1)
        self.setAccessibleName("Layer palette")
        for name, declared in LAYER_TYPES.items():
            item = QListWidgetItem(icon(name), declared.title)
            item.setData(TYPE_ROLE, name)
            item.setToolTip(f"<b>{declared.title}</b><br>{declared.summary}<br><i>Drag into the network, "
                            "or double-click / press Enter to append.</i>")
            item.setStatusTip(declared.summary)
            self.addItem(item)
        self.itemActivated.connect(lambda item: self.addRequested.emit(item.data(TYPE_ROLE)))
        # as wide as its longest entry beside a vertical scroll bar, so its column never needs a horizontal one
        self.setMinimumWidth(self.sizeHintForColumn(0) + 2 * (self.frameWidth() + self.spacing())
                             + self.verticalScrollBar().sizeHint().width())

    def layer_type(self, row: int) -> str:
        return self.item(row).data(TYPE_ROLE)

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME]

    def mimeData(self, items) -> QMimeData:
        mime = QMimeData()
        if items:
            mime.setData(LAYER_MIME, json.dumps({"type": items[0].data(TYPE_ROLE)}).encode())
            mime.setText(items[0].text())
        return mime

    def supportedDropActions(self):
        return Qt.CopyAction
