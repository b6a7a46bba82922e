"""Qt-free architecture model: the spec (a tree of blocks), shape inference and validation with judged
fixes, statistics, JSON v1/v2, presets, units."""
from .inference import BlockInfo, Fix, Inference, Problem, ReceptiveField, infer
from .spec import Architecture, LayerSpec

__all__ = ["Architecture", "LayerSpec", "infer", "Inference", "BlockInfo", "Problem", "Fix", "ReceptiveField"]
