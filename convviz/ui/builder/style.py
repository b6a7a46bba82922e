"""Colours by layer kind, icons, and number formatting shared by the builder's widgets."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtGui import QColor, QIcon

ICONS = Path(__file__).resolve().parents[3] / "resources" / "icons"

KIND_COLOURS = {  # the engine's LayerType.kind -> block colour
    "input": "#5b6b7f",
    "conv": "#2f7fd1",
    "pool": "#1e9e8f",
    "activation": "#e08a1e",
    "regularizer": "#8a63c9",
    "dense": "#c9487a",
    "classifier": "#4f9a3a",
}
ERROR = QColor("#d64541")
WARNING = QColor("#d99a0b")


def kind_colour(kind: str) -> QColor:
    return QColor(KIND_COLOURS.get(kind, "#7a7a7a"))


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """resources/icons/<name>.svg (a layer type, "input" or "convviz"); an empty icon if missing."""
    path = ICONS / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def count(n: int) -> str:
    """12345678 -> '12.3M'; small numbers in full with thousands separators."""
    for threshold, unit, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if n >= threshold:
            return f"{n / unit:.3g}{suffix}"
    return f"{n:,}"


def size_bytes(n: int) -> str:
    for limit, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= limit:
            return f"{n / limit:.3g} {suffix}"
    return f"{n} B"
