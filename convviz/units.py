"""How ConvViz writes sizes and counts for people, one way everywhere (the CLI and the app):
bytes in binary units (B, KiB, MiB, GiB: 1 KiB = 1024 bytes), counts with k/M/G."""
from __future__ import annotations

BYTE_UNITS = ((1 << 10, " KiB"), (1 << 20, " MiB"), (1 << 30, " GiB"))
COUNT_UNITS = ((1e3, "k"), (1e6, "M"), (1e9, "G"))


def _scaled(n: float, units: tuple[tuple[float, str], ...]) -> str:
    """n in the smallest of units (ascending) where it shows as at most 3 significant digits, e.g.
    999,600 -> '1M' rather than '1e+03k'; past the largest unit, whole numbers of it."""
    top, suffix = units[-1]
    if n >= 1000 * top:  # whole numbers of the largest unit, in integers: a crafted size may pass any float
        return f"{int(n) // int(top):,}{suffix}"
    for size, suffix in units:
        value = float(f"{n / size:.3g}")
        if value < 1000:
            return f"{value:g}{suffix}"
    return f"{n / top:,.0f}{suffix}"


def size_bytes(n: int) -> str:
    """A size in bytes: 1536 -> '1.5 KiB', 12_582_912 -> '12 MiB'; under 1 KiB in bytes ('512 B')."""
    return f"{n} B" if n < 1 << 10 else _scaled(n, BYTE_UNITS)


def count(n: int) -> str:
    """A count: 12345678 -> '12.3M'; under 10,000 in full with thousands separators ('9,999')."""
    return f"{n:,}" if n < 1e4 else _scaled(n, COUNT_UNITS)
