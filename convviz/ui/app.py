"""Starts the desktop app: python main.py, or convviz gui."""
from __future__ import annotations

import os
import sys

from PySide6.QtWidgets import QApplication, QMessageBox

from ..paths import RESOURCES, missing_resources

STYLE_SHEET = RESOURCES / "style.qss"
_collector = None  # pyqtgraph's GarbageCollector, once collect_garbage_in_gui_thread() has run


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with ConvViz's names (QSettings uses them), the Fusion style and our style sheet."""
    app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    app.setApplicationName("ConvViz")
    app.setOrganizationName("ConvViz")
    apply_style(app)
    collect_garbage_in_gui_thread()
    return app


def collect_garbage_in_gui_thread() -> None:
    """Run Python's cycle collector on a timer in the GUI thread only (pyqtgraph's GarbageCollector), once
    a QApplication exists. Left automatic, it runs in whichever thread allocates: a worker that frees an
    old widget caught in a reference cycle deletes it in the worker's thread, which deadlocks against the
    GUI thread (seen: a QMenu freed by the data-loading thread)."""
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=1.0)


def apply_style(app: QApplication) -> None:
    """The Fusion style (the same look on every platform) and resources/style.qss."""
    app.setStyle("Fusion")
    if STYLE_SHEET.exists():
        app.setStyleSheet(STYLE_SHEET.read_text(encoding="utf-8"))


def missing_display() -> str | None:
    """Why a window cannot open here (Linux without X11 or Wayland and no platform chosen), else None."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("ConvViz needs a display, and neither DISPLAY nor WAYLAND_DISPLAY is set. Start it from a desktop "
            "session, or on a headless machine under a virtual screen: xvfb-run python3 main.py")


def main(argv: list[str] | None = None) -> int:
    problem = missing_display()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    app = make_application(argv)
    problem = missing_resources()
    if problem:  # said in the terminal and in a window (an app started from a menu has no terminal)
        print(f"convviz: {problem}", file=sys.stderr)
        QMessageBox.critical(None, "ConvViz cannot start", problem)
        return 1
    from .main_window import MainWindow

    window = MainWindow()
    window.show()
    return app.exec()
