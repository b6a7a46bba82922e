"""Colours by layer kind, icons, and number formatting shared by the builder's widgets."""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtGui import QColor, QIcon

from ...paths import RESOURCES

ICONS = RESOURCES / "icons"

KIND_COLOURS = {  # the engine's LayerType.kind -> block colour
    "input": "#5b6b7f",
    "conv": "#2f7fd1",
    "pool": "#1e9e8f",
    "activation": "#e08a1e",
    "regularizer": "#8a63c9",
    "dense": "#c9487a",
    "classifier": "#4f9a3a",
    "container": "#56657a",
}
ERROR = QColor("#d64541")
WARNING = QColor("#d99a0b")
FAULT_BACKGROUNDS = {"error": QColor("#f8dcdc"), "warning": QColor("#fbefcf")}  # tints of ERROR, WARNING for fields


@lru_cache(maxsize=None)
def kind_colour(kind: str) -> QColor:
    """The colour of a kind of block (shared: copy it before changing it)."""
    return QColor(KIND_COLOURS.get(kind, "#7a7a7a"))


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """resources/icons/<name>.svg (a layer type, "input" or "convviz"); an empty icon if missing."""
    path = ICONS / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()
