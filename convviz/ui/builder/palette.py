"""The palette: one entry per layer type, per container type (from their declarations) and per template
(model.templates), under three headings; each entry draggable into the stack."""
from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem

from ...engine.layers import CONTAINER_TYPES, LAYER_TYPES
from ...model.templates import TEMPLATES
from .stack import LAYER_MIME
from .style import icon

ENTRY_ROLE = Qt.UserRole + 1  # {"type": name} or {"template": name}: the MIME payload of the entry
HINT = "<i>Drag into the network, or double-click / press Enter to add it after the selected block.</i>"


class LayerPalette(QListWidget):
    """addRequested(entry) on double-click or Enter, entry {"type": name} or {"template": name};
    dragging an entry carries LAYER_MIME with the same entry."""

    addRequested = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragOnly)
        self.setDefaultDropAction(Qt.CopyAction)
        self.setIconSize(QSize(22, 22))
        self.setSpacing(1)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.ElideRight)
        self.setAccessibleName("Block palette")
        self._heading("Layers")
        for name, declared in LAYER_TYPES.items():
            self._entry({"type": name}, name, declared.title, declared.summary)
        self._heading("Containers")
        for name, declared in CONTAINER_TYPES.items():
            self._entry({"type": name}, name, declared.title, declared.summary)
        self._heading("Ready-made blocks")
        for name, template in TEMPLATES.items():
            self._entry({"template": name}, template.icon, template.title, template.tooltip)
        self.itemActivated.connect(self._activated)
        # as wide as its longest entry beside a vertical scroll bar, so its column never needs a horizontal one
        self.setMinimumWidth(self.sizeHintForColumn(0) + 2 * (self.frameWidth() + self.spacing())
                             + self.verticalScrollBar().sizeHint().width())

    def _activated(self, item: QListWidgetItem) -> None:
        if item.data(ENTRY_ROLE):  # not a heading
            self.addRequested.emit(item.data(ENTRY_ROLE))

    def _heading(self, text: str) -> None:
        item = QListWidgetItem(text.upper())
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 0.85)
        item.setFont(font)
        item.setFlags(Qt.NoItemFlags)
        self.addItem(item)

    def _entry(self, entry: dict, icon_name: str, title: str, tooltip: str) -> None:
        item = QListWidgetItem(icon(icon_name), title)
        item.setData(ENTRY_ROLE, entry)
        item.setToolTip(f"<b>{title}</b><br>{tooltip}<br>{HINT}")
        item.setStatusTip(tooltip)
        self.addItem(item)

    def entry(self, row: int) -> dict | None:
        """The entry at row ({"type": ...} or {"template": ...}); None for a heading."""
        return self.item(row).data(ENTRY_ROLE)

    def row_of(self, entry: dict) -> int:
        """The row of an entry, e.g. row_of({"template": "inception"})."""
        return next(r for r in range(self.count()) if self.entry(r) == entry)

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME]

    def mimeData(self, items) -> QMimeData:
        mime = QMimeData()
        entries = [item for item in items if item.data(ENTRY_ROLE)]
        if entries:
            mime.setData(LAYER_MIME, json.dumps(entries[0].data(ENTRY_ROLE)).encode())
            mime.setText(entries[0].text())
        return mime

    def supportedDropActions(self):
        return Qt.CopyAction
