"""The desktop app's resume files: one checkpoint per run in <app data folder>/runs/, replaced at every
epoch end and deleted when the run ends in the app. A file still there when the app starts is a run
that was interrupted (the window closed with "stop and save", the app or the machine died): the app
offers to continue it.

The file name carries the id of the process that writes it, so neither the app itself nor a second
copy of it running at the same time offers to take over a run that is going on (checked where the
platform can tell whether a process lives: not on Windows, where other processes' files are offered)."""
from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

from ..data.locate import app_data_dir
from .checkpoint import CheckpointError, read_meta

PREFIX = "run-"


def runs_folder() -> Path:
    """<app data folder>/runs (not created here)."""
    return app_data_dir() / "runs"


def new_run_path() -> Path:
    """A fresh file name for a run started now by this process: runs/run-20250503-143210-4242.npz."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = runs_folder() / f"{PREFIX}{stamp}-{os.getpid()}.npz"
    n = 1
    while path.exists():  # two runs started within a second
        n += 1
        path = runs_folder() / f"{PREFIX}{stamp}-{os.getpid()}-{n}.npz"
    return path


def interrupted_runs() -> list[Path]:
    """The resume files of runs no living copy of the app is training, newest first."""
    try:
        files = [p for p in runs_folder().glob(f"{PREFIX}*.npz") if p.is_file()]
    except OSError:  # an unreadable folder holds nothing we can resume
        return []
    return sorted((p for p in files if not _writer_alive(p)), key=_modified, reverse=True)


def describe_run(path: Path) -> str:
    """'step 2,346 (3 of 10 epochs done), saved 14:32 on 3 May 2025', or why the file is unreadable."""
    saved = datetime.fromtimestamp(_modified(path)).strftime("%H:%M on %d %b %Y")
    try:
        meta = read_meta(path)
        position, epochs = meta["position"], meta["config"]["epochs"]
        return f"step {int(position['step']):,} ({int(position['epoch'])} of {int(epochs)} epochs done), saved {saved}"
    except (CheckpointError, KeyError, TypeError, ValueError) as e:
        return f"saved {saved}, but it cannot be read: {e}"


def discard_run(path: Path) -> None:
    """Delete a resume file (a missing one is fine)."""
    Path(path).unlink(missing_ok=True)


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _writer_alive(path: Path) -> bool:
    """True when the file belongs to a process that is still running (this one included)."""
    parts = path.stem.split("-")
    if len(parts) < 4 or not parts[3].isdigit():
        return False
    pid = int(parts[3])
    if pid == os.getpid():
        return True
    if os.name == "nt":
        return False  # os.kill(pid, 0) would send that process a Ctrl-C there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True
