"""Preset architectures: resources/presets/<name>.json, loadable by name."""
from __future__ import annotations

from pathlib import Path

from ..paths import RESOURCES, missing_resources
from .io import load_architecture
from .spec import Architecture

PRESET_DIR = RESOURCES / "presets"
TEACHING_ORDER = ("seed", "convnetjs", "vgg-cifar", "alexnet-cifar", "lenet5", "alexnet", "zfnet", "vgg16")


def preset_names() -> list[str]:
    """The presets' names: the CIFAR-10 nets that train here, then the case studies, then any others."""
    found = {p.stem for p in PRESET_DIR.glob("*.json")}
    return [n for n in TEACHING_ORDER if n in found] + sorted(found - set(TEACHING_ORDER))


def _listing() -> str:
    """'the presets are seed, convnetjs, ...', or what is missing when the install lacks them."""
    names = preset_names()
    return f"the presets are {', '.join(names)}" if names else missing_resources(RESOURCES) or "there are no presets"


def load_preset(name: str) -> Architecture:
    """The preset called name; ValueError listing the presets when there is none."""
    if name not in preset_names():
        raise ValueError(f"no preset named {name!r}; {_listing()}")
    return load_architecture(PRESET_DIR / f"{name}.json")


def resolve_net(name_or_path) -> Architecture:
    """A preset name or an architecture JSON file. Raises ArchitectureFileError (a ValueError) for a
    bad file, ValueError when it is neither a preset nor a file."""
    text = str(name_or_path)
    if text in preset_names():
        return load_preset(text)
    path = Path(text)
    if path.is_file():
        return load_architecture(path)
    raise ValueError(f"{text!r} is neither a preset nor an existing file; {_listing()}")
