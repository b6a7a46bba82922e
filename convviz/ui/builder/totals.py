"""The totals bar: parameters, mult-adds per image, activation memory, receptive field of the last
conv, and whether the network can be trained (with the reason when it cannot)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel

from ...units import count, size_bytes
from .style import ERROR, WARNING


def training_blocker(inference) -> str | None:
    """None when the network can be trained, else the reason (the first error, and how many more)."""
    if inference.valid:
        return None
    first = inference.errors[0].message if inference.errors else "the network is invalid"
    more = len(inference.errors) - 1
    return f"{first}" + (f" (and {more} more error{'s' if more > 1 else ''})" if more > 0 else "")


class TotalsBar(QFrame):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("totalsBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.setSpacing(18)
        self.status = QLabel()
        self.status.setObjectName("validity")
        self.params = QLabel()
        self.macs = QLabel()
        self.memory = QLabel()
        self.receptive_field = QLabel()
        for label in (self.status, self.params, self.macs, self.memory, self.receptive_field):
            label.setTextFormat(Qt.RichText)
            layout.addWidget(label)
        layout.addStretch(1)
        self.params.setToolTip("Learned numbers (weights and biases) in the whole network")
        self.macs.setToolTip("Multiply-adds to push one image through the network")
        self.memory.setToolTip("Memory of all activation volumes for one image (float32)")
        self.receptive_field.setToolTip("Size of the input patch one unit of the last conv layer sees")

    def set_network(self, arch, inference) -> None:
        blocker = training_blocker(inference)
        if blocker is None:
            warnings = len(inference.warnings)
            colour = WARNING.name() if warnings else "#3a9a3a"
            text = "✔ valid" + (f", {warnings} warning{'s' if warnings > 1 else ''}" if warnings else "")
            self.status.setText(f"<b style='color:{colour}'>{text}</b>")
            self.status.setToolTip("<br>".join(p.message for p in inference.warnings) or "Ready to train")
        else:
            n = len(inference.errors)
            self.status.setText(f"<b style='color:{ERROR.name()}'>✖ {n} error{'s' if n != 1 else ''}</b>")
            self.status.setToolTip("Training cannot start while the network is invalid:<br>"
                                   + "<br>".join(p.message for p in inference.errors))
        # a volume that cannot be computed leaves the blocks from there on uncounted: no partial sums
        complete = all(b.output is not None for b in inference.blocks)
        rf = inference.last_conv_receptive_field
        for label, title, value in (
                (self.params, "Parameters", f"{inference.total_params:,}"),
                (self.macs, "Mult-adds/image", count(inference.total_macs)),
                (self.memory, "Activations", size_bytes(inference.total_memory_bytes)),
                (self.receptive_field, "Receptive field (last conv)", f"{rf[0]}x{rf[0]}" if rf else "–")):
            label.setText(f"{title} <b>{value if complete else '–'}</b>")
