"""A readable, standalone PyTorch file for an architecture (it imports only torch, numpy and the standard
library): class Net mirroring the tree with the weights file's state_dict keys, load_weights and
save_weights for ConvViz weights files, and a `train` command that trains Net on CIFAR-10 the way
ConvViz does (split, normalisation, augmentation, optimiser, L2 decay, schedule), on a GPU when there is one.

Everything the file says about layers comes from the declarations (LayerType.torch_module, the
containers' torch_module and lanes), about optimisers from the engine (OPTIMIZERS, optim.decays), about
training from the settings the caller gives (a TrainConfig as a dict). The static parts (the helper
modules and the training code) are templates below; nothing here imports torch.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..engine import OPTIMIZERS, compile_plan
from ..engine.files import atomic_write
from ..engine.optim import decays

WIDTH = 110  # lines of the generated file are wrapped at this many characters
TRAINING_KEYS = ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule", "augment",
                 "val_split", "seed", "max_steps")
TORCH_OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adadelta": "Adadelta"}  # engine name -> torch.optim class

# The modules of convviz.export.torch that torch.nn lacks, by the names the declarations give.
HELPERS = {
    "FlattenLinear": '''

class FlattenLinear(nn.Linear):
    """nn.Linear on the input flattened in depth, height, width order, giving (N, units, 1, 1) like
    ConvViz's fc, so the layers after it see 4-d volumes."""

    def forward(self, x):
        return super().forward(x.flatten(1))[:, :, None, None]
''',
    "Residual": '''

class Residual(nn.Module):
    """body(x) + shortcut(x); an empty shortcut passes x through (the identity)."""

    def __init__(self, body, shortcut):
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x):
        return self.body(x) + self.shortcut(x)
''',
    "Concat": '''

class Concat(nn.Module):
    """Every branch gets x; their outputs are stacked along depth (an empty branch passes x through)."""

    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)
''',
}

HEADER = '''"""{title}: a PyTorch model exported by ConvViz {version}.{description}

Input: float32 images (N, {depth}, {height}, {width}), normalised per channel as in training. Output: {classes} class
scores (N, {classes}), the logits; the softmax is left to the loss (nn.CrossEntropyLoss) or to
torch.softmax(scores, dim=1).

    model = Net()
    load_weights(model, "{weights}")  # a ConvViz weights file: keys like "3.body.1.weight"
    model.eval()  # batchnorm uses its running statistics, dropout is off
    scores = model(x)

Train it on CIFAR-10 (on a GPU when there is one) with ConvViz's settings, and write the weights back
as a ConvViz weights file that the app can show:

    python {file} train --data DIR --save-weights trained.npz

(`python {file} train --help` lists the settings and their defaults.)
"""
import argparse
import math
import os
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1
    from numpy.core.multiarray import _reconstruct
'''

WEIGHTS_CODE = '''

def load_weights(model, path):
    """Load a ConvViz weights file (an .npz of arrays keyed like model.state_dict(), "3.body.1.weight",
    without batchnorm's num_batches_tracked) into model; a missing, extra or misshapen array is an error."""
    with np.load(path, allow_pickle=False) as arrays:
        model.load_state_dict({key: torch.from_numpy(arrays[key]) for key in arrays.files})


def save_weights(model, path):
    """Write model's parameters and batchnorm statistics as a ConvViz weights file (float32 arrays keyed
    like the state_dict, without num_batches_tracked), atomically: a temporary file beside path, then
    a rename."""
    arrays = {key: value.detach().cpu().numpy() for key, value in model.state_dict().items()
              if not key.endswith("num_batches_tracked")}
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
'''

TRAINING_CODE = '''

# ---- Training on CIFAR-10, as ConvViz trains ------------------------------------------------------

# ConvViz's training settings{settings_source}: the defaults of the train command
TRAINING = {training}

# Each optimiser and its hyperparameters as ConvViz sets them (lr when TRAINING["lr"] is None)
OPTIMIZERS = {optimizers}

# L2 weight decay applies to these parameters only: the conv and fc weights (not biases, not batchnorm)
DECAYED = {decayed}


# What the CIFAR-10 batches may ask the unpickler for: their NumPy arrays, nothing that runs code
PICKLED_ARRAYS = {{
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,  # NumPy 1's spelling
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
}}


class ArraysOnly(pickle.Unpickler):
    """An unpickler that admits PICKLED_ARRAYS only."""

    def find_class(self, module, name):
        if (module, name) not in PICKLED_ARRAYS:
            raise pickle.UnpicklingError(f"refused to call {{module}}.{{name}}: not a CIFAR-10 batch")
        return PICKLED_ARRAYS[module, name]


def read_batch(path):
    """One python batch of CIFAR-10 -> (uint8 images (n, 3, 32, 32), int64 labels (n,))."""
    if not path.is_file():
        raise SystemExit(f"{{path}}: no such file; --data must hold CIFAR-10's python batches "
                         "(cifar-10-batches-py)")
    with open(path, "rb") as f:
        batch = ArraysOnly(f, encoding="latin1").load()
    batch = {{key.decode("latin1") if isinstance(key, bytes) else key: value for key, value in batch.items()}}
    images = np.asarray(batch["data"], np.uint8).reshape(-1, 3, 32, 32)
    return images, np.asarray(batch["labels"], np.int64)


def read_cifar10(folder):
    """CIFAR-10 from folder or folder/cifar-10-batches-py
    -> (training images, training labels, test images, test labels)."""
    folder = Path(folder).expanduser()
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    parts = [read_batch(folder / f"data_batch_{{k}}") for k in range(1, 6)]
    test_images, test_labels = read_batch(folder / "test_batch")
    train_images, train_labels = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
    return train_images, train_labels, test_images, test_labels


def split_validation(count, held_out, seed):
    """ConvViz's split: held_out of range(count), chosen by seed
    -> (training indices, validation indices), each sorted."""
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[held_out:]), np.sort(order[:held_out])


def channel_statistics(images, indices, chunk=1000):
    """Per-channel mean and standard deviation (pixel units) of images[indices], as ConvViz fits its
    normalisation: exact sums of integers; a constant channel gets a standard deviation of 1."""
    sums, squares = np.zeros(images.shape[1]), np.zeros(images.shape[1])
    for start in range(0, len(indices), chunk):
        x = images[indices[start:start + chunk]].astype(np.float64)
        sums += x.sum(axis=(0, 2, 3))
        squares += np.einsum("nchw,nchw->c", x, x)
    count = len(indices) * images.shape[2] * images.shape[3]
    mean, std = [], []
    for s1, s2 in zip(sums.astype(np.int64).tolist(), squares.astype(np.int64).tolist(), strict=True):
        variance = (count * s2 - s1 * s1) / (count * count)
        mean.append(s1 / count)
        std.append(variance ** 0.5 if variance > 0 else 1.0)
    return np.array(mean), np.array(std)


def augment(images, rng, pad=4):
    """ConvViz's augmentation: random crops of the images zero-padded by pad, random horizontal flips."""
    n, c, h, w = images.shape
    padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad), images.dtype)
    padded[:, :, pad:pad + h, pad:pad + w] = images
    dy = rng.integers(0, 2 * pad + 1, size=n)
    dx = rng.integers(0, 2 * pad + 1, size=n)
    flips = rng.random(n) < 0.5
    out = np.empty_like(images)
    for k in range(n):
        window = padded[k, :, dy[k]:dy[k] + h, dx[k]:dx[k] + w]
        out[k] = window[:, :, ::-1] if flips[k] else window
    return out


def lr_factor(schedule, progress):
    """The multiplier of the base learning rate at progress (epochs done, fractional, / all epochs):
    constant 1; step 1, then 0.1 from half-way and 0.01 from three quarters;
    cosine 0.5 (1 + cos(pi progress))."""
    if schedule == "step":
        return 1.0 if progress < 0.5 else 0.1 if progress < 0.75 else 0.01
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return 1.0


def make_optimizer(model, name, lr, momentum, weight_decay):
    """The optimiser ConvViz would make: its hyperparameters, lr and momentum (if it has one) as given,
    L2 decay on the DECAYED parameters only."""
    optimizer_class, settings = OPTIMIZERS[name]
    settings = dict(settings)
    if lr is not None:
        settings["lr"] = lr
    if "momentum" in settings:
        settings["momentum"] = momentum
    named = list(model.named_parameters())
    groups = [{{"params": [p for key, p in named if key in DECAYED], "weight_decay": weight_decay}},
              {{"params": [p for key, p in named if key not in DECAYED], "weight_decay": 0.0}}]
    return optimizer_class([group for group in groups if group["params"]], **settings)


@torch.no_grad()
def evaluate(model, images, labels, normalise, batch_size=500):
    """Evaluation mode over uint8 images (N, 3, 32, 32) -> (mean cross-entropy, accuracy)."""
    model.eval()
    loss, correct = 0.0, 0
    for start in range(0, len(labels), batch_size):
        x = normalise(images[start:start + batch_size])
        y = torch.from_numpy(labels[start:start + batch_size]).to(x.device)
        scores = model(x)
        loss += nn.functional.cross_entropy(scores, y, reduction="sum").item()
        correct += (scores.argmax(dim=1) == y).sum().item()
    return loss / len(labels), correct / len(labels)


def train(args):
    """Train Net on CIFAR-10 as ConvViz does; print a line and write the weights after every epoch."""
    if INPUT_SHAPE != (3, 32, 32) or CLASSES != 10:
        raise SystemExit(f"this network takes {{INPUT_SHAPE}} (depth, height, width) images of {{CLASSES}} "
                         "classes; CIFAR-10 has (3, 32, 32) images of 10 classes")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    train_images, train_labels, test_images, test_labels = read_cifar10(args.data)
    if not 0 <= args.val_split < len(train_labels):
        raise SystemExit(f"--val-split must be from 0 to {{len(train_labels) - 1}} images, "
                         f"got {{args.val_split}}")
    train_indices, val_indices = split_validation(len(train_labels), args.val_split, args.seed)
    mean, std = channel_statistics(train_images, train_indices)
    print(f"normalisation (pixel units): mean {{np.round(mean, 3).tolist()}}, "
          f"std {{np.round(std, 3).tolist()}}")
    shift = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    scale = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)

    def normalise(images):
        return (torch.from_numpy(np.ascontiguousarray(images)).to(device).float() - shift) / scale

    torch.manual_seed(args.seed)
    model = Net().to(device)
    if args.init_weights:
        load_weights(model, args.init_weights)
    optimizer = make_optimizer(model, args.optimizer, args.lr, args.momentum, args.weight_decay)
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    shuffle_rng = np.random.default_rng([args.seed, 2])
    augment_rng = np.random.default_rng([args.seed, 3])
    batches = -(-len(train_indices) // args.batch_size)
    step = 0
    print(f"training on {{device}}: {{len(train_indices)}} images, {{len(val_indices)}} held out for validation")
    for epoch in range(args.epochs):
        started = time.perf_counter()
        model.train()
        order = shuffle_rng.permutation(train_indices)
        loss_sum = torch.zeros((), device=device)
        correct, seen = torch.zeros((), dtype=torch.long, device=device), 0
        for batch in range(batches):
            factor = lr_factor(args.schedule, (epoch + batch / batches) / args.epochs)
            for group, base_lr in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base_lr * factor
            indices = order[batch * args.batch_size:(batch + 1) * args.batch_size]
            images = augment(train_images[indices], augment_rng) if args.augment else train_images[indices]
            y = torch.from_numpy(train_labels[indices]).to(device)
            scores = model(normalise(images))
            loss = nn.functional.cross_entropy(scores, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(indices)
            correct += (scores.argmax(dim=1) == y).sum()
            seen += len(indices)
            step += 1
            if args.max_steps is not None and step >= args.max_steps:
                break
        train_loss = loss_sum.item() / seen
        if not math.isfinite(train_loss):
            raise SystemExit(f"the loss became {{train_loss}} in epoch {{epoch + 1}}: training diverged; "
                             "try a lower --lr")
        parts = [f"epoch {{epoch + 1}}/{{args.epochs}}",
                 f"train loss {{train_loss:.4f}} acc {{100 * correct.item() / seen:.1f}}%"]
        if len(val_indices):
            val_images, val_labels = train_images[val_indices], train_labels[val_indices]
            val_loss, val_accuracy = evaluate(model, val_images, val_labels, normalise)
            parts.append(f"val loss {{val_loss:.4f}} acc {{100 * val_accuracy:.1f}}%")
        test_loss, test_accuracy = evaluate(model, test_images, test_labels, normalise)
        parts.append(f"test loss {{test_loss:.4f}} acc {{100 * test_accuracy:.1f}}%")
        parts.append(f"{{time.perf_counter() - started:.1f}} s")
        print(" | ".join(parts), flush=True)
        save_weights(model, args.save_weights)
        if args.max_steps is not None and step >= args.max_steps:
            break
    print(f"{{step}} steps; weights written to {{args.save_weights}}")


def main(argv=None):
    parser = argparse.ArgumentParser(description="A network exported by ConvViz.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("train", help="train on CIFAR-10 and write a ConvViz weights file")
    p.add_argument("--data", required=True, help="folder of CIFAR-10's python batches (cifar-10-batches-py)")
    p.add_argument("--epochs", type=int, default=TRAINING["epochs"],
                   help="passes over the data (%(default)s)")
    p.add_argument("--batch-size", type=int, default=TRAINING["batch_size"],
                   help="images per step (%(default)s)")
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default=TRAINING["optimizer"],
                   help="see OPTIMIZERS (%(default)s)")
    p.add_argument("--lr", type=float, default=TRAINING["lr"],
                   help="base learning rate (%(default)s; None takes the optimiser's own, see OPTIMIZERS)")
    p.add_argument("--momentum", type=float, default=TRAINING["momentum"],
                   help="SGD's momentum (%(default)s)")
    p.add_argument("--weight-decay", type=float, default=TRAINING["weight_decay"],
                   help="L2 decay of the DECAYED weights (%(default)s)")
    p.add_argument("--schedule", choices=("constant", "step", "cosine"), default=TRAINING["schedule"],
                   help="how the learning rate falls (%(default)s)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=TRAINING["augment"],
                   help="random crops and horizontal flips (%(default)s)")
    p.add_argument("--val-split", type=int, default=TRAINING["val_split"],
                   help="training images held out for validation (%(default)s)")
    p.add_argument("--seed", type=int, default=TRAINING["seed"],
                   help="of the split, the order and the augmentation (%(default)s)")
    p.add_argument("--max-steps", type=int, default=TRAINING["max_steps"], help="stop after this many steps")
    p.add_argument("--init-weights", help="start from this ConvViz weights file (default: PyTorch's "
                                          "initialisation, the distribution ConvViz uses)")
    p.add_argument("--save-weights", default=f"{{Path(__file__).stem}}-trained.npz",
                   help="the ConvViz weights file written after every epoch (%(default)s)")
    p.add_argument("--device", help="cuda, mps or cpu (default: cuda when there is one)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or (args.max_steps is not None and args.max_steps < 1):
        parser.error("--epochs, --batch-size and --max-steps must be at least 1")
    train(args)


if __name__ == "__main__":
    main()
'''


def torch_source(arch, settings: dict, title: str = "net", weights: str = "weights.npz", file: str = "net.py",
                 settings_source: str = "") -> str:
    """The text of the PyTorch file for arch. settings: ConvViz's training settings (TrainConfig.to_dict());
    title names the network; weights and file are the weights file and this file's names for its usage
    lines; settings_source says where the settings come from (" (from the run ...)"). ValueError (from
    compile_plan) for an architecture that cannot run."""
    from .. import __version__

    plan = compile_plan(arch)
    leaves = {n.path: n for n in plan.nodes if n.op is not None and not n.is_merge}
    merges = {n.path: n for n in plan.nodes if n.is_merge}
    used: set[str] = set()

    def lane(blocks, path: tuple, indent: int) -> list[str]:
        lines = []
        for i, block in enumerate(blocks):
            p = path + (i,)
            if p in merges:
                node = merges[p]
                name = node.op.torch_module()
                used.add(name)
                lines += [f"{' ' * indent}# {node.key} {node.op.name} -> {node.volume}", f"{' ' * indent}{name}("]
                keys = node.op.lane_keys(len(block.lanes))
                for j, (sub, key) in enumerate(zip(block.lanes, keys)):
                    inner = lane(sub, p + (j,), indent + 8)
                    if inner:
                        lines += [f"{' ' * (indent + 4)}# {node.key}.{key}", f"{' ' * (indent + 4)}nn.Sequential(",
                                  *inner, f"{' ' * (indent + 4)}),"]
                    else:
                        lines.append(f"{' ' * (indent + 4)}nn.Sequential(),  # {node.key}.{key}: empty, passes its input through")
                lines.append(f"{' ' * indent}),")
            elif p == (len(arch.layers) - 1,):  # the classifier: the last block, by structure_problems' rule
                lines.append(f"{' ' * indent}# {plan.nodes[-1].key} {plan.nodes[-1].op.name}: left to the loss, or to "
                             "torch.softmax(scores, dim=1)")
            else:
                node = leaves[p]
                name, kwargs = node.op.torch_module(node.hp, node.in_volumes[0])
                if name in HELPERS:
                    used.add(name)
                lines.append(f"{' ' * indent}# {node.key} {node.op.name} -> {node.volume}")
                lines += _call(name if name in HELPERS else f"nn.{name}", kwargs, indent)
        return lines

    body = lane(arch.layers, (), 12)
    vol = plan.nodes[0].volume
    description = f"\n\n{arch.description.strip()}" if getattr(arch, "description", "").strip() else ""
    parts = [HEADER.format(title=title, version=__version__, description=description, depth=vol.depth,
                           height=vol.height, width=vol.width, classes=plan.classes, weights=weights, file=file)]
    parts.append(f"\nINPUT_SHAPE = ({vol.depth}, {vol.height}, {vol.width})  # depth, height, width\n"
                 f"CLASSES = {plan.classes}\n")
    parts += [HELPERS[name] for name in HELPERS if name in used]
    parts.append(f'''

class Net(nn.Sequential):
    """{title}: {vol} images -> {plan.classes} class scores. The comment above each module gives its block's
    key in ConvViz (its parameters are "<key>.weight" ...) and output volume (width x height x depth)."""

    def __init__(self):
        super().__init__(
{chr(10).join(body)}
        )

    def forward(self, x):
        """x: float32 (N, {vol.depth}, {vol.height}, {vol.width}), normalised -> class scores (N, {plan.classes})."""
        return super().forward(x).flatten(1)
''')
    parts.append(WEIGHTS_CODE)
    training = {key: settings[key] for key in TRAINING_KEYS}
    parts.append(TRAINING_CODE.format(settings_source=settings_source, training=_dict_literal(training),
                                      optimizers=_optimizers_literal(), decayed=_set_literal(_decayed(plan))))
    return "".join(parts)


def write_torch_file(arch, path, settings: dict, title: str | None = None, weights: str = "weights.npz",
                     settings_source: str = "") -> None:
    """Write torch_source(...) to path (a .py file), atomically."""
    path = Path(path)
    text = torch_source(arch, settings, title or path.stem, weights, path.name, settings_source)
    with atomic_write(path, text=True) as f:
        f.write(text)


def _call(head: str, kwargs: dict, indent: int) -> list[str]:
    """`head(k=v, ...),` at indent, wrapped at WIDTH with the arguments aligned after the parenthesis."""
    line = f"{' ' * indent}{head}("
    hang, lines = " " * len(line), []
    args = [f"{k}={_literal(v)}" for k, v in kwargs.items()]
    for i, arg in enumerate(args):
        piece = arg + (", " if i < len(args) - 1 else "")
        if len(line) + len(piece.rstrip()) + 2 > WIDTH and not line.endswith("("):
            lines.append(line.rstrip())
            line = hang
        line += piece
    return lines + [line + "),"]


def _optimizers_literal() -> str:
    """{engine optimiser name: (torch.optim class, its keyword arguments)} as Python source, with the
    engine's defaults (weight decay aside: the train command sets it per parameter group)."""
    lines = []
    for name, cls in OPTIMIZERS.items():
        hyper = {}
        for key, value in cls({}).hyper().items():
            if key == "beta1":
                hyper["betas"] = (value, cls({}).hyper()["beta2"])
            elif key not in ("beta2", "weight_decay"):
                hyper[key] = value
        lines.append(f"    {_literal(name)}: (torch.optim.{TORCH_OPTIMIZERS[name]}, {_literal(hyper)}),\n")
    return "{\n" + "".join(lines) + "}"


def _decayed(plan) -> list[str]:
    """The parameter keys ConvViz's optimisers decay (engine.optim.decays), judged on their shapes alone."""
    shapes = {f"{n.key}.{k}": np.broadcast_to(np.float32(0), shape) for n in plan.nodes
              if n.op is not None and not n.is_merge for k, shape in n.op.param_shapes(n.hp, n.in_volumes[0]).items()}
    return [key for key in shapes if decays(key, shapes)]


def _literal(value) -> str:
    """None, a bool, number or string, or a tuple or dict of them, as Python source (strings in double quotes)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_literal, value)) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _dict_literal(d: dict) -> str:
    """A dict as Python source, one entry per line."""
    return "{\n" + "".join(f"    {_literal(k)}: {_literal(v)},\n" for k, v in d.items()) + "}"


def _set_literal(keys: list[str]) -> str:
    """A set of strings as Python source, the entries wrapped at WIDTH."""
    if not keys:
        return "set()"
    lines, line = [], "   "
    for key in keys:
        piece = f" {_literal(key)},"
        if len(line) + len(piece) > WIDTH:
            lines.append(line)
            line = "   "
        line += piece
    return "{\n" + "\n".join(lines + [line]) + "\n}"
