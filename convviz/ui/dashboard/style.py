"""Colours, the small style sheet and the side column the dashboard shares with its views and the other tabs."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

ACCENT = (255, 170, 60)
INFO = (90, 160, 255)
WARN = (230, 120, 230)
GOOD = (80, 200, 120)
BAD = (235, 80, 80)
TEXT_DIM = "#8a8f98"
GOOD_CSS = "#3fbf6f"
BAD_CSS = "#e05555"
WARN_CSS = "#e0a040"  # a warning that held earlier


def configure_pyqtgraph() -> None:
    """Row-major images (NumPy's (H, W) order), dark plots; antialiasing only where an item asks
    (it costs GUI time that training would otherwise get)."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, background=(24, 26, 30),
                        foreground=(200, 204, 210))


GROUP_CSS = """
QGroupBox { font-weight: bold; border: 1px solid palette(mid); border-radius: 6px; margin-top: 10px;
            padding: 6px 4px 4px 4px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; }
"""


def side_scroll(column: QWidget) -> QScrollArea:
    """A frameless scroll area holding a tab's side column, as wide as the column needs beside a
    vertical scroll bar: it never needs a horizontal one."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setWidget(column)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(column.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
    return scroll
