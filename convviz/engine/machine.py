"""What this machine has for the engine's arrays: the memory available now."""
from __future__ import annotations

import os


def available_memory() -> int | None:
    """Bytes of memory available now (Linux's MemAvailable, which counts reclaimable caches; else the
    free pages), or None where neither can be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not on every system
        return None
