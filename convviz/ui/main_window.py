"""The main window: the builder tab first, then the tabs other parts add (the Train dashboard)."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMainWindow, QTabWidget

from ..model import Architecture


class MainWindow(QMainWindow):
    """architectureChanged(Architecture, Inference) is emitted after every edit of the network."""

    architectureChanged = Signal(object, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("ConvViz")
        self.tabs = QTabWidget()
        self.setCentralWidget(self.tabs)
        self._arch = Architecture()
        self._inference = None

    def current_architecture(self) -> Architecture:
        return self._arch.copy()

    def current_inference(self):
        return self._inference
