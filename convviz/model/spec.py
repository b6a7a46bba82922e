"""The architecture: an input volume and a tree of blocks, as the UI edits it and JSON stores it.

A block is a leaf layer (a key of engine.LAYER_TYPES with its hyperparameters) or a container
(engine.CONTAINER_TYPES: residual, concat) holding lanes of blocks. Blocks are addressed by path
(see engine.tree): (3,) is top-level block 3, (3, 0, 1) block 1 of lane 0 (a residual's body) of block 3.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine import Volume
from ..engine.layers import BLOCK_TYPES
from ..engine.tree import Path, block_at, lane_at

FORMAT_VERSION = 2  # the newest format this ConvViz reads; files without containers are written as 1
DEFAULT_CLASSES = 10
MAX_NESTING = 32  # containers inside containers, at most (the published nets nest 1 deep)
GROUPS = {"train": "Train on CIFAR-10", "reference": "Reference networks (view only)"}  # a preset's "group"


@dataclass
class LayerSpec:
    """One block: its type (a key of engine.BLOCK_TYPES), the hyperparameters given for it, and for a
    container its lanes (each a list of blocks; residual: [body, shortcut], concat: the branches)."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)
    lanes: list[list["LayerSpec"]] | None = None

    def to_dict(self) -> dict:
        t = BLOCK_TYPES.get(self.type) if isinstance(self.type, str) else None
        if t is None or not t.is_container:
            return {"type": self.type, **self.params}
        lanes = [[b.to_dict() for b in lane] for lane in (self.lanes or [])]
        if t.lane_fields:
            return {"type": self.type, **self.params, **dict(zip(t.lane_fields, lanes))}
        return {"type": self.type, **self.params, t.lane_list: lanes}

    @classmethod
    def from_dict(cls, d: dict) -> "LayerSpec":
        """From the JSON form (unvalidated; see model.io for the checked loader)."""
        t = BLOCK_TYPES.get(d["type"]) if isinstance(d["type"], str) else None
        if t is None or not t.is_container:
            return cls(d["type"], {k: v for k, v in d.items() if k != "type"})
        if t.lane_fields:
            lanes = [d.get(name) or [] for name in t.lane_fields]
        else:
            lanes = d[t.lane_list]
        params = {k: v for k, v in d.items() if k not in ("type", t.lane_list, *t.lane_fields)}
        return cls(d["type"], params, [[cls.from_dict(b) for b in lane] for lane in lanes])

    def copy(self) -> "LayerSpec":
        """A deep copy: editing it (or its lanes) leaves this block as it was. Lanes that are not lists
        of blocks (a hand-made spec; infer() reports them) are kept as they are."""
        params = dict(self.params) if isinstance(self.params, dict) else self.params
        lanes = self.lanes
        if isinstance(lanes, list) and all(isinstance(lane, list) for lane in lanes):
            lanes = [[b.copy() if isinstance(b, LayerSpec) else b for b in lane] for lane in lanes]
        return LayerSpec(self.type, params, lanes)

    @classmethod
    def container(cls, type_name: str) -> "LayerSpec":
        """A new container with the empty lanes its declaration starts with."""
        return cls(type_name, {}, BLOCK_TYPES[type_name].new_lanes())


@dataclass
class Architecture:
    """input: the INPUT block's volume; layers: the top-level blocks, in order; classes: the number
    of classes C the network ends with (its last volume must be 1x1xC; 10 for CIFAR-10);
    description: free text shown with presets; group: for presets, a key of GROUPS ("train": it trains
    on CIFAR-10, "reference": view only), "" otherwise."""

    input: Volume = Volume(32, 32, 3)
    layers: list[LayerSpec] = field(default_factory=list)
    classes: int = DEFAULT_CLASSES
    description: str = ""
    group: str = ""

    @property
    def branches(self) -> bool:
        """Whether any block is a container (the file then needs format version 2)."""
        return any(getattr(BLOCK_TYPES.get(b.type) if isinstance(b.type, str) else None, "is_container", False)
                   for b in self.layers)

    def to_dict(self) -> dict:
        d = {"version": 2 if self.branches else 1,
             "input": {"width": self.input.width, "height": self.input.height, "depth": self.input.depth},
             "classes": self.classes,
             "layers": [layer.to_dict() for layer in self.layers]}
        if self.description:
            d["description"] = self.description
        if self.group:
            d["group"] = self.group
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Architecture":
        """Build from the JSON document form (unvalidated; see model.io for the checked loader)."""
        inp = d["input"]
        layers = [LayerSpec.from_dict(ld) for ld in d["layers"]]
        return cls(Volume(inp["width"], inp["height"], inp["depth"]), layers,
                   d.get("classes", DEFAULT_CLASSES), d.get("description", ""), d.get("group", ""))

    def copy(self) -> "Architecture":
        """A copy whose blocks can be edited without touching this one."""
        layers = [layer.copy() if isinstance(layer, LayerSpec) else layer for layer in self.layers]
        return Architecture(self.input, layers, self.classes, self.description, self.group)

    def block(self, path: Path) -> LayerSpec | None:
        """The block at path (see engine.tree), or None."""
        return block_at(self.layers, tuple(path))

    def lane(self, path: Path) -> list[LayerSpec] | None:
        """The list holding (or that would hold) the block at path: arch.lane(p).insert(p[-1], block)."""
        return lane_at(self.layers, tuple(path))
