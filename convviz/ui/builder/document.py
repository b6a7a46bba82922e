"""The edited network: an Architecture, its Inference, and the QUndoStack every edit goes through.

Blocks are addressed by path (engine.tree): (3,) is top-level block 3, (3, 0, 1) block 1 of lane 0 of
block 3; an insertion point is a path one past where the block will be (the end of a lane included).
The INPUT block, which is not a layer, is selected as the empty path INPUT.

Each edit builds a new Architecture from the current one and pushes it as one undoable command, with
the Shifts that say where every block went (for the selection and the view's collapsed containers).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path as FilePath
from typing import NamedTuple

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from ...engine.layers import BLOCK_TYPES
from ...engine.tree import Path
from ...model import Architecture, LayerSpec, infer
from ...model.names import lane_title
from ...model.templates import TEMPLATES, volume_at

PARAM_EDIT_ID = 1  # QUndoCommand.id() of hyperparameter edits, so typing "128" is one undo step
INPUT: Path = ()   # the INPUT block's place in the selection


class Shift(NamedTuple):
    """One structural change of the tree. kind "insert": `count` blocks at insertion point `at`;
    "remove": `count` blocks from `at` on; "move": the block at `at` to `to` (its path afterwards);
    "lane": a lane inserted (count 1) or removed (count -1) at lane `at[-1]` of the container at[:-1];
    "clear": every block under the lane `at` (container path + lane) replaced."""

    kind: str
    at: Path
    count: int = 1
    to: Path = ()

    def inverse(self) -> "Shift":
        return {"insert": lambda: self._replace(kind="remove"), "remove": lambda: self._replace(kind="insert"),
                "move": lambda: Shift("move", self.to, 1, self.at), "lane": lambda: self._replace(count=-self.count),
                "clear": lambda: self}[self.kind]()

    def apply(self, path: Path | None) -> Path | None:
        """Where the block at path is after this change (None: it is gone)."""
        if path is None:
            return None
        at, n = self.at, len(self.at)
        if self.kind == "move":
            if path[:n] == at:
                return self.to + path[n:]
            return Shift("insert", self.to).apply(Shift("remove", at).apply(path))
        if self.kind == "clear":
            return None if len(path) > n and path[:n] == at else path
        if len(path) < n or path[:n - 1] != at[:-1]:
            return path
        i, here = at[-1], path[n - 1]
        if self.kind == "insert":
            return path[:n - 1] + (here + self.count,) + path[n:] if here >= i else path
        if self.kind == "remove":
            if i <= here < i + self.count:
                return None
            return path[:n - 1] + (here - self.count,) + path[n:] if here >= i + self.count else path
        if self.count < 0 and here == i:
            return None
        return path[:n - 1] + (here + self.count,) + path[n:] if here >= i + (self.count < 0) else path


def shifted(path: Path | None, shifts: tuple[Shift, ...]) -> Path | None:
    """path after every shift in turn (INPUT stays INPUT)."""
    if path == INPUT:
        return path
    for shift in shifts:
        path = shift.apply(path)
    return path


class ArchitectureCommand(QUndoCommand):
    """Replace the whole architecture (before -> after). select: the path to select after redo (None
    keeps the selection where the shifts take it). merge_key: consecutive edits with the same key merge
    into one step. shifts: the structural changes from before to after."""

    def __init__(self, document: "BuilderDocument", before: Architecture, after: Architecture, text: str,
                 select: Path | None = None, merge_key: tuple | None = None, shifts: tuple[Shift, ...] = ()):
        super().__init__(text)
        self.document, self.before, self.after = document, before, after
        self.select_after, self.merge_key, self.shifts = select, merge_key, shifts
        self.select_before = document.selected

    def redo(self):
        self.document.set_state(self.after, self.select_after, self.shifts)

    def undo(self):
        self.document.set_state(self.before, self.select_before, tuple(s.inverse() for s in reversed(self.shifts)))

    def id(self) -> int:
        return PARAM_EDIT_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, ArchitectureCommand) or other.merge_key != self.merge_key:
            return False
        self.after = other.after
        self.setObsolete(self.after == self.before)  # edited back (16 -> 24 -> 16): no step, not modified
        return True


class BuilderDocument(QObject):
    """changed(Architecture, Inference) after every state change (edit, undo, redo, open);
    shifted(function) just before it, with old path -> new path (None: gone) for that change;
    selectionRequested(path) when an edit wants a block selected (INPUT = ())."""

    changed = Signal(object, object)
    shifted = Signal(object)
    selectionRequested = Signal(object)

    def __init__(self, arch: Architecture | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.path: FilePath | None = None
        self.name = "Untitled"
        self.selected: Path | None = None
        self.arch = arch.copy() if arch is not None else Architecture()
        self.inference = infer(self.arch)

    # --- state -------------------------------------------------------------------------------
    def set_state(self, arch: Architecture, select: Path | None = None, shifts: tuple[Shift, ...] = (),
                  inference=None) -> None:
        """Show arch (called by commands and reset; kept, not copied: no one edits it in place, every edit
        builds a new Architecture); infers (unless given arch's inference, made off the GUI thread for a
        large file) and emits changed."""
        self.arch = arch
        self.inference = inference if inference is not None else infer(self.arch)
        if shifts:
            self.shifted.emit(lambda path: shifted(path, shifts))
        if select is not None:
            self.selected = select
        elif self.selected is not None:
            moved = shifted(self.selected, shifts)
            self.selected = self._nearest(moved if moved is not None else self.selected)
        self.changed.emit(self.arch, self.inference)
        if self.selected is not None:
            self.selectionRequested.emit(self.selected)

    def _nearest(self, path: Path | None) -> Path:
        """path if it names a block, else the closest block before it in its lane, its container, or INPUT."""
        while path:
            if self.arch.block(path) is not None:
                return path
            lane = self.arch.lane(path)
            if lane:
                return path[:-1] + (len(lane) - 1,)
            path = path[:-2]
        return INPUT

    def reset(self, arch: Architecture, path: FilePath | None, name: str, inference=None) -> None:
        """Start a new document (New, Open, a preset): no undo history, marked clean."""
        self.path, self.name = path, name
        self.undo_stack.clear()
        self.selected = None
        self.shifted.emit(lambda path: None)  # nothing of the old tree is left
        self.set_state(arch.copy(), INPUT, inference=inference)
        self.undo_stack.setClean()

    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    def _push(self, after: Architecture, text: str, select: Path | None = None, merge_key: tuple | None = None,
              shifts: tuple[Shift, ...] = ()) -> None:
        self.undo_stack.push(ArchitectureCommand(self, self.arch, after, text, select, merge_key, shifts))

    # --- reading -----------------------------------------------------------------------------
    def title(self, path: Path) -> str:
        """'Conv (block 3.body[1])' for messages and undo texts."""
        info = self.inference.block(path)
        return f"{info.title} (block {info.label})" if info is not None else "block"

    def is_container(self, path: Path | None) -> bool:
        block = self.arch.block(path) if path else None
        return block is not None and getattr(BLOCK_TYPES.get(block.type), "is_container", False)

    # --- edits -------------------------------------------------------------------------------
    def insert(self, point: Path, blocks: list[LayerSpec], text: str) -> None:
        """Insert blocks at an insertion point (one undo step); selects the first."""
        point = tuple(point)
        after = self.arch.copy()
        lane = after.lane(point)
        if lane is None or not blocks or not 0 <= point[-1] <= len(lane):
            return
        lane[point[-1]:point[-1]] = [b.copy() for b in blocks]
        self._push(after, text, select=point, shifts=(Shift("insert", point, len(blocks)),))

    def insert_type(self, point: Path, type_name: str) -> None:
        """Insert a new block of a layer or container type (containers start with their empty lanes)."""
        declared = BLOCK_TYPES.get(type_name)
        if declared is None:
            raise ValueError(f"unknown block type {type_name!r}: use one of {', '.join(BLOCK_TYPES)}")
        block = LayerSpec.container(type_name) if declared.is_container else LayerSpec(type_name, {})
        self.insert(point, [block], f"Add {declared.title}")

    def insert_template(self, point: Path, name: str) -> None:
        """Insert a template's blocks, sized for the volume arriving at point, as one undo step."""
        template = TEMPLATES.get(name)
        if template is None:
            raise ValueError(f"unknown template {name!r}: use one of {', '.join(TEMPLATES)}")
        point = tuple(point)
        self.insert(point, template.blocks(volume_at(self.inference, point)), f"Add {template.title}")

    def move(self, source: Path, point: Path) -> None:
        """Move the block at source to the insertion point (both paths of the current tree): within its
        lane, into another lane at any depth, or out of its container. Never into itself."""
        source, point = tuple(source), tuple(point)
        if self.arch.block(source) is None or point[:len(source)] == source:
            return
        to = Shift("remove", source).apply(point)  # None: the point is the block itself
        if to is None or to == source:
            return
        after = self.arch.copy()
        block = after.lane(source).pop(source[-1])
        lane = after.lane(to)
        if lane is None or not 0 <= to[-1] <= len(lane):
            return
        lane.insert(to[-1], block)
        self._push(after, f"Move {self.title(source)}", select=to, shifts=(Shift("move", source, 1, to),))

    def delete(self, path: Path) -> None:
        path = tuple(path)
        if self.arch.block(path) is None:
            return
        after = self.arch.copy()
        lane = after.lane(path)
        lane.pop(path[-1])
        if lane:
            select = path[:-1] + (min(path[-1], len(lane) - 1),)
        else:
            select = path[:-2] or INPUT  # the container whose lane is now empty, or INPUT
        self._push(after, f"Delete {self.title(path)}", select=select, shifts=(Shift("remove", path),))

    def duplicate(self, path: Path) -> None:
        path = tuple(path)
        block = self.arch.block(path)
        if block is not None:
            self.insert(path[:-1] + (path[-1] + 1,), [block], f"Duplicate {self.title(path)}")

    def set_param(self, path: Path, name: str, value) -> None:
        """Set one hyperparameter of the block at path (consecutive edits of the same one merge)."""
        path = tuple(path)
        block = self.arch.block(path)
        if block is None or block.params.get(name) == value:
            return
        after, edited = _sharing_copy(self.arch, path)
        edited.params[name] = value
        declared = BLOCK_TYPES.get(block.type)
        hyper = next((h for h in declared.hypers if h.name == name), None) if declared else None
        shown = hyper.show(value) if hyper else str(value)
        self._push(after, f"Set {self.title(path)} {name} to {shown}", merge_key=(path, name))

    def set_input(self, field: str, value: int) -> None:
        """Set the INPUT block's width, height or depth, or the number of classes."""
        after = self.arch.copy()
        if field == "classes":
            after.classes = value
        else:
            after.input = self.arch.input._replace(**{field: value})
        if (after.input, after.classes) == (self.arch.input, self.arch.classes):
            return
        self._push(after, f"Set input {field} to {value}", merge_key=(INPUT, field))

    def add_lane(self, path: Path) -> None:
        """Give the container at path one more (empty) lane, at the end."""
        path = tuple(path)
        block = self.arch.block(path)
        declared = BLOCK_TYPES.get(block.type) if block is not None else None
        if declared is None or not declared.is_container or len(block.lanes) >= declared.max_lanes:
            return
        after = self.arch.copy()
        after.block(path).lanes.append([])
        j = len(block.lanes)
        self._push(after, f"Add {lane_title(declared, j)} to {self.title(path)}", select=path,
                   shifts=(Shift("lane", path + (j,), 1),))

    def remove_lane(self, path: Path, j: int) -> None:
        """Remove lane j (and its blocks) of the container at path."""
        path = tuple(path)
        block = self.arch.block(path)
        declared = BLOCK_TYPES.get(block.type) if block is not None else None
        if declared is None or not declared.is_container or len(block.lanes) <= declared.min_lanes \
                or not 0 <= j < len(block.lanes):
            return
        after = self.arch.copy()
        after.block(path).lanes.pop(j)
        self._push(after, f"Remove {lane_title(declared, j)} of {self.title(path)}", select=path,
                   shifts=(Shift("lane", path + (j,), -1),))

    def apply_fix(self, fix) -> None:
        """Apply a model Fix (fix.apply(arch) -> a new Architecture) as one undoable edit."""
        after = fix.apply(self.arch)
        self._push(after, f"Fix: {fix.label}", shifts=fix_shifts(fix, len(after.layers)))


def _sharing_copy(arch: Architecture, path: Path) -> tuple[Architecture, LayerSpec]:
    """A copy of arch in which the block at path and its containers are new objects (to be edited) and
    every other block is shared with arch (documents never edit a block in place) -> (copy, that block).
    One keystroke in ResNet-56 copies 3 blocks, not 199."""
    after = dataclasses.replace(arch, layers=list(arch.layers))
    lane = after.layers
    for depth in range(0, len(path) - 1, 2):
        container = lane[path[depth]]
        lane[path[depth]] = container = LayerSpec(container.type, dict(container.params),
                                                  [list(blocks) for blocks in container.lanes])
        lane = container.lanes[path[depth + 1]]
    block = lane[path[-1]]
    lane[path[-1]] = block = LayerSpec(block.type, dict(block.params), block.lanes)
    return after, block


def fix_shifts(fix, top_count: int) -> tuple[Shift, ...]:
    """The structural change a model Fix makes (top_count: top-level blocks after it)."""
    if fix.path is None:
        return ()
    path = tuple(fix.path)
    if fix.insert:
        return (Shift("insert", path, len(fix.insert)),)
    if fix.move_to_end:
        return (Shift("move", path, 1, (top_count - 1,)),)
    if fix.remove:
        return (Shift("remove", path),)
    if fix.replace_lane is not None:
        return (Shift("clear", path + (fix.replace_lane[0],)),)
    if fix.type is not None:
        return (Shift("clear", path),)
    return ()

