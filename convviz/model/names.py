"""Readable names for the blocks of a tree, made from their paths and their declarations' titles, for
the views that list layers ("stage 2 · block 1 · body · conv 0").

- Top-level containers are numbered by stage and block: a stage is a run of containers of one type
  whose outputs have the same width and height (ResNet's stages, GoogLeNet's inception 3, 4 and 5);
  with a single stage they are just "block 0", "block 1", ...
- Other blocks are named by their title and their count among blocks of that type in the same lane:
  "conv 0", "batch norm 1"; inside a container, after the container's name and the lane's
  ("body", "shortcut", "branch 2").
- The dashboard's views title the nodes of a network's plan with these names, grouped by their
  top-level container (layer_titles).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..engine import Volume
from ..engine.layers import CONTAINER_TYPES, ContainerType
from ..engine.tree import Path
from .inference import BlockInfo, infer
from .spec import Architecture

LANE_WORDS = {"concat": "branch"}  # what one of a container's numbered lanes is called; "lane" if not listed
SEPARATOR = " · "


def lane_title(t: ContainerType, j: int) -> str:
    """How the views name lane j of a container of type t: "body", "shortcut", "branch 2"."""
    return t.lane_fields[j] if t.lane_fields else f"{LANE_WORDS.get(t.name, 'lane')} {j}"


def block_names(blocks: list[BlockInfo]) -> dict[Path, tuple[str, ...]]:
    """The readable name of every block of a tree of BlockInfos (Inference.blocks), as its parts:
    {(5, 0, 0): ("stage 2 · block 1", "body", "conv 0"), ...}; join them with SEPARATOR."""
    names: dict[Path, tuple[str, ...]] = {}
    stages = _stages(blocks)
    single = len(set(stages.values())) == 1
    counts = Counter()
    for b in blocks:
        if b.path in stages:
            stage, block = stages[b.path]
            part = f"block {block}" if single else f"stage {stage}{SEPARATOR}block {block}"
        else:
            part = f"{b.title.lower()} {counts[b.type]}"
            counts[b.type] += 1
        names[b.path] = (part,)
        _lanes(b, names)
    return names


def name_of(names: dict[Path, tuple[str, ...]], path: Path) -> str:
    """The joined name of the block at path, its label-like path when it has none."""
    parts = names.get(tuple(path))
    return SEPARATOR.join(parts) if parts else ".".join(map(str, path))


def _stages(blocks: list[BlockInfo]) -> dict[Path, tuple[int, int]]:
    """(stage from 1, block from 0) of each top-level container."""
    found, stage, block, previous = {}, 0, 0, None
    for b in blocks:
        if not b.is_container:
            continue
        volume = b.output or b.input
        looks = (b.type, None if volume is None else (volume.width, volume.height))
        if looks != previous:
            stage, block, previous = stage + 1, 0, looks
        found[b.path] = (stage, block)
        block += 1
    return found


def _lanes(info: BlockInfo, names: dict[Path, tuple[str, ...]]) -> None:
    """Name the blocks in a container's lanes after the container's name."""
    if not info.is_container:
        return
    t = CONTAINER_TYPES[info.type]
    for j, lane in enumerate(info.lanes):
        prefix = names[info.path] + (lane_title(t, j),)
        counts = Counter()
        for b in lane:
            names[b.path] = prefix + (f"{b.title.lower()} {counts[b.type]}",)
            counts[b.type] += 1
            _lanes(b, names)


@dataclass(frozen=True)
class LayerTitle:
    """How the views title one node of a network's plan. group: the name of the top-level container
    it is in ("stage 2 · block 1"), "" outside containers; container: that container's title and label
    ("Residual, block 11"); name: within the group ("body · conv 0", the merge: "+ (merged)"), or the
    whole name outside ("conv 0"); label: its path as messages write it ("11.body[0]"); volume: its
    output volume."""

    key: str
    group: str
    container: str
    name: str
    label: str
    volume: Volume

    @property
    def heading(self) -> str:
        """The group's heading: 'stage 2 · block 1 (Residual, block 11)'; "" outside containers."""
        return f"{self.group} ({self.container})" if self.group else ""

    @property
    def text(self) -> str:
        """'stage 2 · block 1 · body · conv 0 (11.body[0]) → 16x16x32'."""
        whole = f"{self.group}{SEPARATOR}{self.name}" if self.group else self.name
        return f"{whole} ({self.label}) → {self.volume}"


def layer_titles(arch: Architecture, nodes: list) -> dict[str, LayerTitle]:
    """The title of every node of a plan after the input (engine.plan.Node: key, path, label, op,
    is_merge, volume), by node key, in plan order; names from block_names of arch."""
    blocks = infer(arch).blocks
    names = block_names(blocks)
    titles = {}
    for node in nodes[1:]:
        path = tuple(node.path)
        parts = names.get(path, (node.label,))
        top = _top_of(blocks, path)
        if top is None:
            group, container, name = "", "", SEPARATOR.join(parts)
        else:
            group, container = names[top.path][0], f"{top.title}, block {top.label}"
            inner = parts[1:] if path != top.path else ()
            name = SEPARATOR.join(inner + ((f"{node.op.merge_title} (merged)",) if node.is_merge else ()))
        titles[node.key] = LayerTitle(node.key, group, container, name, node.label, node.volume)
    return titles


def _top_of(blocks: list[BlockInfo], path: Path) -> BlockInfo | None:
    """The top-level container holding (or being) the block at path; None for a top-level leaf."""
    top = blocks[path[0]] if path and path[0] < len(blocks) else None
    return top if top is not None and top.is_container else None
