"""The inspector: a form generated from the selected layer's Hyper declarations (spin boxes with the
declared limits, check boxes, choice lists), its volumes and costs, and its problems with formulas
and fix buttons. For a container: its lanes (branches can be added and removed), the volumes that
meet at its merge (red with the formula and the fixes when they disagree) and its totals."""
from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (QAbstractButton, QCheckBox, QComboBox, QDoubleSpinBox, QFrame, QGridLayout,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea, QSizePolicy, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from ...engine import LAYER_TYPES, Hyper
from ...engine.layers import BLOCK_TYPES, CONTAINER_TYPES
from ...engine.tree import Path
from ...model.inference import CLASSES_HYPER, INPUT_HYPERS
from ...model.names import block_names, lane_title, name_of
from ...units import count, size_bytes
from ..lessons.sharing import sharing_html
from .document import INPUT, BuilderDocument
from .style import ERROR, FAULT_BACKGROUNDS, WARNING, icon


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
    """Shows the block selected in the stack: a path, INPUT (the empty path) or None for nothing."""

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
        self.title_label.setWordWrap(True)
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

        self.lanes_host = QWidget()  # a container's lanes, with buttons to add and remove them
        self.lanes = QGridLayout(self.lanes_host)
        self.lanes.setContentsMargins(0, 6, 0, 6)
        outer.addWidget(self.lanes_host)
        self.merge_label = QLabel()  # the volumes meeting at a container's merge
        self.merge_label.setObjectName("merge")
        self.merge_label.setWordWrap(True)
        self.merge_label.setTextFormat(Qt.RichText)
        outer.addWidget(self.merge_label)

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

        self.path: Path | None = None
        self._form_for: tuple | None = None
        self._lanes_for: tuple | None = None
        self.editors: dict[str, QWidget] = {}  # hyperparameter name -> its editor() widget
        self.lane_buttons: dict[str, QAbstractButton] = {}  # "add", "remove 2": a container's lane buttons
        self.problem_cards: list[ProblemCard] = []
        document.changed.connect(self.refresh)
        self.show_block(None)

    def show_block(self, path: Path | None) -> None:
        self.path = None if path is None else tuple(path)
        self.refresh()

    def refresh(self, *_) -> None:
        """Rebuild the form only when the selected block (or its type) changed; else update values
        in place so a spin box being edited keeps its focus."""
        arch = self.document.arch
        path = self.path
        block = arch.block(path) if path else None
        if path and block is None:
            path = self.path = None
        key = None if path is None else (path, "input" if path == INPUT else block.type)
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
        path, layer_type = key
        if path == INPUT:
            self.icon_label.setPixmap(icon("input").pixmap(28, 28))
            self.title_label.setText("<b>INPUT</b>")
            self.summary_label.setText("The image volume fed to the network: width x height x depth "
                                       "(32x32x3 for CIFAR-10).")
            for hyper in INPUT_HYPERS + (CLASSES_HYPER,):
                box = editor(hyper, hyper.default)
                on_edit(box, lambda v, name=hyper.name: self.document.set_input(name, v))
                self._add_field(hyper.name, box)
            return
        declared = BLOCK_TYPES.get(layer_type)
        self.icon_label.setPixmap(icon(layer_type).pixmap(28, 28))
        title = declared.title if declared else layer_type
        info = self.document.inference.block(path)
        name = name_of(block_names(self.document.inference.blocks), path)
        self.title_label.setText(f"<b>{title}</b> <span style='color:gray'>· block {info.label}<br>{name}</span>")
        self.summary_label.setText(declared.summary if declared else f"Unknown layer type {layer_type!r}.")
        for hyper in declared.hypers if declared else ():
            box = editor(hyper, hyper.default)
            on_edit(box, lambda v, name=hyper.name, p=path: self.document.set_param(p, name, v))
            self._add_field(hyper.name, box)

    def _update_values(self) -> None:
        if self._form_for is None:
            return
        path, layer_type = self._form_for
        arch = self.document.arch
        if path == INPUT:
            values = {**arch.input._asdict(), "classes": arch.classes}
            for name, box in self.editors.items():
                set_quietly(box, values[name])
            return
        declared = LAYER_TYPES.get(layer_type)
        if declared and self.editors:
            values = declared.resolve(arch.block(path).params)
            for name, box in self.editors.items():
                set_quietly(box, values[name])

    def _update_details(self) -> None:
        for card in self.problem_cards:
            self.problems.removeWidget(card)
            card.hide()
            card.deleteLater()
        self.problem_cards = []
        inference = self.document.inference
        info = None if self._form_for is None or self._form_for[0] == INPUT else inference.block(self._form_for[0])
        self._update_lanes(info)
        self.sharing_label.setText(sharing_html(info))
        if self._form_for is None:
            self.volume_label.clear()
            return
        if info is None:
            self.volume_label.setText(f"Output volume <b>{self.document.arch.input}</b>")
            problems = [(p, True) for p in inference.errors if p.path is None]
            problems += [(p, False) for p in inference.warnings if p.path is None]
        else:
            rows = [("Input", _bold(info.input)), ("Output", _bold(info.output))]
            if info.is_container:
                leaves = sum(1 for b in _within(info) if not b.is_container)
                rows.insert(0, ("Totals", f"{leaves} layer{'s' * (leaves != 1)} in {len(info.lanes)} lanes"))
            rows += [("Parameters", f"{info.params:,}"), ("Mult-adds", count(info.macs)),
                     ("Memory", size_bytes(info.memory_bytes)),
                     ("Receptive field", "–" if info.receptive_field is None else str(info.receptive_field))]
            self.volume_label.setText("<table cellspacing=2>" + "".join(
                f"<tr><td>{name}</td><td>{value}</td></tr>" for name, value in rows) + "</table>")
            problems = [(p, True) for p in info.errors] + [(p, False) for p in info.warnings]
        for problem, error in problems:
            card = ProblemCard(problem, error, self.document)
            self.problems.addWidget(card)
            self.problem_cards.append(card)
        self._mark_editors(problems)

    def _update_lanes(self, info) -> None:
        """A container's lanes (name, blocks, output volume; remove buttons where it may lose one, an
        add button where it may gain one) and the volumes meeting at its merge; hidden for leaves."""
        container = CONTAINER_TYPES.get(info.type) if info is not None and info.is_container else None
        self.lanes_host.setVisible(container is not None)
        self.merge_label.setVisible(container is not None)
        if container is None:
            self._lanes_for = None
            return
        block = self.document.arch.block(info.path)
        shape = (info.path, tuple(len(lane) for lane in block.lanes), tuple(map(str, info.merge_inputs)))
        if shape != self._lanes_for:
            self._lanes_for = shape
            self._fill_lanes(info, container, block)
        meeting = [f"{lane_title(container, j)} <b>{_bold(v)}</b>" for j, v in enumerate(info.merge_inputs)]
        joiner = f" {container.merge_title} " if len(container.merge_title) == 1 else ", "
        if info.output is not None:
            self.merge_label.setText(f"<b>{container.merge_title}</b>: {joiner.join(meeting)} → <b>{info.output}</b>")
        elif any(v is None for v in info.merge_inputs):
            self.merge_label.setText(f"<b>{container.merge_title}</b>: {joiner.join(meeting)} → ? (a lane's volume "
                                     f"cannot be computed)")
        else:
            self.merge_label.setText(f"<span style='color:{ERROR.name()}'><b>✖ {container.merge_title}</b>: "
                                     f"{joiner.join(meeting)}: they do not fit together</span>")

    def _fill_lanes(self, info, container, block) -> None:
        while self.lanes.count():
            item = self.lanes.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()
                item.widget().deleteLater()
        self.lane_buttons = {}
        heading = QLabel(f"<b>{'Lanes' if container.lane_fields else 'Branches'}</b> (each fed the input "
                         f"{_bold(info.input)})")
        heading.setWordWrap(True)
        self.lanes.addWidget(heading, 0, 0, 1, 3)
        removable = len(block.lanes) > container.min_lanes
        for j, lane in enumerate(block.lanes):
            out = info.merge_inputs[j] if j < len(info.merge_inputs) else None
            text = f"{len(lane)} block{'s' * (len(lane) != 1)}" if lane else "identity"
            self.lanes.addWidget(QLabel(lane_title(container, j)), j + 1, 0)
            self.lanes.addWidget(QLabel(f"{text} → <b>{_bold(out)}</b>"), j + 1, 1)
            if removable:
                button = QToolButton()
                button.setText("✕")
                button.setAutoRaise(True)
                button.setToolTip(f"Remove {lane_title(container, j)} and its blocks (undoable)")
                button.clicked.connect(lambda _=False, k=j: self.document.remove_lane(info.path, k))
                self.lanes.addWidget(button, j + 1, 2)
                self.lane_buttons[f"remove {j}"] = button
        if len(block.lanes) < container.max_lanes:
            button = QPushButton(f"Add {lane_title(container, len(block.lanes))}")
            button.setToolTip("Add an empty lane (it passes its input on until you drop blocks into it)")
            button.clicked.connect(lambda: self.document.add_lane(info.path))
            self.lanes.addWidget(button, len(block.lanes) + 1, 0, 1, 3)
            self.lane_buttons["add"] = button
        self.lanes.setColumnStretch(1, 1)

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


def _bold(volume) -> str:
    return str(volume) if volume is not None else "?"


def _within(info):
    """The BlockInfos inside a container, at any depth."""
    for lane in info.lanes:
        for b in lane:
            yield b
            yield from _within(b)
