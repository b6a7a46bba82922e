"""Where CIFAR-10 lives: the app's data folder, and the places searched for an existing copy."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NamedTuple

from .cifar import dataset_folder

APP_NAME = "ConvViz"


class Found(NamedTuple):
    """path: the dataset folder (cifar-10-batches-py/ or -bin/); how: where it was found, for the user."""

    path: Path
    how: str


def app_data_dir() -> Path:
    """The app's own data folder: $CONVVIZ_HOME if set, else the platform user data dir
    (Linux $XDG_DATA_HOME/ConvViz or ~/.local/share/ConvViz, macOS ~/Library/Application Support/ConvViz,
    Windows %APPDATA%\\ConvViz). Not created here."""
    if os.environ.get("CONVVIZ_HOME"):
        return Path(os.environ["CONVVIZ_HOME"]).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / APP_NAME
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg and os.path.isabs(xdg) else home / ".local" / "share") / APP_NAME


def searched_locations(explicit=None) -> list[tuple[str, Path]]:
    """(how, folder) in search order: the explicit folder, $CONVVIZ_DATA, the app data folder, then
    where other tools leave CIFAR-10 (Keras ~/.keras/datasets, torchvision ./data, ~/.cache)."""
    places = []
    if explicit:
        places.append(("the folder you chose", Path(explicit).expanduser()))
    if os.environ.get("CONVVIZ_DATA"):
        places.append(("$CONVVIZ_DATA", Path(os.environ["CONVVIZ_DATA"]).expanduser()))
    places.append(("the ConvViz data folder", app_data_dir()))
    home = Path.home()
    places += [("Keras's dataset folder", home / ".keras" / "datasets"),
               ("./data (torchvision's default)", Path.cwd() / "data"),
               ("~/.cache", home / ".cache")]
    return places


def find_cifar10(explicit=None) -> Found | None:
    """The first searched location holding a complete CIFAR-10 (python or binary layout), or None."""
    for how, folder in searched_locations(explicit):
        try:
            found = dataset_folder(folder)
        except OSError:  # an unreadable folder is just not a hit
            continue
        if found is not None:
            return Found(found[0], f"{how} ({folder})")
    return None
