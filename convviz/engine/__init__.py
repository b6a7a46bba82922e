"""The NumPy engine: layer and container declarations, fast and reference kernels, the plan a tree
compiles to and the network that runs it, optimisers, safe files."""
from .layers import (BLOCK_TYPES, CONTAINER_TYPES, LAYER_TYPES, ContainerType, Hyper, LayerType, MergeError, Volume,
                     VolumeError, formula, spatial_out)
from .network import Gradients, Interrupted, Network, Pass, WeightsError
from .optim import OPTIMIZERS, make_optimizer
from .plan import Node, Plan, compile_plan

__all__ = ["BLOCK_TYPES", "CONTAINER_TYPES", "LAYER_TYPES", "ContainerType", "Hyper", "LayerType", "MergeError",
           "Volume", "VolumeError", "formula", "spatial_out", "Network", "Pass", "Gradients", "Interrupted", "WeightsError",
           "OPTIMIZERS", "make_optimizer", "Node", "Plan", "compile_plan"]
