"""The confusion matrix on the test split after each epoch; clicking a cell lists its images."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QBrush, QColor, QIcon
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QListWidget, QListWidgetItem,
                               QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from .style import TEXT_DIM
from .thumbs import pixmap_of

THUMB = 56
MAX_LISTED = 300


class ConfusionView(QWidget):
    """Rows: true class; columns: predicted class. set_epoch(EpochEvent) after each evaluation."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.images = None
        self.labels = None
        self.names: list[str] = []
        self.confusion = None
        self.predicted = None
        self.per_class = None
        self.epoch = 0
        self._dirty = False

        self.caption = QLabel("The confusion matrix appears after the first epoch's test evaluation. "
                              "Click a cell to see its images.")
        self.caption.setStyleSheet(f"color: {TEXT_DIM};")
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        small = self.table.horizontalHeader().font()
        small.setPointSizeF(small.pointSizeF() * 0.85)  # "automobile" fits a column of a 10x10 matrix
        self.table.horizontalHeader().setFont(small)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.cellClicked.connect(self.show_cell)
        self.cell_title = QLabel("No cell selected.")
        self.cell_title.setWordWrap(True)
        self.cell_images = QListWidget()
        self.cell_images.setViewMode(QListWidget.ViewMode.IconMode)
        self.cell_images.setIconSize(QSize(THUMB, THUMB))
        self.cell_images.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.cell_images.setGridSize(QSize(THUMB + 24, THUMB + 34))
        self.cell_images.setMovement(QListWidget.Movement.Static)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.cell_title)
        side_layout.addWidget(self.cell_images, 1)
        splitter = QSplitter()
        splitter.addWidget(self.table)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([1000, 240])
        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)

    def set_data(self, images: np.ndarray, labels: np.ndarray, names: list[str]) -> None:
        """Test images uint8 (N, 3, H, W), labels (N,), class names."""
        self.images, self.labels, self.names = images, np.asarray(labels), list(names)
        self.confusion = self.predicted = None
        self.table.clear()
        self.cell_images.clear()

    def set_epoch(self, event) -> None:
        """Uses event.confusion (C, C), event.per_class_accuracy (C,), event.test_probabilities (n, C)."""
        if event.confusion is None:
            return
        self.confusion = np.asarray(event.confusion)
        self.per_class = np.asarray(event.per_class_accuracy)
        probs = event.test_probabilities
        self.predicted = None if probs is None else np.asarray(probs).argmax(axis=1)
        self.epoch = event.epoch
        self._dirty = True

    def refresh(self, force: bool = False) -> None:
        if not self._dirty or not (force or self.isVisible()) or self.confusion is None:
            return
        self._dirty = False
        c = len(self.confusion)
        names = self.names if len(self.names) == c else [str(k) for k in range(c)]
        self.table.setRowCount(c)
        self.table.setColumnCount(c)
        self.table.setHorizontalHeaderLabels(names)
        self.table.setVerticalHeaderLabels([f"{n} ({a:.0%})" for n, a in zip(names, self.per_class)])
        row_totals = np.maximum(self.confusion.sum(axis=1, keepdims=True), 1)
        share = self.confusion / row_totals
        for r in range(c):
            for k in range(c):
                item = self.table.item(r, k)
                if item is None:
                    item = QTableWidgetItem()
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    self.table.setItem(r, k, item)
                item.setText(str(int(self.confusion[r, k])))
                strength = float(share[r, k])
                base = (60, 170, 100) if r == k else (220, 80, 70)
                item.setBackground(QBrush(QColor(*base, int(30 + 200 * strength))))
                item.setToolTip(f"true {names[r]}, predicted {names[k]}: {int(self.confusion[r, k])} images "
                                f"({strength:.0%} of the {names[r]} images)")
        total = int(self.confusion.sum())
        right = int(np.trace(self.confusion))
        self.caption.setText(f"After epoch {self.epoch + 1}: {right} of {total} test images right ({right / max(total, 1):.1%}). "
                             "Rows: true class · columns: predicted class · click a cell to see its images.")

    def cell_indices(self, true_class: int, predicted_class: int) -> np.ndarray:
        """Test indices whose true class is true_class and prediction predicted_class."""
        if self.predicted is None or self.labels is None:
            return np.arange(0)
        n = len(self.predicted)
        return np.flatnonzero((self.labels[:n] == true_class) & (self.predicted == predicted_class))

    def show_cell(self, row: int, column: int) -> None:
        indices = self.cell_indices(row, column)
        names = self.names
        self.cell_title.setText(f"<b>{len(indices)}</b> test images of class <b>{names[row]}</b> predicted as "
                                f"<b>{names[column]}</b>" + (f" (first {MAX_LISTED} shown)" if len(indices) > MAX_LISTED else ""))
        self.cell_images.clear()
        for index in indices[:MAX_LISTED]:
            item = QListWidgetItem(QIcon(pixmap_of(self.images[index], THUMB)), f"#{index}")
            item.setToolTip(f"test image #{index}")
            self.cell_images.addItem(item)
