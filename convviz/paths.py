"""Where ConvViz's own files are: read from the source tree, which the README installs editable."""
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
RESOURCES = PROJECT / "resources"  # presets/, icons/, style.qss
# the CIFAR-10 sample beside the project (../shared), or beside a folder holding it (a git worktree
# at work/wt/NAME finds work/shared); tests and benchmarks read it
SAMPLE = next((p / "shared" / "cifar10-sample" for p in PROJECT.parents if (p / "shared" / "cifar10-sample").is_dir()),
              PROJECT.parent / "shared" / "cifar10-sample")
