"""Shared by the UI tests: how long to wait, and a tiny network that trains in a blink."""
from convviz.model import Architecture, LayerSpec

WAIT = 20_000  # ms: generous, the machine is shared


def tiny_arch() -> Architecture:
    return Architecture(layers=[LayerSpec("conv", {"filters": 4, "size": 3, "pad": 1}), LayerSpec("relu"),
                                LayerSpec("maxpool", {"size": 4}), LayerSpec("conv", {"filters": 3, "size": 3, "pad": 1}),
                                LayerSpec("relu"), LayerSpec("fc", {"units": 10}), LayerSpec("softmax")])
