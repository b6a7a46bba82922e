"""`convviz explain METHOD NET --weights W.npz --data DIR --image N --out result.png`: one method on one
test image (or --file, a picture of any size fitted to the INPUT volume), saved as a PNG; with --json,
one JSON object on the last line (see methods.Explanation).

A weights file carries no normaliser: the one a training run with --val-split and --seed (the
defaults of `convviz train`) fits on the training split of --data is used, which is the run's own
when it was trained that way on the same data. Exit status 0, or 1 for bad input (nothing written).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..data import find_cifar10, load_cifar10, load_data, searched_locations
from ..data.images import read_image
from ..engine import WeightsError
from ..engine.files import read_npz
from ..model import infer
from ..model.presets import resolve_net
from .methods import Options, ImageSet, explain
from .render import figure, write_png
from .subject import Subject, fit_normalizer


def explain_command(args) -> int:
    """Run `convviz explain` for the argparse namespace of cli._add_explain -> exit status."""
    try:
        subject, test, image = _prepare(args)
        options = Options(cls=args.class_, layer=args.layer, filter=args.filter, patch=args.patch, stride=args.stride,
                          epsilon=args.epsilon, steps=args.steps)
        result = explain(subject, args.method, image, options, test)
        write_png(args.out, figure(result, image))
    except (ValueError, OSError) as e:
        print(f"convviz explain: error: {e}", file=sys.stderr)
        return 1
    print(result.caption)
    print(f"Written to {args.out}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_json()))
    return 0


def _prepare(args) -> tuple[Subject, ImageSet, "object"]:
    """Check the flags, load the network, its weights, the data and the image; writes nothing."""
    out = Path(args.out).expanduser()
    if out.is_dir() or not out.resolve().parent.is_dir():
        raise ValueError(f"--out {args.out}: give a file name in an existing folder, such as result.png")
    args.out = str(out)
    arch = resolve_net(args.net)
    inference = infer(arch)
    if not inference.valid:
        raise ValueError(f"{args.net} is not a valid network: {inference.errors[0].message} "
                         f"(see `convviz summary {args.net}`)")
    if args.data:
        data = load_data(args.data, arch.input)  # CIFAR-10, or an image folder fitted to the INPUT volume
    else:
        found = find_cifar10()
        if found is None:
            places = "; ".join(f"{how}: {path}" for how, path in searched_locations())
            raise ValueError(f"CIFAR-10 was not found (looked in {places}): give its folder with --data DIR")
        data = load_cifar10(found.path)
    try:
        state = read_npz(Path(args.weights).expanduser())
    except FileNotFoundError:
        raise ValueError(f"--weights {args.weights}: no such file") from None
    except ValueError as e:
        raise WeightsError(f"cannot read weights file {args.weights}: {e}") from None
    if len(data.label_names) != arch.classes:
        raise ValueError(f"{args.net} ends with {arch.classes} classes, {data.name} has "
                         f"{len(data.label_names)}")
    normalizer = fit_normalizer(data.train_images, args.val_split, args.seed)
    subject = Subject.copied(arch, state, normalizer, data.label_names)
    volume = subject.net.nodes[0].volume
    if args.file:
        return subject, ImageSet(data.test_images, data.test_labels), read_image(Path(args.file).expanduser(), volume)
    n = len(data.test_labels)
    if not 0 <= args.image < n:
        raise ValueError(f"--image {args.image}: the test set has images 0 to {n - 1}")
    image = data.test_images[args.image]
    if image.shape != (volume.depth, volume.height, volume.width):
        raise ValueError(f"{args.net} takes {volume} images, the test images are "
                         f"{image.shape[2]}x{image.shape[1]}x{image.shape[0]}")
    return subject, ImageSet(data.test_images, data.test_labels), image
