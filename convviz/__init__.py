"""ConvViz: build, check, train and watch convolutional networks on CIFAR-10."""
from .engine import Network
from .model import Architecture, LayerSpec


def load_architecture(path) -> Architecture:
    """Read an architecture JSON file."""
    import json

    with open(path, encoding="utf-8") as f:
        return Architecture.from_dict(json.load(f))


__all__ = ["Architecture", "LayerSpec", "Network", "load_architecture"]
