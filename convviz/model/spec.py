"""The architecture: an input volume and a list of layer blocks, as the UI edits it and JSON stores it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine import Volume

FORMAT_VERSION = 1


@dataclass
class LayerSpec:
    """One block: its type (a key of engine.LAYER_TYPES) and the hyperparameters given for it."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"type": self.type, **self.params}


@dataclass
class Architecture:
    """input: the INPUT block's volume; layers: the blocks after it, in order."""

    input: Volume = Volume(32, 32, 3)
    layers: list[LayerSpec] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"version": FORMAT_VERSION,
                "input": {"width": self.input.width, "height": self.input.height, "depth": self.input.depth},
                "layers": [layer.to_dict() for layer in self.layers]}

    @classmethod
    def from_dict(cls, d: dict) -> "Architecture":
        """Build from the JSON document form (unvalidated; see model.io for the checked loader)."""
        inp = d["input"]
        layers = [LayerSpec(ld["type"], {k: v for k, v in ld.items() if k != "type"}) for ld in d["layers"]]
        return cls(Volume(inp["width"], inp["height"], inp["depth"]), layers)

    def copy(self) -> "Architecture":
        return Architecture(self.input, [LayerSpec(l.type, dict(l.params)) for l in self.layers])
