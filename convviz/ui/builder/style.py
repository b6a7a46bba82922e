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


def kind_colour(kind: str) -> QColor:
    return QColor(KIND_COLOURS.get(kind, "#7a7a7a"))


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """resources/icons/<name>.svg (a layer type, "input" or "convviz"); an empty icon if missing."""
    path = ICONS / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def _scaled(n: float, units: tuple[tuple[float, str], ...]) -> str:
    """n in the smallest of units (ascending) where it shows as at most 3 significant digits, e.g.
    999,600 -> '1M' rather than '1e+03k'."""
    for size, suffix in units:
        value = float(f"{n / size:.3g}")
        if value < 1000:
            return f"{value:g}{suffix}"
    size, suffix = units[-1]
    return f"{n / size:,.0f}{suffix}"


def count(n: int) -> str:
    """12345678 -> '12.3M'; small numbers in full with thousands separators."""
    return f"{n:,}" if n < 1e4 else _scaled(n, ((1e3, "k"), (1e6, "M"), (1e9, "G")))


def size_bytes(n: int) -> str:
    """1536 -> '1.5 KiB'; under 1 KiB in bytes."""
    return f"{n} B" if n < 1 << 10 else _scaled(n, ((1 << 10, " KiB"), (1 << 20, " MiB"), (1 << 30, " GiB")))
