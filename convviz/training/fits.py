"""Whether a network fits a data set: the one rule the trainer, `convviz train` and the app apply
before anything is built; and what is legal but worth a warning about the network, its data and its
batch size."""
from __future__ import annotations

from ..data.cifar import CLASSES as CIFAR10_CLASSES
from ..data.cifar import IMAGE_SHAPE as CIFAR10_SHAPE
from ..data.images import depth_problem
from ..engine.layers import BLOCK_TYPES
from ..engine.tree import walk
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
