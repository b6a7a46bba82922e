"""The NumPy engine: layer declarations, fast and reference kernels, networks, optimisers."""
from .layers import LAYER_TYPES, Hyper, LayerType, Volume, VolumeError, formula, spatial_out
from .network import Network, WeightsError
from .optim import OPTIMIZERS, make_optimizer

__all__ = ["LAYER_TYPES", "Hyper", "LayerType", "Volume", "VolumeError", "formula", "spatial_out",
           "Network", "WeightsError", "OPTIMIZERS", "make_optimizer"]
