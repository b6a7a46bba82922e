"""Readable names for the blocks of a tree, made from their paths and their declarations' titles, for
the views that list layers ("stage 2 · block 1 · body · conv 0").

- Top-level containers are numbered by stage and block: a stage is a run of containers of one type
  whose outputs have the same width and height (ResNet's stages, GoogLeNet's inception 3, 4 and 5);
  with a single stage they are just "block 0", "block 1", ...
- Other blocks are named by their title and their count among blocks of that type in the same lane:
  "conv 0", "batch norm 1"; inside a container, after the container's name and the lane's
  ("body", "shortcut", "branch 2").
"""
from __future__ import annotations

from collections import Counter

from ..engine.layers import CONTAINER_TYPES, ContainerType
from ..engine.tree import Path
from .inference import BlockInfo

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
