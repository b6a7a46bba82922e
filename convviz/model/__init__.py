"""Qt-free architecture model: the spec, shape inference and validation, statistics, JSON, presets."""
from .inference import BlockInfo, Fix, Inference, Problem, infer
from .spec import Architecture, LayerSpec

__all__ = ["Architecture", "LayerSpec", "infer", "Inference", "BlockInfo", "Problem", "Fix"]
