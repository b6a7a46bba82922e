"""Whether a network fits a data set: the one rule the trainer, `convviz train` and the app apply
before anything is built."""
from __future__ import annotations

from ..data.cifar import CLASSES as CIFAR10_CLASSES
from ..data.cifar import IMAGE_SHAPE as CIFAR10_SHAPE
from ..data.images import depth_problem
from ..model.spec import Architecture


def data_problem(arch: Architecture, data=None, refit: bool = False) -> str | None:
    """Why arch cannot train on data (a Cifar10 or an ImageFolder; None: the CIFAR-10 still to be
    loaded), as one sentence with its fix, or None. refit: data that can be loaded again at another
    INPUT volume (an image folder) will be, so only its depth and classes must fit."""
    name = data.name if data is not None else "CIFAR-10"
    depth, height, width = data.train_images.shape[1:] if data is not None else CIFAR10_SHAPE
    classes = len(data.label_names) if data is not None else CIFAR10_CLASSES
    given = arch.input
    resizable = data is not None and data.resizable
    if refit and resizable:
        if problem := depth_problem(given.depth):
            return f"The pictures in {name}: {problem}."
    elif (given.width, given.height, given.depth) != (width, height, depth):
        images = f"The pictures in {name} (as loaded)" if resizable else f"{name} images"
        return (f"{images} are {width}x{height}x{depth}, but the INPUT block is {given}: "
                f"set it to {width}x{height}x{depth}.")
    if arch.classes != classes:
        return (f"The network ends with {arch.classes} classes, {name} has {classes}: set the number of classes "
                f"(INPUT block) and the last FC layer's units to {classes}.")
    return None
