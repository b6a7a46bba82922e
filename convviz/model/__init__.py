"""Qt-free architecture model: the spec, shape inference and validation, statistics, JSON, presets."""
from .spec import Architecture, LayerSpec

__all__ = ["Architecture", "LayerSpec"]
