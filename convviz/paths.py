"""Where ConvViz's own files are, installed or in a source checkout.

An installed package (a wheel, `pip install .`, pipx) carries the presets, icons and style sheet
inside itself, as convviz/resources/ (setup.py copies the repository's top-level resources/ there
when it builds). A source checkout (an editable install, or PYTHONPATH pointing at the repository)
has no such folder and reads resources/ beside the package.
"""
from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]  # the repository, when running from a checkout


def sample_beside(folder: Path) -> Path | None:
    """The CIFAR-10 sample (tests, benchmarks, screenshots) beside folder or beside a folder above it
    (a git worktree in a subfolder), or None."""
    return next((p / "shared" / "cifar10-sample" for p in (folder, *folder.parents)
                 if (p / "shared" / "cifar10-sample").is_dir()), None)


# $CONVVIZ_SAMPLE, else the sample beside the project; where there is none, the place it would be
SAMPLE = Path(os.environ["CONVVIZ_SAMPLE"]) if os.environ.get("CONVVIZ_SAMPLE") else \
    sample_beside(PROJECT.parent) or PROJECT.parent / "shared" / "cifar10-sample"
PARTS = {"presets": "presets/*.json", "icons": "icons/*.svg", "style sheet": "style.qss"}  # what resources/ holds


def _resources() -> Path:
    inside = Path(str(files(__package__) / "resources"))
    if not inside.is_dir() and (PROJECT / "pyproject.toml").is_file() and (PROJECT / "resources").is_dir():
        return PROJECT / "resources"
    return inside  # an installed package; missing_resources() says so when it lacks them


RESOURCES = _resources()  # presets/, icons/, style.qss


def missing_resources(folder: Path = RESOURCES) -> str | None:
    """One line naming what of the presets, icons and style sheet is missing from folder, and how to
    fix it (reinstall), or None when all are there."""
    missing = [name for name, pattern in PARTS.items() if not any(folder.glob(pattern))]
    if not missing:
        return None
    return (f"ConvViz is incompletely installed: no {', no '.join(missing)} in {folder}. "
            "Reinstall it from its wheel or source folder: pip install --force-reinstall PATH")
