"""Preset architectures: resources/presets/<name>.json, loadable by name, each in a group (its file's
"group": "train", the CIFAR-10 networks that train here, or "reference", the case studies to view)."""
from __future__ import annotations

from pathlib import Path

from ..paths import RESOURCES, missing_resources
from .io import load_architecture
from .spec import GROUPS, Architecture

PRESET_DIR = RESOURCES / "presets"
TEACHING_ORDER = ("seed", "convnetjs", "vgg-cifar", "alexnet-cifar", "resnet20", "resnet56", "lenet5", "alexnet", "zfnet",
                  "vgg16", "googlenet", "resnet18", "resnet34")


def preset_names() -> list[str]:
    """The presets' names: the CIFAR-10 nets that train here, then the case studies, then any others."""
    found = {p.stem for p in PRESET_DIR.glob("*.json")}
    return [n for n in TEACHING_ORDER if n in found] + sorted(found - set(TEACHING_ORDER))


def _listing() -> str:
    """'the presets are seed, convnetjs, ...', or what is missing when the install lacks them."""
    names = preset_names()
    return f"the presets are {', '.join(names)}" if names else missing_resources(RESOURCES) or "there are no presets"


def preset_groups() -> list[tuple[str, list[str]]]:
    """The presets by group, for the Presets menu: [(title, names in preset_names() order)], in the order
    of spec.GROUPS ("Train on CIFAR-10", then "Reference networks (view only)"); a preset without a group
    last, under "Other"."""
    names = preset_names()
    group = {name: load_preset(name).group for name in names}
    listed = [(title, [n for n in names if group[n] == key]) for key, title in GROUPS.items()]
    listed.append(("Other", [n for n in names if group[n] not in GROUPS]))
    return [(title, members) for title, members in listed if members]


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
