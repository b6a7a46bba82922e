"""ConvViz: build, check, train and watch convolutional networks on CIFAR-10."""
from .engine import Network
from .model import Architecture, LayerSpec
from .model.io import load_architecture

__all__ = ["Architecture", "LayerSpec", "Network", "load_architecture"]
