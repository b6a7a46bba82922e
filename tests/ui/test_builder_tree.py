"""The builder with branching networks: templates dropped in one go, drops into any lane, moves across
levels, a residual's broken merge with its fix, collapsing, branches added and removed, the drawing's
lanes; every edit undone and redone. Drops go through the stack's dropEvent with the palette's MIME data."""
import json

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QDragMoveEvent, QDropEvent

from convviz.engine import Volume
from convviz.model.presets import load_preset
from convviz.model.templates import TEMPLATES
from convviz.ui.builder.document import Shift
from convviz.ui.builder.stack import BLOCK_MIME, TITLE_HEIGHT, frame_rect


def arch(window):
    return window.document.arch


def info(window, path):
    return window.document.inference.block(path)


def mime_of(window, entry):
    palette = window.builder.palette_list
    return palette.mimeData([palette.item(palette.row_of(entry))])


def row_index(window, role, path):
    model = window.builder.model
    return next(r for r in range(model.rowCount()) if (model.row(r).role, model.row(r).path) == (role, tuple(path)))


def drop(window, mime, role, path, upper=True, action=Qt.CopyAction):
    """Drop mime over the upper or lower half of the stack row showing (role, path)."""
    stack = window.builder.stack
    rect = stack.visualRect(window.builder.model.index(row_index(window, role, path)))
    stack.scrollTo(window.builder.model.index(row_index(window, role, path)))
    rect = stack.visualRect(window.builder.model.index(row_index(window, role, path)))
    y = rect.top() + 3 if upper else rect.bottom() - 3
    event = QDropEvent(QPointF(rect.center().x(), y), action, mime, Qt.LeftButton, Qt.NoModifier)
    stack.dropEvent(event)
    assert event.isAccepted()
    return event


def undo_redo(window, before, after):
    """One undo gives `before` back, one redo `after` (architectures as dicts)."""
    stack = window.document.undo_stack
    stack.undo()
    assert arch(window).to_dict() == before
    stack.redo()
    assert arch(window).to_dict() == after


@pytest.fixture
def resnet(window):
    window.load_preset("resnet20")
    return window


EXPECTED = {  # dropped after conv 0 of the ConvNetJS net, fed 32x32x16: (container's output, lanes' outputs)
    "basic-residual": (Volume(32, 32, 16), [Volume(32, 32, 16)] * 2),
    "bottleneck-residual": (Volume(32, 32, 16), [Volume(32, 32, 16)] * 2),
    "downsampling-residual": (Volume(16, 16, 32), [Volume(16, 16, 32)] * 2),
    "inception": (Volume(32, 32, 256), [Volume(32, 32, 64), Volume(32, 32, 128), Volume(32, 32, 32),
                                        Volume(32, 32, 32)]),
}


def test_each_template_drops_in_one_undo_step_with_its_volumes(window):
    assert set(EXPECTED) == set(TEMPLATES)
    original = arch(window).to_dict()
    for name, (output, lanes) in EXPECTED.items():
        drop(window, mime_of(window, {"template": name}), "block", (1,))     # before the ReLU after conv 0
        dropped = info(window, (1,))
        assert dropped.is_container and dropped.input == Volume(32, 32, 16)
        assert (dropped.output, dropped.merge_inputs) == (output, lanes), name
        assert not dropped.errors and window.document.selected == (1,)
        inserted = len(TEMPLATES[name].blocks(Volume(32, 32, 16)))
        assert len(arch(window).layers) == 11 + inserted
        after = arch(window).to_dict()
        undo_redo(window, original, after)
        window.document.undo_stack.undo()
    assert arch(window).to_dict() == original


def test_a_conv_dropped_into_a_residual_body_breaks_its_merge_until_fixed(resnet, qtbot):
    window = resnet
    before = arch(window).to_dict()
    drop(window, mime_of(window, {"type": "conv"}), "block", (3, 0, 2))   # before the body's ReLU
    assert [b.type for b in arch(window).block((3,)).lanes[0]] == ["conv", "batchnorm", "conv", "relu", "conv",
                                                                    "batchnorm"]
    assert info(window, (3, 0, 2)).output == Volume(30, 30, 16)            # the default conv: 3x3, no padding
    residual = info(window, (3,))
    assert residual.errors and residual.output is None
    merge = window.builder.model.row(row_index(window, "merge", (3,)))
    assert merge.errors and "shortcut gives 32x32x16" in merge.errors[0]
    after = arch(window).to_dict()
    undo_redo(window, before, after)

    window.builder.select((3,))                                           # the red state in the inspector
    inspector = window.builder.inspector
    assert "✖" in inspector.merge_label.text() and "30x30x16" in inspector.merge_label.text()
    card = inspector.problem_cards[0]
    texts = " ".join(label.text() for label in card.findChildren(type(inspector.title_label)))
    assert "body:" in texts and "shortcut: the identity -> 32x32x16" in texts      # the formula, lane by lane
    labels = [b.text() for b in card.fix_buttons]
    assert any("pad 1 in block 3.body[2]" in t and "the network is valid" in t for t in labels), labels
    button = next(b for b in card.fix_buttons if "pad 1 in block 3.body[2]" in b.text())
    qtbot.mouseClick(button, Qt.LeftButton)
    assert window.current_inference().valid and info(window, (3,)).output == Volume(32, 32, 16)
    undo_redo(window, after, arch(window).to_dict())


def test_a_residual_whose_body_changes_the_volume_is_fixed_by_a_projection(resnet, qtbot):
    window = resnet
    window.builder.select((3, 0, 3))                                        # the body's second conv
    before = arch(window)
    window.builder.inspector.editors["filters"].setValue(32)
    broken = arch(window).to_dict()
    assert before.block((3, 0, 3)).params["filters"] == 16                  # the state undo returns to is intact
    assert arch(window).layers[5] is before.layers[5]                       # and shares what the edit left alone
    window.builder.select((3,))
    card = window.builder.inspector.problem_cards[0]
    button = next(b for b in card.fix_buttons if "project the shortcut" in b.text().lower())
    qtbot.mouseClick(button, Qt.LeftButton)
    shortcut = arch(window).block((3,)).lanes[1]
    assert [b.type for b in shortcut] == ["conv", "batchnorm"] and shortcut[0].params["size"] == 1
    assert info(window, (3,)).output == Volume(32, 32, 32) and not info(window, (3,)).errors
    assert window.builder.model.row_of((3, 1, 0)) is not None                # the shortcut's rows appear
    undo_redo(window, broken, arch(window).to_dict())


def test_a_conv_dropped_into_the_second_branch_of_a_concat(window):
    window.document.insert_template((1,), "inception")
    before = arch(window).to_dict()
    drop(window, mime_of(window, {"type": "conv"}), "lane", (1, 1), upper=False)   # the top of branch 1
    branch = arch(window).block((1,)).lanes[1]
    assert [b.type for b in branch][:2] == ["conv", "conv"]
    assert info(window, (1, 1, 0)).output == Volume(30, 30, 16)
    assert info(window, (1,)).errors                                        # 30x30 cannot stack with 32x32
    undo_redo(window, before, arch(window).to_dict())


def test_blocks_move_between_branches_and_out_of_a_container(window):
    window.document.insert_template((1,), "inception")
    model = window.builder.model
    start = arch(window).to_dict()
    pool = model.mimeData([model.index(row_index(window, "block", (1, 3, 0)))])    # branch 3's max pool
    assert json.loads(bytes(pool.data(BLOCK_MIME)).decode()) == {"path": [1, 3, 0]}
    drop(window, pool, "block", (1, 0, 0), action=Qt.MoveAction)                  # to the top of branch 0
    lanes = arch(window).block((1,)).lanes
    assert lanes[0][0].type == "maxpool" and lanes[3][0].type == "conv"
    assert window.document.selected == (1, 0, 0)
    moved = arch(window).to_dict()
    undo_redo(window, start, moved)
    relu = model.mimeData([model.index(row_index(window, "block", (1, 0, 3)))])    # out of the container
    drop(window, relu, "block", (2,), upper=False, action=Qt.MoveAction)          # after the ReLU behind it
    assert [b.type for b in arch(window).layers[1:4]] == ["concat", "relu", "relu"]
    assert len(arch(window).block((1,)).lanes[0]) == 3
    undo_redo(window, moved, arch(window).to_dict())
    container = model.mimeData([model.index(row_index(window, "container", (1,)))])
    drop(window, container, "block", (1, 0, 0), action=Qt.MoveAction)             # never into itself
    assert arch(window).block((1,)).type == "concat"


def test_an_empty_shortcut_is_a_drop_target_and_the_line_shows_the_lane(resnet):
    window = resnet
    stack = window.builder.stack
    r = row_index(window, "empty", (3, 1))
    stack.scrollTo(window.builder.model.index(r))
    rect = stack.visualRect(window.builder.model.index(r))
    mime = mime_of(window, {"type": "batchnorm"})                          # kept: the event does not own it
    event = QDragMoveEvent(QPoint(rect.center().x(), rect.top() + 3), Qt.CopyAction, mime, Qt.LeftButton,
                           Qt.NoModifier)
    stack.dragMoveEvent(event)
    assert stack.drop_at == (r, True) and stack.point_at(event.position().toPoint()) == (3, 1, 0)
    image = stack.viewport().grab().toImage()
    highlight = stack.palette().highlight().color()
    inner_left, _ = frame_rect(rect, 1)
    outer_left, _ = frame_rect(rect, 0)
    assert QColor(image.pixel(inner_left + 40, rect.top())) == highlight         # the line starts in the lane
    assert QColor(image.pixel(outer_left + 2, rect.top())) != highlight
    drop(window, mime_of(window, {"type": "batchnorm"}), "empty", (3, 1))
    assert [b.type for b in arch(window).block((3,)).lanes[1]] == ["batchnorm"]


def test_collapse_and_expand_change_the_view_only(resnet, qtbot, tmp_path):
    window = resnet
    model, stack = window.builder.model, window.builder.stack
    rows = model.rowCount()
    header = model.index(row_index(window, "container", (3,)))
    stack.scrollTo(header)
    qtbot.mouseDClick(stack.viewport(), Qt.LeftButton, pos=stack.visualRect(header).center())
    collapsed = model.row(row_index(window, "container", (3,)))
    assert collapsed.collapsed and model.rowCount() == rows - 9            # 2 lane rows, 5 blocks, identity, merge
    assert stack.itemDelegate().sizeHint(None, model.index(row_index(window, "container", (3,)))).height() \
        == TITLE_HEIGHT + 4                                                    # one line
    assert (collapsed.volume, collapsed.params) == ("32x32x16", "4,672 params")
    assert not window.isWindowModified() and window.document.undo_stack.count() == 0
    assert window.builder.drawing.groups[0].path != (3,)                    # drawn as one box too
    window.document.delete((0,))                                             # edits keep it collapsed ...
    assert (2,) in model.collapsed and model.row(model.row_of((2,))).collapsed
    assert window.builder.drawing.collapsed == {(2,)}
    window.document.undo_stack.undo()                                       # ... where undo puts it back
    assert model.collapsed == {(3,)}
    window.document.undo_stack.redo()
    window.document.undo_stack.undo()
    window.builder.select((3, 0, 1))                                        # selecting a hidden block expands it
    assert model.collapsed == set() and window.document.selected == (3, 0, 1)
    window.builder.select((3,))
    qtbot.keyClick(stack, Qt.Key_Left)                                      # ← collapses, → expands
    assert model.collapsed == {(3,)}
    qtbot.keyClick(stack, Qt.Key_Right)
    assert model.collapsed == set()
    window.builder.collapse_button.click()
    assert model.collapsed == set(model.containers()) and model.rowCount() < 30
    path = tmp_path / "resnet.json"
    assert window.save_to(path)
    assert "collapsed" not in path.read_text()
    window.builder.expand_button.click()
    assert model.rowCount() == rows


def test_a_tree_is_saved_and_reopened_whole(resnet, tmp_path):
    window = resnet
    window.document.insert_template((3,), "inception")
    path = tmp_path / "tree.json"
    assert window.save_to(path)
    saved = arch(window).to_dict()
    window.load_preset("convnetjs")
    assert window.open_file(path)
    assert arch(window).to_dict() == saved and json.loads(path.read_text())["version"] == 2
    assert window.builder.model.row_of((3, 2, 4)) is not None


def test_branches_are_added_and_removed_from_the_inspector(window, qtbot):
    window.document.insert_template((1,), "inception")
    window.builder.select((1,))
    inspector = window.builder.inspector
    before = arch(window).to_dict()
    qtbot.mouseClick(inspector.lane_buttons["add"], Qt.LeftButton)
    assert len(arch(window).block((1,)).lanes) == 5
    assert info(window, (1,)).output == Volume(32, 32, 272)                # the empty branch passes 16 on
    assert window.builder.model.row_of((1,)) is not None and row_index(window, "empty", (1, 4))
    added = arch(window).to_dict()
    undo_redo(window, before, added)
    qtbot.mouseClick(inspector.lane_buttons["remove 1"], Qt.LeftButton)
    assert [len(lane) for lane in arch(window).block((1,)).lanes] == [3, 6, 4, 0]
    undo_redo(window, added, arch(window).to_dict())
    window.load_preset("resnet20")
    window.builder.select((3,))
    assert set(window.builder.inspector.lane_buttons) == set()             # a residual has body and shortcut


def test_keyboard_moves_stay_within_the_lane(resnet):
    window = resnet
    window.builder.select((3, 0, 1))
    window.move_down_action.trigger()
    assert [b.type for b in arch(window).block((3,)).lanes[0]][1:3] == ["relu", "batchnorm"]
    assert window.document.selected == (3, 0, 2)
    window.builder.select((3, 0, 4))
    window.move_down_action.trigger()                                       # the last of its lane: stays
    assert window.document.selected == (3, 0, 4) and window.document.undo_stack.count() == 1
    window.duplicate_action.trigger()
    assert len(arch(window).block((3,)).lanes[0]) == 6
    window.delete_action.trigger()
    window.delete_action.trigger()
    assert len(arch(window).block((3,)).lanes[0]) == 4
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    assert arch(window).to_dict() == load_preset("resnet20").to_dict()


def test_the_drawing_splits_into_lanes_and_folds_repeated_blocks(window, qtbot):
    window.load_preset("resnet56")
    drawing = window.builder.drawing
    assert [g.repeat for g in drawing.groups] == [9, 1, 8, 1, 8]          # 27 blocks drawn as 5
    merged = [b for b in drawing.boxes if b.path == drawing.groups[0].path and not b.operator][0]
    assert merged.label == "32x32x16" and "× 9 (blocks 3–19)" in merged.below
    projection = next(b for b in drawing.boxes if b.path == (21, 1, 0) and b.operator)   # a shortcut's 1x1 conv
    assert projection.baseline > merged.baseline                           # on a lane below the line
    point = QPoint(int(drawing._offset.x() + projection.x + projection.slot / 2),
                   int(drawing._offset.y() + projection.baseline - 2))
    qtbot.mouseClick(drawing, Qt.LeftButton, pos=point)
    assert window.document.selected == (21, 1, 0)
    window.load_preset("googlenet")
    concat = window.builder.drawing.groups[0]
    assert len(concat.lanes) == 4 and concat.merge_title == "concat"
    firsts = [lane.baseline for lane in concat.lanes]
    assert firsts == sorted(firsts) and len(set(firsts)) == 4               # four parallel rows


def test_palette_entries_go_where_the_selection_is(resnet, qtbot):
    window = resnet
    model, stack, palette = window.builder.model, window.builder.stack, window.builder.palette_list
    empty = model.index(row_index(window, "empty", (3, 1)))
    assert "identity" in model.data(empty, Qt.ToolTipRole) and "shortcut" in model.data(empty, Qt.ToolTipRole)
    stack.setCurrentIndex(model.index(row_index(window, "lane", (3, 1))))        # the shortcut's caption
    palette.setCurrentItem(palette.item(palette.row_of({"type": "batchnorm"})))
    qtbot.keyClick(palette, Qt.Key_Return)
    assert [b.type for b in arch(window).block((3,)).lanes[1]] == ["batchnorm"]
    window.builder.select((3,))                                                 # a container: after it
    palette.setCurrentItem(palette.item(palette.row_of({"template": "downsampling-residual"})))
    qtbot.keyClick(palette, Qt.Key_Return)
    assert arch(window).block((4,)).type == "residual" and info(window, (4,)).output == Volume(16, 16, 32)
    window.document.undo_stack.undo()
    window.document.undo_stack.undo()
    assert arch(window).to_dict() == load_preset("resnet20").to_dict()


@pytest.mark.parametrize("shift", [Shift("insert", (2,), 2), Shift("remove", (1, 0, 1)), Shift("move", (1,), 1, (3, 1, 0)),
                                   Shift("move", (4, 0, 2), 1, (0,)), Shift("lane", (3, 1), 1), Shift("lane", (3, 1), -1)])
def test_paths_follow_each_kind_of_edit_and_back(shift):
    paths = [(0,), (1,), (1, 0, 0), (1, 0, 2), (2,), (3,), (3, 0, 0), (3, 1, 0), (3, 2, 1), (4,), (4, 0, 2), (4, 0, 3)]
    for path in paths:
        moved = shift.apply(path)
        if moved is not None:
            assert shift.inverse().apply(moved) == path, (shift, path, moved)
    assert Shift("insert", (2,), 2).apply((3, 0, 1)) == (5, 0, 1)          # a container after the point moves on
    assert Shift("remove", (1,)).apply((1, 0, 0)) is None                    # its blocks go with it
    assert Shift("move", (1,), 1, (3, 1, 0)).apply((1, 0, 0)) == (3, 1, 0, 0, 0)


def test_a_block_moves_into_a_container_further_down(window):
    window.document.insert_template((3,), "inception")
    window.document.move((0,), (3, 1, 0))                                    # conv 0 into branch 1
    assert arch(window).block((2, 1, 0)).type == "conv" and arch(window).layers[0].type == "relu"
    assert window.document.selected == (2, 1, 0)
    window.document.move((2, 1, 0), (2, 1, 0))                                # onto itself: nothing
    window.document.move((2,), (2, 0, 1))                                     # into itself: nothing
    assert window.document.undo_stack.count() == 2
