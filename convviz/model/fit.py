"""Whether a network fits a data set: its input volume and its number of classes against the data's
images and classes. The one rule the CLI, the trainer and the app check before anything is built;
it reads only the architecture's declared input and classes (shape inference checks that the layers
end in 1x1xclasses)."""
from __future__ import annotations

from ..engine import Volume
from .presets import load_preset, preset_names


def fit_problem(arch, volume: Volume, classes: int, data_name: str = "the data",
                net_name: str = "The network") -> str | None:
    """None when arch takes volume images and ends with classes classes, else one sentence saying what
    does not fit and how to fix it. volume: the data's image volume (width, height, depth)."""
    volume = Volume(*volume)
    wrong, fixes = [], []
    if tuple(arch.input) != tuple(volume):
        wrong.append(f"it takes {Volume(*arch.input)} images but {data_name}'s are {volume}")
        fixes.append(f"set its input to {volume} and adapt the layers that no longer fit")
    if arch.classes != classes:
        wrong.append(f"it ends with {arch.classes} classes but {data_name} has {classes}")
        fixes.append(f"give its last fc layer {classes} units (classes {classes})")
    if not wrong:
        return None
    fitting = presets_fitting(volume, classes)
    instead = f" Or train a preset made for {data_name}: {', '.join(fitting)}." if fitting else ""
    return f"{net_name} does not fit {data_name}: {', and '.join(wrong)}. To fix it: {'; '.join(fixes)}.{instead}"


def presets_fitting(volume: Volume, classes: int) -> list[str]:
    """The presets that take volume images and end with classes classes, in teaching order."""
    fitting = []
    for name in preset_names():
        try:
            arch = load_preset(name)
        except ValueError:
            continue
        if tuple(arch.input) == tuple(volume) and arch.classes == classes:
            fitting.append(name)
    return fitting
