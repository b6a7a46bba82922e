"""A page of test images with the predicted label and the top-3 probabilities, green when right,
red when wrong, from the test probabilities of the last epoch."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea,
                               QVBoxLayout, QWidget)

from .style import BAD_CSS, GOOD_CSS, TEXT_DIM
from .thumbs import pixmap_of

PER_PAGE = 32
THUMB = 72
CELL_WIDTH = THUMB + 70
SPACING = 8


class _Cell(QFrame):
    def __init__(self):
        super().__init__()
        self.picture = QLabel()
        self.picture.setFixedSize(THUMB, THUMB)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(3)
        layout.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.text)
        self.setFixedWidth(CELL_WIDTH)
        self.setObjectName("cell")


class PredictionsView(QWidget):
    """set_data(images, labels, names) once; set_probabilities((N, C)) after each epoch."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.images = None
        self.labels = None
        self.names: list[str] = []
        self.probabilities = None
        self.page = 0
        self._dirty = False

        self.caption = QLabel("Predictions appear after the first epoch's test evaluation.")
        self.caption.setStyleSheet(f"color: {TEXT_DIM};")
        self.mistakes_only = QCheckBox("Only mistakes")
        self.mistakes_only.toggled.connect(self._restart)
        self.previous, self.following = QPushButton("◀ Previous"), QPushButton("Next ▶")
        self.previous.clicked.connect(lambda: self._turn(-1))
        self.following.clicked.connect(lambda: self._turn(1))
        bar = QHBoxLayout()
        bar.addWidget(self.caption, 1)
        bar.addWidget(self.mistakes_only)
        bar.addWidget(self.previous)
        bar.addWidget(self.following)

        grid_holder = QWidget()
        self.grid = QGridLayout(grid_holder)
        self.grid.setSpacing(SPACING)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.cells = [_Cell() for _ in range(PER_PAGE)]
        self._columns = 0
        self._place_cells(8)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(grid_holder)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.scroll, 1)
        self._show_cells(0)

    def _place_cells(self, columns: int) -> None:
        """Lay the cells out in rows of columns (re-done when the width changes)."""
        for k, cell in enumerate(self.cells):
            self.grid.addWidget(cell, k // columns, k % columns)
        self._columns = columns

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        columns = max(1, (event.size().width() - 40) // (CELL_WIDTH + SPACING))  # 40: margins and scroll bar
        if columns != self._columns:
            self._place_cells(columns)

    def set_data(self, images: np.ndarray, labels: np.ndarray, names: list[str]) -> None:
        """Test images uint8 (N, 3, H, W), labels (N,), class names."""
        self.images, self.labels, self.names = images, np.asarray(labels), list(names)
        self.probabilities = None
        self._restart()

    def set_probabilities(self, probabilities: np.ndarray) -> None:
        """Test probabilities (n, C) of the first n test images."""
        self.probabilities = np.asarray(probabilities)
        self._dirty = True

    def _restart(self) -> None:
        self.page = 0
        self._dirty = True
        self.refresh(force=True)

    def _turn(self, step: int) -> None:
        self.page += step
        self._dirty = True
        self.refresh(force=True)

    def shown_indices(self) -> np.ndarray:
        """Test indices on the current page."""
        if self.probabilities is None or self.images is None:
            return np.arange(0)
        n = len(self.probabilities)
        order = np.arange(n)
        if self.mistakes_only.isChecked():
            order = order[self.probabilities.argmax(axis=1) != self.labels[:n]]
        pages = max(1, -(-len(order) // PER_PAGE))
        self.page = int(np.clip(self.page, 0, pages - 1))
        return order[self.page * PER_PAGE:(self.page + 1) * PER_PAGE]

    def _show_cells(self, count: int) -> None:
        for k, cell in enumerate(self.cells):
            cell.setVisible(k < count)

    def refresh(self, force: bool = False) -> None:
        if not self._dirty or not (force or self.isVisible()):
            return
        self._dirty = False
        shown = self.shown_indices()
        self._show_cells(len(shown))
        if self.probabilities is None:
            self.previous.setEnabled(False)
            self.following.setEnabled(False)
            return
        n = len(self.probabilities)
        predicted = self.probabilities.argmax(axis=1)
        right = int((predicted == self.labels[:n]).sum())
        for cell, index in zip(self.cells, shown):
            p = self.probabilities[index]
            top = np.argsort(p)[::-1][:3]
            ok = top[0] == self.labels[index]
            colour = GOOD_CSS if ok else BAD_CSS
            cell.setStyleSheet(f"QFrame#cell {{ border: 2px solid {colour}; border-radius: 6px; }}")
            cell.picture.setPixmap(pixmap_of(self.images[index], THUMB))
            lines = [f"<b style='color:{colour}'>{self.names[top[0]]}</b>"
                     + ("" if ok else f"<br><span style='color:{TEXT_DIM}'>true: {self.names[self.labels[index]]}</span>")]
            lines += [f"<span style='font-size:small'>{self.names[c]} {p[c]:.0%}</span>" for c in top]
            cell.text.setText("<br>".join(lines))
            cell.setToolTip(f"test image #{index}")
        first = self.page * PER_PAGE
        self.caption.setText(f"Test accuracy {right / n:.1%} ({right} of {n}) · showing "
                             f"{first + 1 if len(shown) else 0}–{first + len(shown)}"
                             f"{' of the mistakes' if self.mistakes_only.isChecked() else ''}")
        self.previous.setEnabled(self.page > 0)
        self.following.setEnabled(first + len(shown) < (n if not self.mistakes_only.isChecked() else n - right))
