"""The inspector: a form generated from the selected layer's Hyper declarations (spin boxes with the
declared limits, check boxes, choice lists), its volumes and costs, and its problems with formulas
and fix buttons."""
from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFrame, QGridLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPushButton, QScrollArea, QSizePolicy, QSpinBox, QVBoxLayout, QWidget)

from ...engine import LAYER_TYPES, Hyper
from ...model.inference import CLASSES_HYPER, INPUT_HYPERS
from ..lessons.sharing import sharing_html
from .document import BuilderDocument
from .style import ERROR, FAULT_BACKGROUNDS, WARNING, count, icon, size_bytes


def editor(hyper: Hyper, value) -> QWidget:
    """The input widget for one hyperparameter: a QSpinBox (int) or QDoubleSpinBox (float) holding the
    declared limits, a QCheckBox (bool), or a QComboBox of the choices (str); with its help as tooltip."""
    if hyper.kind is bool:
        box = QCheckBox()
    elif hyper.kind is str:
        box = QComboBox()
        box.addItems(hyper.choices)
    elif hyper.kind is int:
        box = QSpinBox()
        box.setRange(int(hyper.minimum), int(hyper.maximum))
    else:
        box = QDoubleSpinBox()
        small = hyper.default if isinstance(hyper.default, float) and 0 < hyper.default < 0.01 else None
        box.setDecimals(3 if small is None else 2 - math.floor(math.log10(small)))  # lrn's alpha 1e-4: 6
        box.setSingleStep(0.01 if small is None and hyper.maximum <= 1 else small or 0.1)
        box.setRange(hyper.minimum, hyper.maximum)
    limits = f" ({hyper.minimum:g} to {hyper.maximum:g})" if hyper.kind in (int, float) else ""
    box.setToolTip(f"{hyper.help}{limits}")
    box.setAccessibleName(hyper.name)
    set_quietly(box, value)
    return box


def on_edit(box: QWidget, slot) -> None:
    """Call slot(value) whenever the user changes box (an editor() widget), with a value of its kind."""
    if isinstance(box, QCheckBox):
        box.toggled.connect(lambda v: slot(bool(v)))
    elif isinstance(box, QComboBox):
        box.currentTextChanged.connect(slot)
    elif isinstance(box, QSpinBox):
        box.valueChanged.connect(lambda v: slot(int(v)))
    else:
        box.valueChanged.connect(lambda v: slot(float(v)))


def set_quietly(box: QWidget, value) -> None:
    """Show value without emitting a change (values the box cannot hold show as its first or lowest)."""
    box.blockSignals(True)
    if isinstance(box, QCheckBox):
        box.setChecked(value is True)
    elif isinstance(box, QComboBox):
        box.setCurrentIndex(max(0, box.findText(value if isinstance(value, str) else "")))
    else:
        box.setValue(value if isinstance(value, (int, float)) and not isinstance(value, bool) else box.minimum())
    box.blockSignals(False)


class FixButton(QPushButton):
    """A fix's button whose text wraps at the inspector's width: a long label ("use stride 1 (-> 30x30;
    the network is valid)") makes the button taller, never the inspector wider than its column."""

    def __init__(self, text: str):
        super().__init__()
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)  # clicks reach the button
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 5, 8, 5)
        layout.addWidget(self.label)
        self.setAccessibleName(text)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def text(self) -> str:
        return self.label.text()

    def sizeHint(self):
        return self.layout().sizeHint()

    def minimumSizeHint(self):
        return self.layout().minimumSize()

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self.layout().totalHeightForWidth(width)


class ProblemCard(QFrame):
    """One error (red) or warning (amber): message, formula with numbers, and a button per fix."""

    def __init__(self, problem, error: bool, document: BuilderDocument):
        super().__init__()
        colour = ERROR if error else WARNING
        self.setObjectName("problemCard")
        self.setStyleSheet(f"#problemCard {{ border: 1px solid {colour.name()}; border-left: 5px solid {colour.name()};"
                           f" border-radius: 4px; background: rgba({colour.red()},{colour.green()},{colour.blue()},28); }}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        message = QLabel(("Error: " if error else "Warning: ") + problem.message)
        message.setWordWrap(True)
        message.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(message)
        if problem.formula:
            formula = QLabel(problem.formula)
            mono = QFont("monospace")
            mono.setStyleHint(QFont.Monospace)
            formula.setFont(mono)
            formula.setObjectName("formula")
            formula.setWordWrap(True)
            formula.setTextInteractionFlags(Qt.TextSelectableByMouse)
            layout.addWidget(formula)
        self.fix_buttons = []
        for fix in problem.fixes:
            button = FixButton(fix.label[:1].upper() + fix.label[1:])
            button.setToolTip("Apply this fix (undoable)")
            button.clicked.connect(lambda _=False, f=fix: document.apply_fix(f))
            layout.addWidget(button)
            self.fix_buttons.append(button)


class Inspector(QScrollArea):
    """Shows the block selected in the stack: index -1 is INPUT, None is nothing."""

    def __init__(self, document: BuilderDocument, parent=None):
        super().__init__(parent)
        self.document = document
        self.setWidgetResizable(True)
        self.setMinimumWidth(260)
        self.setAccessibleName("Inspector")
        body = QWidget()
        self.setWidget(body)
        outer = QVBoxLayout(body)
        outer.setContentsMargins(10, 10, 10, 10)

        header = QHBoxLayout()
        self.icon_label = QLabel()
        self.title_label = QLabel()
        self.title_label.setObjectName("inspectorTitle")
        header.addWidget(self.icon_label)
        header.addWidget(self.title_label, 1)
        outer.addLayout(header)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setObjectName("summary")
        outer.addWidget(self.summary_label)

        self.form_host = QWidget()
        self.form = QGridLayout(self.form_host)  # two fields a row: the problems and their fixes below stay in view
        self.form.setContentsMargins(0, 6, 0, 6)
        self.form.setHorizontalSpacing(6)
        for column in (1, 3):
            self.form.setColumnStretch(column, 1)
        outer.addWidget(self.form_host)

        self.problems_host = QWidget()
        self.problems = QVBoxLayout(self.problems_host)
        self.problems.setContentsMargins(0, 6, 0, 0)
        outer.addWidget(self.problems_host)

        self.volume_label = QLabel()
        self.volume_label.setObjectName("volumes")
        self.volume_label.setWordWrap(True)
        self.volume_label.setTextFormat(Qt.RichText)
        outer.addWidget(self.volume_label)
        self.sharing_label = QLabel()  # parameter sharing, for conv blocks
        self.sharing_label.setWordWrap(True)
        outer.addWidget(self.sharing_label)
        outer.addStretch(1)

        self.index: int | None = None
        self._form_for: tuple | None = None
        self.editors: dict[str, QWidget] = {}  # hyperparameter name -> its editor() widget
        self.problem_cards: list[ProblemCard] = []
        document.changed.connect(self.refresh)
        self.show_block(None)

    def show_block(self, index: int | None) -> None:
        self.index = index
        self.refresh()

    def refresh(self, *_) -> None:
        """Rebuild the form only when the selected block (or its type) changed; else update values
        in place so a spin box being edited keeps its focus."""
        arch = self.document.arch
        index = self.index
        if index is not None and index >= len(arch.layers):
            index = self.index = None
        key = None if index is None else (index, "input" if index < 0 else arch.layers[index].type)
        if key != self._form_for:
            self._build_form(key)
        self._update_values()
        self._update_details()

    def _add_field(self, name: str, box: QWidget) -> None:
        """name and its editor in the next free place of the two-column form."""
        n = len(self.editors)
        self.editors[name] = box
        self.form.addWidget(QLabel(name), n // 2, 2 * (n % 2))
        self.form.addWidget(box, n // 2, 2 * (n % 2) + 1)

    def _build_form(self, key) -> None:
        self._form_for = key
        while (item := self.form.takeAt(0)) is not None:
            item.widget().hide()  # gone now, deleted once control returns to the event loop
            item.widget().deleteLater()
        self.editors = {}
        if key is None:
            self.icon_label.clear()
            self.title_label.setText("No block selected")
            self.summary_label.setText("Select a block in the network to edit it, or drag one in from the palette.")
            return
        index, layer_type = key
        if index < 0:
            self.icon_label.setPixmap(icon("input").pixmap(28, 28))
            self.title_label.setText("<b>INPUT</b>")
            self.summary_label.setText("The image volume fed to the network: width x height x depth "
                                       "(32x32x3 for CIFAR-10).")
            for hyper in INPUT_HYPERS + (CLASSES_HYPER,):
                box = editor(hyper, hyper.default)
                on_edit(box, lambda v, name=hyper.name: self.document.set_input(name, v))
                self._add_field(hyper.name, box)
            return
        declared = LAYER_TYPES.get(layer_type)
        self.icon_label.setPixmap(icon(layer_type).pixmap(28, 28))
        title = declared.title if declared else layer_type
        self.title_label.setText(f"<b>{title}</b> <span style='color:gray'>· block {index}</span>")
        self.summary_label.setText(declared.summary if declared else f"Unknown layer type {layer_type!r}.")
        for hyper in declared.hypers if declared else ():
            box = editor(hyper, hyper.default)
            on_edit(box, lambda v, name=hyper.name, i=index: self.document.set_param(i, name, v))
            self._add_field(hyper.name, box)

    def _update_values(self) -> None:
        if self._form_for is None:
            return
        index, layer_type = self._form_for
        arch = self.document.arch
        if index < 0:
            values = {**arch.input._asdict(), "classes": arch.classes}
            for name, box in self.editors.items():
                set_quietly(box, values[name])
            return
        declared = LAYER_TYPES.get(layer_type)
        if declared:
            values = declared.resolve(arch.layers[index].params)
            for name, box in self.editors.items():
                set_quietly(box, values[name])

    def _update_details(self) -> None:
        for card in self.problem_cards:
            self.problems.removeWidget(card)
            card.hide()
            card.deleteLater()
        self.problem_cards = []
        inference = self.document.inference
        info = inference.blocks[self._form_for[0]] if self._form_for and self._form_for[0] >= 0 else None
        self.sharing_label.setText(sharing_html(info))
        if self._form_for is None:
            self.volume_label.clear()
            return
        index = self._form_for[0]
        if index < 0:
            self.volume_label.setText(f"Output volume <b>{self.document.arch.input}</b>")
            problems = [(p, True) for p in inference.errors if p.path is None]
            problems += [(p, False) for p in inference.warnings if p.path is None]
        else:
            info = inference.blocks[index]
            rf = info.receptive_field
            rf = ("–" if rf is None else f"whole input ({rf.size}, jump {rf.jump})" if rf.whole
                  else f"{rf.size} (jump {rf.jump})")
            self.volume_label.setText(
                f"<table cellspacing=2>"
                f"<tr><td>Input</td><td><b>{info.input if info.input is not None else '?'}</b></td></tr>"
                f"<tr><td>Output</td><td><b>{info.output if info.output is not None else '?'}</b></td></tr>"
                f"<tr><td>Parameters</td><td>{info.params:,}</td></tr>"
                f"<tr><td>Mult-adds</td><td>{count(info.macs)}</td></tr>"
                f"<tr><td>Memory</td><td>{size_bytes(info.memory_bytes)}</td></tr>"
                f"<tr><td>Receptive field</td><td>{rf}</td></tr></table>")
            problems = [(p, True) for p in info.errors] + [(p, False) for p in info.warnings]
        for problem, error in problems:
            card = ProblemCard(problem, error, self.document)
            self.problems.addWidget(card)
            self.problem_cards.append(card)
        self._mark_editors(problems)

    def _mark_editors(self, problems) -> None:
        """Tint the editor of each hyperparameter a problem names (red for an error, amber for a warning)."""
        faults = {}
        for problem, error in problems:
            if problem.param in self.editors and faults.get(problem.param) != "error":
                faults[problem.param] = "error" if error else "warning"
        for name, box in self.editors.items():
            fault = faults.get(name, "")
            if box.property("problem") != fault:
                box.setProperty("problem", fault)
                palette = QPalette(self.palette())  # a palette, not a style sheet: keeps the native arrows
                if fault:
                    palette.setColor(QPalette.ColorRole.Base, FAULT_BACKGROUNDS[fault])
                box.setPalette(palette)
                if (field := box.findChild(QLineEdit)) is not None:  # a spin box's text field paints the background
                    field.setPalette(palette)
