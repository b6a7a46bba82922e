"""Starts the desktop app."""
from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication, QMainWindow


def main(argv: list[str] | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    app.setApplicationName("ConvViz")
    app.setOrganizationName("ConvViz")
    window = QMainWindow()
    window.setWindowTitle("ConvViz")
    window.resize(1280, 800)
    window.show()
    return app.exec()
