"""`convviz export NET --weights W.npz --to torch|onnx OUT`: the network as a standalone PyTorch file or
an ONNX model. Exit status 0 when written, 1 for bad input (nothing is written)."""
from __future__ import annotations

import sys
from pathlib import Path

from ..model.presets import resolve_net
from .network import export_network, format_of


def export_command(args, default_settings: dict, weights_and_settings) -> int:
    """Run `convviz export` for the namespace of cli's export parser. default_settings: ConvViz's training
    settings (TrainConfig().to_dict()), the defaults of the PyTorch file's train command unless --weights is
    a checkpoint; weights_and_settings(path) -> (a weights file's path, None) or (a checkpoint's arrays, its
    run's settings): training.run_weights, handed in because export sits beside training, not above it."""
    try:
        arch = resolve_net(args.net)
        to = args.to or format_of(args.out)
        weights, settings, said = None, default_settings, " (ConvViz's defaults)"
        path = Path(args.weights).expanduser() if args.weights else None
        if path is not None:
            if not path.is_file():
                raise ValueError(f"--weights {args.weights}: no such file")
            weights, run_settings = weights_and_settings(path)
            if run_settings is not None:
                settings, said = run_settings, f" (those of the checkpoint {path.name})"
        message = export_network(arch, to, Path(args.out).expanduser(), settings, weights, Path(args.net).stem,
                                 said, source=path)
    except (ValueError, ImportError) as e:
        print(f"convviz export: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"convviz export: error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(message)
    return 0
