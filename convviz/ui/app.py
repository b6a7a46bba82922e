"""Starts the desktop app: python main.py, or convviz gui."""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

STYLE_SHEET = Path(__file__).resolve().parents[2] / "resources" / "style.qss"


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with ConvViz's names (QSettings uses them), the Fusion style and our style sheet."""
    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    app.setApplicationName("ConvViz")
    app.setOrganizationName("ConvViz")
    apply_style(app)
    return app


def apply_style(app: QApplication) -> None:
    """The Fusion style (the same look on every platform) and resources/style.qss."""
    app.setStyle("Fusion")
    if STYLE_SHEET.exists():
        app.setStyleSheet(STYLE_SHEET.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    app = make_application(argv)
    from .main_window import MainWindow

    window = MainWindow()
    window.show()
    return app.exec()
