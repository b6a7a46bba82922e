"""Whether a network fits a data set: its input volume and its number of classes against the data's
images and classes. The one rule the CLI, the trainer and the app check before anything is built;
it reads only the architecture's declared input and classes (shape inference checks that the layers
end in 1x1xclasses)."""
from __future__ import annotations

from ..engine import Volume
from ..engine.layers import BLOCK_TYPES
from ..engine.tree import walk
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


def batch_warnings(arch, batch_size: int, train_images: int) -> list[str]:
    """Legal but worth saying before training: blocks that normalise over the images of a batch
    (batchnorm) trained on batches of one image learn next to nothing (the network stays near chance),
    whether every batch holds one image or only each epoch's last."""
    coupled = [f"{s.label} ({BLOCK_TYPES[s.block.type].title})" for s in walk(arch.layers)
               if isinstance(s.block.type, str) and getattr(BLOCK_TYPES.get(s.block.type), "couples_batch", False)]
    if not coupled:
        return []
    blocks = f"block{'s' * (len(coupled) > 1)} {', '.join(coupled)}"
    if batch_size == 1:
        return [f"With batch size 1, {blocks} normalise{'s' * (len(coupled) == 1)} each image by itself while "
                "training, so the network learns next to nothing and stays near chance: use a batch size of "
                "16 or more."]
    if train_images % batch_size == 1 and train_images > 1:
        better = next(b for b in range(batch_size + 1, batch_size + train_images) if train_images % b != 1)
        return [f"The last batch of each epoch holds a single image ({train_images} training images in batches "
                f"of {batch_size}), which {blocks} cannot normalise: it pulls the running statistics off. "
                f"Use a batch size of {better}, or hold out one more image for validation."]
    return []
