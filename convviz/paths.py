"""Where ConvViz's own files are: read from the source tree, which the README installs editable."""
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
RESOURCES = PROJECT / "resources"  # presets/, icons/, style.qss
SAMPLE = PROJECT.parent / "shared" / "cifar10-sample"  # the CIFAR-10 sample beside the project (benchmarks)
