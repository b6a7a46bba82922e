"""The builder as a person uses it on a plain stack: drops from the palette, moves, Delete, undo/redo,
spin boxes, invalid blocks and their fixes. Drops go through the real dropEvent with the palette's own
MIME data. (Containers and templates: test_builder_tree.py.)"""
import json

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QDropEvent

from convviz.engine import LAYER_TYPES
from convviz.engine.layers import CONTAINER_TYPES
from convviz.model.templates import TEMPLATES
from convviz.ui.builder.document import INPUT
from convviz.ui.builder.stack import BLOCK_MIME, LAYER_MIME, ROW_ROLE

CONVNETJS_TYPES = ["conv", "relu", "maxpool", "conv", "relu", "maxpool", "conv", "relu", "maxpool", "fc", "softmax"]


def types(window):
    return [layer.type for layer in window.current_architecture().layers]


def volumes(window):
    """The output volume each stack row shows (row 0 is INPUT)."""
    model = window.builder.model
    return [model.index(r).data(ROW_ROLE).volume for r in range(model.rowCount())]


def palette_mime(window, layer_type=None, template=None):
    """The MIME data the palette really produces when an entry is dragged."""
    palette = window.builder.palette_list
    row = palette.row_of({"template": template} if template else {"type": layer_type})
    return palette.mimeData([palette.item(row)])


def drop_on_stack(window, mime, gap_row, upper_half=True, action=Qt.CopyAction):
    """Drop mime on the stack over row gap_row (upper half: before it, lower half: after it)."""
    stack = window.builder.stack
    rect = stack.visualRect(window.builder.model.index(gap_row))
    y = rect.top() + 3 if upper_half else rect.bottom() - 3
    event = QDropEvent(QPointF(rect.center().x(), y), action, mime, Qt.LeftButton, Qt.NoModifier)
    stack.dropEvent(event)
    return event


def select_block(window, path):
    window.builder.select(path)
    assert window.document.selected == path


def test_default_network_is_the_convnetjs_demo(window):
    assert types(window) == CONVNETJS_TYPES
    assert volumes(window)[:4] == ["32x32x3", "32x32x16", "32x32x16", "16x16x16"]
    assert window.current_inference().valid
    assert "22,466" in window.builder.totals.params.text()


def test_palette_offers_every_layer_container_and_template_with_its_tooltip(window):
    palette = window.builder.palette_list
    entries = [palette.entry(r) for r in range(palette.count())]
    headings = [palette.item(r).text() for r, e in enumerate(entries) if e is None]
    assert headings == ["LAYERS", "CONTAINERS", "READY-MADE BLOCKS"]
    assert [e for e in entries if e] == ([{"type": n} for n in LAYER_TYPES] + [{"type": n} for n in CONTAINER_TYPES]
                                         + [{"template": n} for n in TEMPLATES])
    for r, entry in enumerate(entries):
        if entry is None:
            assert not palette.item(r).flags() & Qt.ItemIsDragEnabled
            continue
        declared = TEMPLATES[entry["template"]] if "template" in entry else \
            {**LAYER_TYPES, **CONTAINER_TYPES}[entry["type"]]
        assert palette.item(r).text() == declared.title
        assert (declared.tooltip if "template" in entry else declared.summary) in palette.item(r).toolTip()
        assert not palette.item(r).icon().isNull()
    mime = palette_mime(window, "dropout")
    assert json.loads(bytes(mime.data(LAYER_MIME)).decode()) == {"type": "dropout"}
    mime = palette_mime(window, template="inception")
    assert json.loads(bytes(mime.data(LAYER_MIME)).decode()) == {"template": "inception"}


def test_drop_from_palette_inserts_at_the_gap_and_undoes(window, qtbot):
    mime = palette_mime(window, "batchnorm")
    with qtbot.waitSignal(window.architectureChanged) as signal:
        event = drop_on_stack(window, mime, gap_row=2)          # upper half of row 2: before layer 1
    assert event.isAccepted()
    assert types(window)[:3] == ["conv", "batchnorm", "relu"]
    arch, inference = signal.args
    assert [layer.type for layer in arch.layers][1] == "batchnorm" and inference.blocks[1].output is not None
    assert window.document.selected == (1,)
    drop_on_stack(window, palette_mime(window, "dropout"), gap_row=window.builder.model.rowCount() - 1,
                  upper_half=False)                              # below the last block: appended
    assert types(window)[-1] == "dropout"
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    assert types(window) == CONVNETJS_TYPES
    window.document.undo_stack.redo()
    assert types(window)[1] == "batchnorm"


def test_drop_never_goes_above_input_and_ignores_foreign_data(window):
    drop_on_stack(window, palette_mime(window, "tanh"), gap_row=0)   # over INPUT: becomes the first layer
    assert types(window)[0] == "tanh"
    foreign = QMimeData()
    foreign.setText("conv")
    event = drop_on_stack(window, foreign, gap_row=1)
    assert not event.isAccepted()
    bogus = QMimeData()
    bogus.setData(LAYER_MIME, b'{"type": "os.system"}')
    assert not window.builder.model.drop(bogus, (1,))
    bogus.setData(LAYER_MIME, b'{"template": "nothing"}')
    assert not window.builder.model.drop(bogus, (1,))
    assert types(window)[1:] == CONVNETJS_TYPES


def test_drag_a_block_to_reorder_it(window):
    model = window.builder.model
    mime = model.mimeData([model.index(10)])                     # row 10 = layer 9: the fc block
    assert json.loads(bytes(mime.data(BLOCK_MIME)).decode()) == {"path": [9]}
    drop_on_stack(window, mime, gap_row=1, action=Qt.MoveAction)  # before the first layer
    assert types(window) == ["fc"] + CONVNETJS_TYPES[:9] + ["softmax"]
    assert window.document.selected == (0,)
    mime = model.mimeData([model.index(1)])
    drop_on_stack(window, mime, gap_row=model.rowCount() - 1, upper_half=True, action=Qt.MoveAction)
    assert types(window) == CONVNETJS_TYPES
    window.document.undo_stack.undo()
    assert types(window)[0] == "fc"


def test_delete_key_duplicate_and_undo(window, qtbot):
    select_block(window, (1,))
    window.builder.stack.setFocus()
    qtbot.keyClick(window.builder.stack, Qt.Key_Delete)
    assert types(window) == CONVNETJS_TYPES[:1] + CONVNETJS_TYPES[2:]
    assert window.document.selected == (1,)                       # the next block is selected
    window.duplicate_action.trigger()
    assert types(window)[1:3] == ["maxpool", "maxpool"]
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert types(window) == CONVNETJS_TYPES
    select_block(window, INPUT)
    qtbot.keyClick(window.builder.stack, Qt.Key_Delete)          # INPUT cannot be deleted
    assert types(window) == CONVNETJS_TYPES


def test_double_click_in_palette_adds_after_the_selected_block(window, qtbot):
    select_block(window, (0,))
    palette = window.builder.palette_list
    item = palette.item(palette.row_of({"type": "leakyrelu"}))
    rect = palette.visualItemRect(item)
    qtbot.mouseClick(palette.viewport(), Qt.LeftButton, pos=rect.center())   # a double-click is a press,
    qtbot.mouseDClick(palette.viewport(), Qt.LeftButton, pos=rect.center())  # release, then the second press
    assert types(window)[1] == "leakyrelu"
    assert types(window).count("leakyrelu") == 1
    palette.setCurrentItem(palette.item(palette.row_of({"type": "conv"})))
    qtbot.keyClick(palette, Qt.Key_Return)                                   # Enter adds the current entry
    assert types(window)[2] == "conv"


def test_spin_box_edit_changes_every_downstream_volume(window, qtbot):
    select_block(window, (0,))
    boxes = window.builder.inspector.editors
    assert set(boxes) == {h.name for h in LAYER_TYPES["conv"].hypers}
    before = volumes(window)
    with qtbot.waitSignal(window.architectureChanged):
        boxes["filters"].setValue(24)
    after = volumes(window)
    assert after[1:4] == ["32x32x24", "32x32x24", "16x16x24"]
    assert after[4:] == before[4:]                                # later convs set their own depth
    boxes["size"].setValue(3)                                      # pad 2 with 3x3: the volume grows
    assert volumes(window)[1] == "34x34x24" and volumes(window)[3] == "17x17x24"
    labels = [box.label for box in window.builder.drawing.boxes if not box.operator]
    assert labels[:3] == ["32x32x3", "34x34x24", "17x17x24"]
    assert window.builder.inspector.editors["filters"] is boxes["filters"]   # edited in place, not rebuilt
    window.document.undo_stack.undo()                              # one step per field edited
    assert volumes(window)[1] == "32x32x24" and boxes["size"].value() == 5


def test_typing_in_a_spin_box_is_one_undo_step(window, qtbot):
    select_block(window, (9,))                                    # fc
    box = window.builder.inspector.editors["units"]
    box.selectAll()
    qtbot.keyClicks(box, "128")
    assert window.current_architecture().layers[9].params["units"] == 128
    assert not window.current_inference().valid                    # 128 units but 10 classes
    window.document.undo_stack.undo()
    assert window.current_architecture().layers[9].params["units"] == 10
    assert box.value() == 10


def test_editors_hold_the_declared_limits_and_choices(window, qtbot):
    for layer_type, declared in LAYER_TYPES.items():
        window.document.insert_type((0,), layer_type)
        select_block(window, (0,))
        boxes = window.builder.inspector.editors
        assert set(boxes) == {h.name for h in declared.hypers}, layer_type
        for hyper in declared.hypers:
            box = boxes[hyper.name]
            if hyper.kind is str:
                assert [box.itemText(i) for i in range(box.count())] == list(hyper.choices)
                assert box.currentText() == hyper.default
            elif hyper.kind is bool:
                assert box.isChecked() == hyper.default
            else:
                assert (box.minimum(), box.maximum()) == (hyper.minimum, hyper.maximum)
                assert f"{box.value():g}" == f"{declared.resolve({})[hyper.name]:g}"  # shown to enough decimals
            assert hyper.help in box.toolTip()
    select_block(window, INPUT)
    assert set(window.builder.inspector.editors) == {"width", "height", "depth", "classes"}


def test_choice_and_switch_hyperparameters_are_edited_like_numbers(window, qtbot):
    """A conv's fit (a choice) and bias (a switch) edit the architecture, one undo step each."""
    select_block(window, (0,))
    editors = window.builder.inspector.editors
    editors["fit"].setCurrentText("crop")
    editors["bias"].setChecked(False)
    assert window.document.arch.layers[0].params["fit"] == "crop"
    assert window.document.arch.layers[0].params["bias"] is False
    window.document.undo_stack.undo()
    assert "bias" not in window.document.arch.layers[0].params or window.document.arch.layers[0].params["bias"]
    assert window.builder.inspector.editors["bias"].isChecked()
    select_block(window, INPUT)
    assert set(window.builder.inspector.editors) == {"width", "height", "depth", "classes"}


def block_colour(window, row):
    """The colour painted near the top of a stack row, inside the block."""
    stack = window.builder.stack
    rect = stack.visualRect(window.builder.model.index(row))
    image = stack.viewport().grab().toImage()
    return QColor(image.pixel(rect.center().x(), rect.top() + 5))


def test_invalid_edit_turns_the_block_red_and_a_fix_button_repairs_it(window, qtbot):
    select_block(window, (0,))
    normal = block_colour(window, 1)
    window.builder.inspector.editors["stride"].setValue(3)     # (32 - 5 + 4)/3 + 1 = 11.33
    block = window.builder.model.index(1).data(ROW_ROLE)
    assert block.errors and "11.3333" in block.errors[0]
    assert "11.3333" in window.builder.model.index(1).data(Qt.ToolTipRole)
    red = block_colour(window, 1)
    assert red.red() > red.blue() + 25 and normal.blue() > normal.red()
    assert not window.current_inference().valid
    assert "error" in window.builder.totals.status.text()
    totals = window.builder.totals
    assert [label.text() for label in (totals.params, totals.macs, totals.memory, totals.receptive_field)] == \
        ["Parameters <b>–</b>", "Mult-adds/image <b>–</b>", "Activations <b>–</b>",
         "Receptive field (last conv) <b>–</b>"]                   # no partial sums passed off as totals
    inspector = window.builder.inspector
    cards = inspector.problem_cards
    assert len(cards) == 1
    formula_text = " ".join(label.text() for label in cards[0].findChildren(type(inspector.title_label)))
    assert "(32 - 5 + 4)/3 + 1" in formula_text
    buttons = cards[0].fix_buttons
    assert buttons
    stride_fix = [b for b in buttons if "stride 1" in b.text()][0]
    qtbot.mouseClick(stride_fix, Qt.LeftButton)
    assert window.current_inference().valid
    assert window.current_architecture().layers[0].params["stride"] == 1
    assert not window.builder.model.index(1).data(ROW_ROLE).errors
    assert inspector.editors["stride"].value() == 1
    window.document.undo_stack.undo()                              # the fix is undoable
    assert window.current_architecture().layers[0].params["stride"] == 3


def test_the_spin_box_a_problem_names_is_tinted_until_fixed(window, qtbot):
    select_block(window, (2,))                                     # max pool 2x2
    boxes = window.builder.inspector.editors
    boxes["pad"].setValue(2)                                       # more than half the window
    assert boxes["pad"].property("problem") == "error"
    assert boxes["size"].property("problem") == boxes["stride"].property("problem") == ""
    card = window.builder.inspector.problem_cards[0]
    qtbot.mouseClick(card.fix_buttons[0], Qt.LeftButton)           # use pad 1
    assert window.current_architecture().layers[2].params["pad"] == 1
    assert boxes["pad"].property("problem") == ""


def test_warning_is_amber_not_red(window):
    select_block(window, (1,))
    window.document.insert_type((2,), "tanh")                     # relu then tanh: two activations in a row
    inference = window.current_inference()
    assert inference.valid and inference.warnings
    warned = [r for r in range(1, window.builder.model.rowCount())
              if window.builder.model.index(r).data(ROW_ROLE).warnings]
    assert warned
    colour = block_colour(window, warned[0])
    assert colour.red() > colour.blue() + 25 and colour.green() > colour.blue() + 10
    assert "warning" in window.builder.totals.status.text()


def test_input_block_edits_flow_through(window):
    select_block(window, INPUT)
    boxes = window.builder.inspector.editors
    boxes["width"].setValue(64)
    boxes["height"].setValue(64)
    assert volumes(window)[0] == "64x64x3" and volumes(window)[1] == "64x64x16"
    assert window.current_inference().valid                       # fc adapts to its input
    boxes["classes"].setValue(100)
    assert not window.current_inference().valid
    assert "Parameters <b>" in window.builder.totals.params.text() and "–" not in window.builder.totals.params.text()
    window.document.undo_stack.undo()
    assert window.current_architecture().classes == 10


@pytest.mark.parametrize("name, params", [("convnetjs", "22,466"), ("vgg16", "138,357,544")])
def test_presets_load_with_their_published_totals(window, name, params):
    window.load_preset(name)
    assert window.builder.totals.params.text().count(params) == 1
    assert window.current_inference().valid
    assert "preset" in window.windowTitle() and not window.isWindowModified()


def test_every_preset_is_in_the_menu_and_loads(window):
    from convviz.model.presets import load_preset, preset_names

    assert sorted(window.preset_actions) == sorted(preset_names())
    for name, action in window.preset_actions.items():
        action.trigger()
        assert window.current_architecture().to_dict() == load_preset(name).to_dict()
        shown = {window.builder.model.row(r).path for r in range(window.builder.model.rowCount())}
        assert shown >= {info.path for info in window.current_inference().walk()}  # every block has its row


def test_the_insertion_point_is_drawn_while_dragging(window):
    from PySide6.QtGui import QDragLeaveEvent, QDragMoveEvent

    stack = window.builder.stack
    mime = palette_mime(window, "conv")
    rect = stack.visualRect(window.builder.model.index(3))
    event = QDragMoveEvent(QPoint(rect.center().x(), rect.top() + 3), Qt.CopyAction, mime, Qt.LeftButton,
                           Qt.NoModifier)
    stack.dragMoveEvent(event)
    assert event.isAccepted() and stack.drop_at == (3, True) and stack.point_at(event.position().toPoint()) == (2,)
    highlight = stack.palette().highlight().color()
    image = stack.viewport().grab().toImage()
    line = [QColor(image.pixel(x, rect.top() - 1)) for x in range(20, stack.viewport().width() - 20, 10)]
    assert sum(c == highlight for c in line) > len(line) // 2        # a highlight line across the gap
    stack.dragLeaveEvent(QDragLeaveEvent())
    assert stack.drop_at is None
    assert types(window) == CONVNETJS_TYPES                         # hovering changes nothing


def test_clicking_a_volume_in_the_drawing_selects_its_block(window, qtbot):
    drawing = window.builder.drawing
    pool_out = [b for b in drawing.boxes if not b.operator][2]        # after conv 0 and the first pool
    assert pool_out.label == "16x16x16" and pool_out.path == (2,)
    point = QPoint(int(drawing._offset.x() + pool_out.x + pool_out.slot / 2), int(drawing._offset.y() + pool_out.baseline))
    qtbot.mouseClick(drawing, Qt.LeftButton, pos=point)
    assert window.document.selected == (2,)
    assert window.builder.inspector.editors.keys() == {"size", "stride", "pad", "fit"}
    assert drawing.selected == (2,)
    window.builder.select((1,))                                       # ReLU: listed under conv 0's volume
    assert drawing.selected == (1,) and (1,) in [b for b in drawing.boxes if not b.operator][1].listed
