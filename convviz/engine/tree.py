"""Where a block sits in an architecture tree, named three ways from one walk.

A tree is a list of blocks; a block has `.type`, `.params` and, for containers, `.lanes` (a list of
lists of blocks; see layers.ContainerType). A block's path is a tuple of ints: (3,) is top-level
block 3, (3, 0, 1) is block 1 of lane 0 of block 3, and so on (block, lane, block, ...). The same
tuple shape, one past the end of a lane, names an insertion point.

    path (3, 0, 1)  ->  key "3.body.1"  (weight keys "3.body.1.weight", the mirrored PyTorch module)
                    ->  text "layers[3].body[1]"  (where it is in the JSON file)
                    ->  label "3.body[1]"  (how messages and the UI name it: "Block 3.body[1] (Conv)")
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from .layers import BLOCK_TYPES

Path = tuple[int, ...]


@dataclass(frozen=True)
class Site:
    """A block and where it is: path, key (dotted, as weight keys), text (as in the JSON file), depth
    (0 at the top level)."""

    path: Path
    key: str
    text: str
    block: Any

    @property
    def label(self) -> str:
        """The path as messages name blocks: "3" at the top level, "3.body[1]" inside."""
        head, _, rest = self.text[len("layers["):].partition("]")
        return head + rest

    @property
    def depth(self) -> int:
        return len(self.path) // 2


def lanes_of(block) -> list[list]:
    """A container's lanes (lists of blocks); [] for a leaf or a block of unknown type."""
    t = BLOCK_TYPES.get(getattr(block, "type", None)) if isinstance(getattr(block, "type", None), str) else None
    if t is None or not t.is_container:
        return []
    lanes = getattr(block, "lanes", None)
    return lanes if isinstance(lanes, list) else []


def walk(layers: list, path: Path = (), key: str = "", text: str = "layers") -> Iterator[Site]:
    """Every block of the tree in pre-order (a container before its lanes, lanes in order)."""
    for i, block in enumerate(layers):
        site = Site(path + (i,), f"{key}{i}", f"{text}[{i}]", block)
        yield site
        lanes = lanes_of(block)
        if lanes:
            t = BLOCK_TYPES[block.type]
            for j, (name, seg, lane) in enumerate(zip(t.lane_names(len(lanes)), t.lane_keys(len(lanes)), lanes)):
                yield from walk(lane, site.path + (j,), f"{site.key}.{seg}.", f"{site.text}.{name}")


def site_at(layers: list, path: Path) -> Site | None:
    """The site of the block at path, or None when there is none."""
    return next((s for s in walk(layers) if s.path == path), None)


def lane_at(layers: list, path: Path) -> list | None:
    """The list that holds (or would hold, for an insertion point) the block at path: the top-level
    list for (i,), else the lane path[-2] of the container at path[:-2]. None when there is none."""
    if len(path) % 2 == 0 or not path:
        return None
    lane = layers
    for depth in range(0, len(path) - 1, 2):
        i, j = path[depth], path[depth + 1]
        if not 0 <= i < len(lane):
            return None
        lanes = lanes_of(lane[i])
        if not 0 <= j < len(lanes):
            return None
        lane = lanes[j]
    return lane


def block_at(layers: list, path: Path):
    """The block at path, or None."""
    lane = lane_at(layers, path)
    return lane[path[-1]] if lane is not None and 0 <= path[-1] < len(lane) else None
