"""`convviz export NET --weights W.npz --to torch|onnx OUT`: the network as a standalone PyTorch file or
an ONNX model. Exit status 0 when written, 1 for bad input (nothing is written)."""
from __future__ import annotations

import sys
from pathlib import Path

from ..model.presets import resolve_net
from .network import export_network, format_of


def export_command(args, settings: dict) -> int:
    """Run `convviz export` for the namespace of cli's export parser; settings: ConvViz's training
    settings (TrainConfig().to_dict()), the defaults of the PyTorch file's train command."""
    try:
        arch = resolve_net(args.net)
        to = args.to or format_of(args.out)
        weights = Path(args.weights).expanduser() if args.weights else None
        if weights is not None and not weights.is_file():
            raise ValueError(f"--weights {args.weights}: no such file")
        message = export_network(arch, to, Path(args.out).expanduser(), settings, weights, title=Path(args.net).stem,
                                 settings_source=" (ConvViz's defaults)")
    except (ValueError, ImportError) as e:
        print(f"convviz export: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"convviz export: error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(message)
    return 0
