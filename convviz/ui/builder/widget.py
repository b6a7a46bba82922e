"""The builder tab: palette | stack | inspector above, the drawing below, the totals bar at the bottom."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHBoxLayout, QLabel, QScrollArea, QSplitter, QToolButton, QVBoxLayout, QWidget

from ...engine.tree import Path
from .document import BuilderDocument
from .drawing import NetworkDrawing
from .inspector import Inspector
from .palette import LayerPalette
from .stack import StackModel, StackView
from .totals import TotalsBar


def titled(title: str, widget: QWidget, *buttons: QWidget) -> QWidget:
    """widget under a small section heading (with buttons at its right end)."""
    host = QWidget()
    layout = QVBoxLayout(host)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    heading = QLabel(title)
    heading.setObjectName("sectionHeading")
    heading.setBuddy(widget)
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(heading, 1)
    for button in buttons:
        row.addWidget(button)
    layout.addLayout(row)
    layout.addWidget(widget, 1)
    return host


def _tool_button(text: str, tip: str, slot) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setAutoRaise(True)
    button.clicked.connect(slot)
    return button


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

        self.collapse_button = _tool_button("Collapse all", "Show every container on one line (the file is not "
                                            "changed)", lambda: self.collapse_all(True))
        self.expand_button = _tool_button("Expand all", "Show the blocks inside every container",
                                          lambda: self.collapse_all(False))
        self.columns = QSplitter(Qt.Horizontal)
        self.columns.setObjectName("builderColumns")
        self.columns.addWidget(titled("&Blocks", self.palette_list))
        self.columns.addWidget(titled("&Network", self.stack, self.collapse_button, self.expand_button))
        self.columns.addWidget(titled("&Inspector", self.inspector))
        self.columns.setStretchFactor(0, 0)
        self.columns.setStretchFactor(1, 1)
        self.columns.setStretchFactor(2, 0)
        self.columns.setSizes([190, 520, 300])
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

        self.palette_list.addRequested.connect(self.add_entry)
        self.stack.selectionModel().currentRowChanged.connect(self._row_selected)
        self.model.modelReset.connect(self._reselect)
        self.stack.deleteRequested.connect(self.delete_selected)
        self.stack.toggleRequested.connect(self.set_collapsed)
        self.drawing.blockClicked.connect(self.select)
        document.changed.connect(self._document_changed)
        document.selectionRequested.connect(self.select)
        self._document_changed(document.arch, document.inference)

    # --- selection ---------------------------------------------------------------------------
    def select(self, path: Path) -> None:
        """Select the block at path (INPUT: the INPUT block) in the stack and the inspector, expanding
        the containers it is hidden in."""
        path = tuple(path)
        row = self.model.row_of(path)
        if row is None:
            hidden = {p for p in self.model.collapsed if path[:len(p)] == p and p != path}
            if not hidden:
                return
            self.model.set_collapsed(self.model.collapsed - hidden)
            row = self.model.row_of(path)
            if row is None:
                return
        current = self.stack.currentIndex()
        if current.row() != row or not self.stack.selectionModel().isSelected(current):
            index = self.model.index(row)
            self.stack.setCurrentIndex(index)
            card = self.model.row(row).role == "container" and not self.model.row(row).collapsed
            self.stack.scrollTo(index, QAbstractItemView.PositionAtTop if card else QAbstractItemView.EnsureVisible)

    def current_row(self):
        """The stack row that is current (a block, a lane, a merge...), or None."""
        index = self.stack.currentIndex()
        return self.model.row(index.row()) if index.isValid() else None

    def block_selected(self) -> bool:
        """Whether a block (not INPUT, a lane or a merge) is selected: what Delete and Duplicate act on."""
        row = self.current_row()
        return row is not None and row.draggable

    def _row_selected(self, current, previous) -> None:
        path = self.model.row(current.row()).block_path if current.isValid() else None
        self.document.selected = path
        self.inspector.show_block(path)
        self.drawing.set_selected(path)
        spot = self.drawing.spot_of(path) if path is not None else None
        if spot is not None:  # the selected block's volume in sight in the drawing
            self.drawing_scroll.ensureVisible(int(spot.x()), int(spot.y()), 120, 60)

    def _reselect(self) -> None:
        if self.document.selected is not None:
            self.select(self.document.selected)

    # --- collapsing --------------------------------------------------------------------------
    def set_collapsed(self, path: Path, collapse: bool) -> None:
        """Collapse (or expand) the container at path; the view only, the architecture stays as it is."""
        path = tuple(path)
        if not self.document.is_container(path):
            return
        collapsed = self.model.collapsed | {path} if collapse else self.model.collapsed - {path}
        if collapsed != self.model.collapsed:
            self.model.set_collapsed(collapsed)
            self.drawing.set_collapsed(self.model.collapsed)
            self.select(path)

    def collapse_all(self, collapse: bool) -> None:
        self.model.set_collapsed(set(self.model.containers()) if collapse else set())
        self.drawing.set_collapsed(self.model.collapsed)
        selected = self.document.selected
        if selected:
            self.select(selected[:1] if collapse else selected)

    # --- edits -------------------------------------------------------------------------------
    def insertion_point(self) -> Path:
        """Where an entry added from the palette goes: after the selected block (a container: after it
        too), into a selected lane (at its start), at the end when INPUT or nothing is selected."""
        row = self.current_row()
        if row is None or row.role == "input":
            return (len(self.document.arch.layers),)
        if row.role == "container":
            return row.path[:-1] + (row.path[-1] + 1,)
        return row.points[1]

    def add_entry(self, entry: dict) -> None:
        """Add a palette entry ({"type": ...} or {"template": ...}) at the insertion point."""
        point = self.insertion_point()
        if "template" in entry:
            self.document.insert_template(point, entry["template"])
        else:
            self.document.insert_type(point, entry["type"])

    def delete_selected(self) -> None:
        if self.block_selected():
            self.document.delete(self.current_row().path)

    def move_selected(self, step: int) -> None:
        """Move the selected block one place up (step -1) or down (step +1) within its lane."""
        if not self.block_selected():
            return
        path = self.current_row().path
        lane = self.document.arch.lane(path)
        if 0 <= path[-1] + step < len(lane):
            self.document.move(path, path[:-1] + (path[-1] + step + (1 if step > 0 else 0),))

    def duplicate_selected(self) -> None:
        if self.block_selected():
            self.document.duplicate(self.current_row().path)

    def _document_changed(self, arch, inference) -> None:
        self.drawing.collapsed = set(self.model.collapsed)  # where the edit moved them (the model follows shifts)
        self.drawing.set_network(arch, inference)
        self.totals.set_network(arch, inference)
