"""The architecture: an input volume and a list of layer blocks, as the UI edits it and JSON stores it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine import Volume

FORMAT_VERSION = 1
DEFAULT_CLASSES = 10


@dataclass
class LayerSpec:
    """One block: its type (a key of engine.LAYER_TYPES) and the hyperparameters given for it."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"type": self.type, **self.params}


@dataclass
class Architecture:
    """input: the INPUT block's volume; layers: the blocks after it, in order; classes: the number
    of classes C the network ends with (its last volume must be 1x1xC; 10 for CIFAR-10);
    description: free text shown with presets."""

    input: Volume = Volume(32, 32, 3)
    layers: list[LayerSpec] = field(default_factory=list)
    classes: int = DEFAULT_CLASSES
    description: str = ""

    def to_dict(self) -> dict:
        d = {"version": FORMAT_VERSION,
             "input": {"width": self.input.width, "height": self.input.height, "depth": self.input.depth},
             "classes": self.classes,
             "layers": [layer.to_dict() for layer in self.layers]}
        if self.description:
            d["description"] = self.description
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Architecture":
        """Build from the JSON document form (unvalidated; see model.io for the checked loader)."""
        inp = d["input"]
        layers = [LayerSpec(ld["type"], {k: v for k, v in ld.items() if k != "type"}) for ld in d["layers"]]
        return cls(Volume(inp["width"], inp["height"], inp["depth"]), layers,
                   d.get("classes", DEFAULT_CLASSES), d.get("description", ""))

    def copy(self) -> "Architecture":
        """A copy whose blocks can be edited without touching this one."""
        layers = [LayerSpec(l.type, dict(l.params) if isinstance(l.params, dict) else l.params) for l in self.layers]
        return Architecture(self.input, layers, self.classes, self.description)
