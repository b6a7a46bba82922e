"""The builder tab: palette | stack | inspector above, the drawing below, the totals bar at the bottom."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QVBoxLayout, QWidget

from .document import BuilderDocument
from .drawing import NetworkDrawing
from .inspector import Inspector
from .palette import LayerPalette
from .stack import StackModel, StackView
from .totals import TotalsBar


def titled(title: str, widget: QWidget) -> QWidget:
    """widget under a small section heading."""
    host = QWidget()
    layout = QVBoxLayout(host)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    heading = QLabel(title)
    heading.setObjectName("sectionHeading")
    heading.setBuddy(widget)
    layout.addWidget(heading)
    layout.addWidget(widget, 1)
    return host


class BuilderWidget(QWidget):
    def __init__(self, document: BuilderDocument, parent=None):
        super().__init__(parent)
        self.document = document
        self.palette_list = LayerPalette()
        self.model = StackModel(document, self)
        self.stack = StackView(self.model)
        self.inspector = Inspector(document)
        self.drawing = NetworkDrawing()
        self.totals = TotalsBar()

        drawing_scroll = QScrollArea()
        drawing_scroll.setWidget(self.drawing)
        drawing_scroll.setWidgetResizable(True)
        drawing_scroll.setAlignment(Qt.AlignCenter)
        drawing_scroll.setObjectName("drawingArea")
        self.drawing_scroll = drawing_scroll

        self.columns = QSplitter(Qt.Horizontal)
        self.columns.setObjectName("builderColumns")
        self.columns.addWidget(titled("&Layers", self.palette_list))
        self.columns.addWidget(titled("&Network", self.stack))
        self.columns.addWidget(titled("&Inspector", self.inspector))
        self.columns.setStretchFactor(0, 0)
        self.columns.setStretchFactor(1, 1)
        self.columns.setStretchFactor(2, 0)
        self.columns.setSizes([170, 520, 300])
        self.rows = QSplitter(Qt.Vertical)
        self.rows.setObjectName("builderRows")
        self.rows.addWidget(self.columns)
        self.rows.addWidget(titled("Volumes", drawing_scroll))
        self.rows.setStretchFactor(0, 3)
        self.rows.setStretchFactor(1, 1)
        self.rows.setSizes([500, 280])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.rows, 1)
        layout.addWidget(self.totals)

        QWidget.setTabOrder(self.palette_list, self.stack)
        QWidget.setTabOrder(self.stack, self.inspector)

        self.palette_list.addRequested.connect(self.append_layer)
        self.stack.selectionModel().currentRowChanged.connect(self._row_selected)
        self.model.modelReset.connect(self._reselect)
        self.stack.deleteRequested.connect(self.delete_selected)
        self.drawing.blockClicked.connect(self.select)
        document.changed.connect(self._document_changed)
        document.selectionRequested.connect(self.select)
        self._document_changed(document.arch, document.inference)

    # --- selection ---------------------------------------------------------------------------
    def select(self, index: int) -> None:
        """Select layer index (-1 = INPUT) in the stack and the inspector."""
        row = index + 1
        if 0 <= row < self.model.rowCount():
            current = self.stack.currentIndex()
            if current.row() != row or not self.stack.selectionModel().isSelected(current):
                self.stack.setCurrentIndex(self.model.index(row))
                self.stack.scrollTo(self.model.index(row))

    def _row_selected(self, current, previous) -> None:
        index = current.row() - 1 if current.isValid() else None
        self.document.selected = index
        self.inspector.show_block(index)
        self.drawing.set_selected(index)

    def _reselect(self) -> None:
        if self.document.selected is not None:
            self.select(self.document.selected)

    # --- edits -------------------------------------------------------------------------------
    def append_layer(self, layer_type: str) -> None:
        """Insert after the selected block; at the end when INPUT or nothing is selected."""
        index = self.document.selected
        position = index + 1 if index is not None and index >= 0 else len(self.document.arch.layers)
        self.document.insert_layer(position, layer_type)

    def delete_selected(self) -> None:
        if self.document.selected is not None and self.document.selected >= 0:
            self.document.delete_layer(self.document.selected)

    def move_selected(self, step: int) -> None:
        """Move the selected block one place up (step -1) or down (step +1)."""
        index = self.document.selected
        if index is not None and 0 <= index + step < len(self.document.arch.layers) and index >= 0:
            self.document.move_layer(index, index + step + (1 if step > 0 else 0))

    def duplicate_selected(self) -> None:
        if self.document.selected is not None and self.document.selected >= 0:
            self.document.duplicate_layer(self.document.selected)

    def _document_changed(self, arch, inference) -> None:
        self.drawing.set_network(arch, inference)
        self.totals.set_network(arch, inference)
