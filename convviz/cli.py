"""The command line: convviz {summary, train, check, explain, export, convert, download, bench, gui}.
Each command is a thin wrapper over the package that does the work; every handler returns the exit status."""
from __future__ import annotations

import argparse
import sys

from . import __version__
from .engine import OPTIMIZERS  # loaded with the package anyway; the heavier subpackages load per command
from .paths import missing_resources

BENCH_SECTIONS = ("engine", "model", "data", "training", "interpret", "lessons", "memory", "stop", "ui")
WITHOUT_RESOURCES = {"download"}  # the commands that need no presets, icons or style sheet


class Parser(argparse.ArgumentParser):
    """argparse that exits with status 1 (not 2) on a bad flag, like every other refusal of convviz."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def _summary(args) -> int:
    from .model.summary import summary_command

    if args.batch is not None and args.batch < 1:
        print(f"convviz summary: error: --batch must be at least 1, got {args.batch}", file=sys.stderr)
        return 1
    return summary_command(args.net, as_json=args.json, batch=args.batch)


def _train(args) -> int:
    from .training.command import train_command

    return train_command(args)


def _check(args) -> int:
    from .training.command import check_command

    return check_command(args)


def _explain(args) -> int:
    from .interpret.command import explain_command

    return explain_command(args)


def _convert(args) -> int:
    from .model.convert import convert_command

    return convert_command(args)


def _download(args) -> int:
    from .data.download import download_command

    return download_command(args.dir)


def _export(args) -> int:
    from .export.command import export_command
    from .training import TrainConfig
    from .training.run_weights import weights_and_settings

    return export_command(args, TrainConfig().to_dict(), weights_and_settings)


def _bench(args) -> int:
    import importlib

    for section in args.only or BENCH_SECTIONS:
        module = "convviz.ui.bench" if section == "ui" else f"convviz.benchmarks.{section}"
        importlib.import_module(module).run(quick=args.quick)
    return 0


def _gui(args) -> int:
    from .ui.app import main as gui_main

    return gui_main([sys.argv[0]])


def _add_train(sub) -> None:
    from .training.config import SCHEDULES, TrainConfig

    default = TrainConfig()  # the defaults the app's Train tab starts from too
    p = sub.add_parser("train", help="train a network on CIFAR-10 or your own pictures in the terminal")
    p.add_argument("net", help="architecture JSON file or preset name")
    p.add_argument("--data", help="folder holding CIFAR-10, or an image folder: one subfolder of pictures per class, "
                                  "fitted to the INPUT block (default: search the usual places for CIFAR-10)")
    p.add_argument("--epochs", type=int, default=default.epochs, help="total epochs (with --resume: including those done)")
    p.add_argument("--batch-size", type=int, default=default.batch_size)
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default=default.optimizer)
    p.add_argument("--lr", type=float, default=default.lr, help="learning rate (default: the optimizer's)")
    p.add_argument("--momentum", type=float, default=default.momentum)
    p.add_argument("--weight-decay", type=float, default=default.weight_decay, help="L2 weight decay")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=default.augment,
                   help="random crops and flips of the training images")
    p.add_argument("--val-split", type=int, default=default.val_split, help="training images held out for validation")
    p.add_argument("--seed", type=int, default=default.seed)
    p.add_argument("--max-steps", type=int, default=default.max_steps, help="stop after this many steps")
    p.add_argument("--schedule", choices=SCHEDULES, default=default.schedule)
    p.add_argument("--init-weights", help="start from this weights .npz")
    p.add_argument("--save-weights", help="write the trained weights to this .npz")
    p.add_argument("--checkpoint", help="write a checkpoint here after every epoch and on stop")
    p.add_argument("--resume", help="continue from this checkpoint, with its settings (--epochs and --max-steps still apply)")
    p.add_argument("--metrics", help="write the per-step and per-epoch metrics to this CSV file (after every epoch and at the end)")
    p.add_argument("--health", metavar="FILE.csv", help="write each layer's training health to this CSV table "
                   "(update/weight ratio, ReLU units that never fire, weight and gradient percentiles, hints)")
    p.add_argument("--health-rate", type=float, default=1.0, help="health samples per second of training (default 1)")
    p.add_argument("--json", action="store_true", help="end with one line of JSON results")
    p.set_defaults(run=_train)


def _add_check(sub) -> None:
    p = sub.add_parser("check", help="sanity checks before training: the initial loss against ln C, overfitting 20 "
                                     "images, a numerical gradient check (exit 0 when all pass)")
    p.add_argument("net", help="architecture JSON file or preset name")
    p.add_argument("--data", help="folder holding CIFAR-10, or an image folder (default: search for CIFAR-10)")
    p.add_argument("--weights", help="gradient-check these weights (.npz) instead of the untrained network")
    p.add_argument("--seed", type=int, default=0, help="initialisation and choice of images")
    p.add_argument("--json", action="store_true", help="end with one line of JSON results")
    p.set_defaults(run=_check)


def _add_explain(sub) -> None:
    from .interpret.catalogue import METHODS

    p = sub.add_parser("explain", help="explain a trained network's decision on one test image (saliency, "
                                       "Grad-CAM, occlusion, attacks, ...) and save it as a PNG")
    p.add_argument("method", choices=tuple(METHODS), metavar="METHOD", help=", ".join(METHODS))
    p.add_argument("net", help="architecture JSON file or preset name")
    p.add_argument("--weights", required=True, help="the trained weights .npz (convviz train --save-weights)")
    p.add_argument("--data", help="folder holding CIFAR-10 or an image folder (default: search for CIFAR-10)")
    p.add_argument("--image", type=int, default=0, help="test image index (default 0)")
    p.add_argument("--file", help="explain this picture (PNG, JPEG, ...) instead of a test image")
    p.add_argument("--class", dest="class_", type=int, default=None,
                   help="class to explain (default: the predicted one); for targeted: the target")
    p.add_argument("--layer", help="conv layer by path, e.g. 6 or 3.body[1] (default: the last conv layer)")
    p.add_argument("--filter", type=int, default=0, help="filter of --layer, for top-images")
    p.add_argument("--patch", type=int, default=8, help="occlusion patch side in pixels")
    p.add_argument("--stride", type=int, default=2, help="occlusion step in pixels")
    p.add_argument("--epsilon", type=float, default=8.0, help="attack size per pixel, in /255 units")
    p.add_argument("--steps", type=int, default=None, help="gradient ascent steps (class-model, deepdream)")
    p.add_argument("--val-split", type=int, default=500,
                   help="the training run's validation split, to fit its normaliser (default: train's)")
    p.add_argument("--seed", type=int, default=0, help="the training run's seed, to fit its normaliser")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--json", action="store_true", help="end with one line of JSON: predicted, class, input, map")
    p.set_defaults(run=_explain)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="convviz", description="Build, check, train and watch ConvNets on CIFAR-10.")
    parser.add_argument("--version", action="version", version=f"convviz {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = sub.add_parser("summary", help="print every layer's volume, parameters and cost, or the errors")
    p.add_argument("net", help="architecture JSON file or preset name")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--batch", type=int, metavar="N", help="also estimate the memory training takes at batch size N")
    p.set_defaults(run=_summary)
    _add_train(sub)
    _add_check(sub)
    _add_explain(sub)
    p = sub.add_parser("export", help="write a network as a standalone PyTorch file or an ONNX model")
    p.add_argument("net", help="architecture JSON file or preset name")
    p.add_argument("out", help="the file to write: OUT.py (PyTorch) or OUT.onnx")
    p.add_argument("--to", choices=("torch", "onnx"), help="the format (default: from OUT's suffix)")
    p.add_argument("--weights", help="a weights .npz for the network (convviz train --save-weights) or a "
                                     "checkpoint (its run's settings become the PyTorch file's defaults)")
    p.set_defaults(run=_export)
    p = sub.add_parser("convert", help="turn every fc layer into the conv layer that computes the same numbers, "
                                       "carrying trained weights over")
    p.add_argument("net", help="architecture JSON file or preset name")
    p.add_argument("--out", required=True, help="the converted architecture JSON to write")
    p.add_argument("--weights", help="the trained weights .npz of NET (convviz train --save-weights)")
    p.add_argument("--out-weights", help="where to write the converted weights .npz")
    p.set_defaults(run=_convert)
    p = sub.add_parser("download", help="download CIFAR-10 with a progress bar")
    p.add_argument("--dir", help="folder to put it in (default: the app's data folder)")
    p.set_defaults(run=_download)
    p = sub.add_parser("bench", help="print speed figures of the engine, model, data, training and UI")
    p.add_argument("--only", nargs="+", choices=BENCH_SECTIONS, help="run only these sections")
    p.add_argument("--quick", action="store_true", help="fewer repetitions")
    p.set_defaults(run=_bench)
    sub.add_parser("gui", help="start the desktop app").set_defaults(run=_gui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = None if args.command in WITHOUT_RESOURCES else missing_resources()
    if problem:
        print(f"convviz: {problem}", file=sys.stderr)
        return 1
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
