"""Where ConvViz's own files are, installed or in a source checkout.

An installed package (a wheel, `pip install .`, pipx) carries the presets, icons and style sheet
inside itself, as convviz/resources/ (setup.py copies the repository's top-level resources/ there
when it builds). A source checkout (an editable install, or PYTHONPATH pointing at the repository)
has no such folder and reads resources/ beside the package.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]  # the repository, when running from a checkout
# the CIFAR-10 sample beside the project (tests, benchmarks, screenshots), or beside a folder above it
# (a git worktree in a subfolder); where there is none, the place it would be
SAMPLE = next((p / "shared" / "cifar10-sample" for p in PROJECT.parents if (p / "shared" / "cifar10-sample").is_dir()),
              PROJECT.parent / "shared" / "cifar10-sample")
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
