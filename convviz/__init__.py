"""ConvViz: build, check, train and watch convolutional networks on CIFAR-10."""
from importlib.metadata import PackageNotFoundError, version as _version

from .engine import Network
from .model import Architecture, LayerSpec
from .model.io import load_architecture

try:
    __version__ = _version("convviz")  # the one home of the version is pyproject.toml
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__", "Architecture", "LayerSpec", "Network", "load_architecture"]
