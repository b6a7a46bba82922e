"""The edited network: an Architecture, its Inference, and the QUndoStack every edit goes through.

Blocks are addressed by layer index (0-based in Architecture.layers); the INPUT block is not a layer.
Each edit builds a new Architecture from the current one and pushes it as one undoable command.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from ...engine import LAYER_TYPES
from ...model import Architecture, LayerSpec, infer

PARAM_EDIT_ID = 1  # QUndoCommand.id() of hyperparameter edits, so typing "128" is one undo step


class ArchitectureCommand(QUndoCommand):
    """Replace the whole architecture (before -> after). select: the layer index to select after
    redo (None keeps the selection; -1 selects INPUT). merge_key: consecutive edits with the same
    key merge into one step."""

    def __init__(self, document: "BuilderDocument", before: Architecture, after: Architecture, text: str,
                 select: int | None = None, merge_key: tuple | None = None):
        super().__init__(text)
        self.document, self.before, self.after = document, before, after
        self.select_after, self.merge_key = select, merge_key
        self.select_before = document.selected

    def redo(self):
        self.document.set_state(self.after, self.select_after)

    def undo(self):
        self.document.set_state(self.before, self.select_before)

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
    selectionRequested(index) when an edit wants a block selected (-1 = INPUT)."""

    changed = Signal(object, object)
    selectionRequested = Signal(int)

    def __init__(self, arch: Architecture | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.path: Path | None = None
        self.name = "Untitled"
        self.selected: int | None = None
        self.arch = arch.copy() if arch is not None else Architecture()
        self.inference = infer(self.arch)

    # --- state -------------------------------------------------------------------------------
    def set_state(self, arch: Architecture, select: int | None = None, inference=None) -> None:
        """Show arch (called by commands and when a file is opened); infers (unless given arch's inference,
        made off the GUI thread for a large file) and emits changed."""
        self.arch = arch.copy()
        self.inference = inference if inference is not None else infer(self.arch)
        if select is not None:
            self.selected = select
        elif self.selected is not None and self.selected >= len(self.arch.layers):
            self.selected = len(self.arch.layers) - 1 if self.arch.layers else -1
        self.changed.emit(self.arch, self.inference)
        if self.selected is not None:
            self.selectionRequested.emit(self.selected)

    def reset(self, arch: Architecture, path: Path | None, name: str, inference=None) -> None:
        """Start a new document (New, Open, a preset): no undo history, marked clean."""
        self.path, self.name = path, name
        self.undo_stack.clear()
        self.selected = None
        self.set_state(arch, -1, inference)
        self.undo_stack.setClean()

    def is_modified(self) -> bool:
        return not self.undo_stack.isClean()

    def _push(self, after: Architecture, text: str, select: int | None = None, merge_key: tuple | None = None):
        self.undo_stack.push(ArchitectureCommand(self, self.arch.copy(), after, text, select, merge_key))

    # --- edits -------------------------------------------------------------------------------
    def insert_layer(self, position: int, layer_type: str) -> None:
        """Insert a new block of layer_type before layer index position (len(layers) = append)."""
        if layer_type not in LAYER_TYPES:
            raise ValueError(f"unknown layer type {layer_type!r}: use one of {', '.join(LAYER_TYPES)}")
        position = max(0, min(position, len(self.arch.layers)))
        after = self.arch.copy()
        after.layers.insert(position, LayerSpec(layer_type, {}))
        self._push(after, f"Add {LAYER_TYPES[layer_type].title}", select=position)

    def move_layer(self, source: int, position: int) -> None:
        """Move layer source so that it lands before the layer now at position (gap index)."""
        n = len(self.arch.layers)
        if not 0 <= source < n:
            return
        position = max(0, min(position, n))
        target = position - 1 if position > source else position
        if target == source:
            return
        after = self.arch.copy()
        after.layers.insert(target, after.layers.pop(source))
        self._push(after, f"Move {self._title(source)}", select=target)

    def delete_layer(self, index: int) -> None:
        if not 0 <= index < len(self.arch.layers):
            return
        after = self.arch.copy()
        after.layers.pop(index)
        select = min(index, len(after.layers) - 1) if after.layers else -1
        self._push(after, f"Delete {self._title(index)}", select=select)

    def duplicate_layer(self, index: int) -> None:
        if not 0 <= index < len(self.arch.layers):
            return
        after = self.arch.copy()
        layer = after.layers[index]
        after.layers.insert(index + 1, LayerSpec(layer.type, dict(layer.params)))
        self._push(after, f"Duplicate {self._title(index)}", select=index + 1)

    def set_param(self, index: int, name: str, value) -> None:
        """Set one hyperparameter of layer index (consecutive edits of the same one merge)."""
        if self.arch.layers[index].params.get(name) == value:
            return
        after = self.arch.copy()
        after.layers[index].params[name] = value
        declared = LAYER_TYPES.get(self.arch.layers[index].type)
        hyper = next((h for h in declared.hypers if h.name == name), None) if declared else None
        shown = hyper.show(value) if hyper else str(value)
        self._push(after, f"Set {self._title(index)} {name} to {shown}", merge_key=(index, name))

    def set_input(self, field: str, value: int) -> None:
        """Set the INPUT block's width, height or depth, or the number of classes."""
        after = self.arch.copy()
        if field == "classes":
            after.classes = value
        else:
            after.input = self.arch.input._replace(**{field: value})
        if (after.input, after.classes) == (self.arch.input, self.arch.classes):
            return
        self._push(after, f"Set input {field} to {value}", merge_key=(-1, field))

    def apply_fix(self, fix) -> None:
        """Apply a model Fix (fix.apply(arch) -> a new Architecture) as one undoable edit."""
        self._push(fix.apply(self.arch.copy()), f"Fix: {fix.label}")

    def _title(self, index: int) -> str:
        kind = LAYER_TYPES.get(self.arch.layers[index].type)
        return f"{kind.title if kind else self.arch.layers[index].type} (block {index})"
