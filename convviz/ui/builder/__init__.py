"""The builder tab: palette, stack of blocks, inspector, totals bar and the drawing of the volumes."""
from .document import BuilderDocument
from .widget import BuilderWidget

__all__ = ["BuilderDocument", "BuilderWidget"]
