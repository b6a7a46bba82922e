"""Edit > Convert FC layers to convolutions: the builder's network with every fc layer turned into the
conv layer that computes the same numbers (model.convert), as one undoable edit.

Weights: the app's trained weights live in the Explain tab (the current run, a weights file or a
checkpoint opened there). When its network is the one being converted, its weights are carried over:
the Explain tab then explains, and the Slide tab slides, the converted network with them.
"""
from __future__ import annotations

from ...interpret.subject import Subject
from ...model.convert import convert_fc
from ..builder.document import ArchitectureCommand

TITLE = "Convert FC layers to convolutions"


def convert_document(window) -> bool:
    """Convert the main window's network (one undo step) and the Explain tab's weights when they are its.
    Tells the user what changed, or why nothing did; True when the network changed."""
    document = window.document
    try:
        conversion = convert_fc(document.arch)
    except ValueError as e:
        window.show_error("Cannot convert the fc layers", str(e)[:1].upper() + str(e)[1:] + ".")
        return False
    if not conversion.changes:
        window.statusBar().showMessage("The network has no fc layer to convert.", 8000)
        return False
    before = document.arch.copy()
    document.undo_stack.push(ArchitectureCommand(document, before, conversion.arch, TITLE))
    done = "; ".join(f"block {c.label}: {c.before} -> {c.after}" for c in conversion.changes)
    explain = window.explain
    subject = explain.subject
    if subject is not None and _network(subject.net.arch) == _network(before):
        converted = Subject.copied(conversion.arch, conversion.weights(subject.net.state()), subject.normalizer,
                                   subject.label_names)
        explain.set_subject(converted, f"{explain.source}, its fc layers converted to convolutions")
        done += ". The Explain tab's weights were carried over"
    window.statusBar().showMessage(f"Converted {done}.", 12000)
    return True


def _network(arch) -> dict:
    """What makes arch the network it is (its JSON without the description)."""
    return {k: v for k, v in arch.to_dict().items() if k not in ("description", "group")}
