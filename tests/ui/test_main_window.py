"""The window around the builder: files, the unsaved mark and the close question, settings, menus."""
import json

from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QLabel

from convviz.data import load_cifar10
from convviz.model.io import load_architecture
from convviz.ui.main_window import DEFAULT_SIZE, MainWindow, volume_formula_html


def edit_something(window):
    window.builder.select(0)
    window.builder.inspector.editors["filters"].setValue(8)


def test_unsaved_changes_are_marked_in_the_title(window):
    assert "[*]" in window.windowTitle() and not window.isWindowModified()
    edit_something(window)
    assert window.isWindowModified()
    window.document.undo_stack.undo()
    assert not window.isWindowModified()
    box = window.builder.inspector.editors["filters"]
    box.setValue(24)
    box.setValue(16)                                              # back to the saved value
    assert not window.isWindowModified() and window.document.undo_stack.count() == 0   # no step left
    assert window.current_architecture().layers[0].params["filters"] == 16


def test_save_and_open_round_trip(window, tmp_path):
    edit_something(window)
    window.document.insert_layer(1, "batchnorm")
    path = tmp_path / "net.json"
    assert window.save_to(path)
    assert not window.isWindowModified() and "net.json" in window.windowTitle()
    saved = window.current_architecture()
    assert load_architecture(path).to_dict() == saved.to_dict()
    window.new_network()
    assert window.current_architecture().layers == []
    assert window.open_file(path)
    assert window.current_architecture().to_dict() == saved.to_dict()
    assert not window.isWindowModified() and window.document.path == path
    assert window.recent_files()[0] == str(path.resolve())
    window.document.undo_stack.undo()                             # opening is not an undoable edit
    assert window.current_architecture().to_dict() == saved.to_dict()


def test_save_uses_the_known_path_or_asks(window, tmp_path):
    target = tmp_path / "chosen"
    window.choose_save_path = lambda title, filters, suffix: str(target) + suffix
    edit_something(window)
    assert window.save()
    assert (tmp_path / "chosen.json").exists()
    window.choose_save_path = lambda *args: ""                    # cancelled: nothing is asked again
    edit_something(window)
    window.document.insert_layer(0, "relu")
    assert window.save()                                          # saved to the same file, no dialog
    assert load_architecture(tmp_path / "chosen.json").layers[0].type == "relu"


def test_a_corrupt_file_shows_every_error_and_changes_nothing(window, tmp_path):
    before = window.current_architecture().to_dict()
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 1, "input": {"width": 32,')
    assert not window.open_file(broken)
    title, text = window.shown_errors[-1]
    assert "broken.json" in title and "line" in text
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 1, "input": {"width": 32, "height": 32, "depth": 3},
                               "layers": [{"type": "conv", "stride": "2"}, {"type": "warp"}]}))
    assert not window.open_file(bad)
    title, text = window.shown_errors[-1]
    assert "layers[0].stride" in text and "layers[1]" in text
    assert not window.open_file(tmp_path / "missing.json")
    assert "missing.json" in window.shown_errors[-1][1]
    assert window.current_architecture().to_dict() == before
    assert window.recent_files() == []


def test_close_asks_about_unsaved_changes(window, qtbot, tmp_path):
    edit_something(window)
    asked = []
    window.ask_save_changes = lambda: asked.append(1) or "cancel"
    window.close()
    assert asked and window.isVisible()                            # cancel keeps the window open
    window.ask_save_changes = lambda: "save"
    window.choose_save_path = lambda *args: str(tmp_path / "kept.json")
    window.close()
    assert not window.isVisible() and (tmp_path / "kept.json").exists()


def test_new_and_presets_ask_before_dropping_changes(window):
    edit_something(window)
    window.ask_save_changes = lambda: "cancel"
    window.new_network()
    window.load_preset("vgg16")
    assert len(window.current_architecture().layers) == 11 and window.isWindowModified()
    window.ask_save_changes = lambda: "discard"
    window.new_network()
    assert window.current_architecture().layers == [] and not window.isWindowModified()


def test_layout_and_recent_files_are_remembered(qtbot, settings, tmp_path):
    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    first.resize(777, 555)                                       # inside the 800x800 offscreen screen
    first.show()
    qtbot.waitExposed(first)
    first.builder.columns.setSizes([150, 600, 350])
    qtbot.wait(10)                                                # let any pending layout settle
    sizes = first.builder.columns.sizes()
    path = tmp_path / "r.json"
    first.save_to(path)
    first.close()
    again = MainWindow(settings=QSettings(settings.fileName(), QSettings.IniFormat))
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert (again.width(), again.height()) == (777, 555)
    assert again.builder.columns.sizes() == sizes
    assert again.recent_files() == [str(path.resolve())]
    again.recent_menu.aboutToShow.emit()
    assert [a.text() for a in again.recent_menu.actions()] == ["r.json"]
    path.unlink()
    again.shown_errors = []
    again.show_error = lambda title, text: again.shown_errors.append((title, text))
    again.recent_menu.actions()[0].trigger()                      # moved away since: say so, then forget it
    assert again.shown_errors and again.recent_files() == []


def test_a_corrupt_settings_file_does_not_stop_the_window(qtbot, tmp_path):
    path = tmp_path / "corrupt.ini"
    path.write_text("[window]\ngeometry=garbage\nstate=1, 2\n[builder]\nbuilderRows=7\n[General]\nrecentFiles=@Size(1 2)\n")
    window = MainWindow(settings=QSettings(str(path), QSettings.IniFormat))
    qtbot.addWidget(window)
    assert (window.width(), window.height()) == DEFAULT_SIZE
    assert window.recent_files() == []
    window.recent_menu.aboutToShow.emit()
    assert [a.text() for a in window.recent_menu.actions()] == ["(none)"]


def test_export_summary_writes_the_table(window, tmp_path):
    path = tmp_path / "summary.txt"
    assert window.export_summary(path)
    text = path.read_text()
    assert "22,466" in text and "32x32x16" in text and "softmax" in text
    assert [p.name for p in tmp_path.iterdir() if "summary" in p.name] == ["summary.txt"]  # no temporary left
    assert not window.export_summary(tmp_path / "missing" / "summary.txt")
    assert "missing" in window.shown_errors[-1][1]


def test_menus_shortcuts_and_help(window):
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert list(menus) == ["File", "Edit", "Presets", "Help"]
    file_items = [a.text().replace("&", "") for a in menus["File"].actions() if a.text()]
    assert file_items[:6] == ["New", "Open...", "Open Recent", "Save", "Save As...", "Export summary..."]
    edit_items = [a.text().replace("&", "") for a in menus["Edit"].actions() if a.text()]
    assert edit_items[2:] == ["Delete block", "Duplicate block", "Move block up", "Move block down",
                              "Convert FC layers to convolutions"]
    assert edit_items[0].startswith("Undo")
    assert window.undo_action.shortcut() == QKeySequence(QKeySequence.Undo)
    assert window.save_action.shortcut() == QKeySequence(QKeySequence.Save)
    assert window.delete_action.shortcut() == QKeySequence(QKeySequence.Delete)
    window.formula_action.trigger()
    title, html = window.shown_errors[-1]
    assert "(W − F + 2P) / S + 1" in html and "(10 - 3 + 0)/2 + 1" in html
    assert volume_formula_html() == html


def test_architecture_changed_carries_copies(window, qtbot):
    with qtbot.waitSignal(window.architectureChanged) as signal:
        window.document.insert_layer(0, "dropout")
    arch, inference = signal.args
    arch.layers.clear()                                           # a listener cannot edit the document
    assert window.current_architecture().layers[0].type == "dropout"
    assert inference is window.current_inference() and len(inference.blocks) == 12


def test_keyboard_tab_order_and_section_mnemonics(window, qtbot):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    builder = window.builder
    builder.palette_list.setFocus()
    qtbot.keyClick(builder.palette_list, Qt.Key_Tab)
    assert builder.stack.hasFocus()
    qtbot.keyClick(builder.stack, Qt.Key_Down)                     # arrows walk the blocks
    assert window.document.selected == 0
    assert "filters" in builder.inspector.editors
    qtbot.keyClick(builder.stack, Qt.Key_Tab)
    assert builder.inspector.isAncestorOf(QApplication.focusWidget())
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key_L, Qt.AltModifier)   # Alt+L: the layer palette
    assert builder.palette_list.hasFocus()


def test_network_level_problems_show_on_the_input_block_with_fixes(window):
    window.document.delete_layer(10)                               # no softmax any more
    window.builder.select(-1)
    cards = window.builder.inspector.problem_cards
    assert len(cards) == 1 and "softmax" in cards[0].findChild(QLabel).text()
    assert "softmax" in window.builder.model.index(0).data(Qt.ToolTipRole)
    cards[0].fix_buttons[0].click()
    assert window.current_inference().valid and window.current_architecture().layers[-1].type == "softmax"


def test_status_bar_says_why_training_cannot_start(window, sample_dir):
    no_data = "Ready — Load or download CIFAR-10, or choose an image folder, first (see Data)."
    assert window.run_state.text() == no_data
    window.builder.select(0)
    window.builder.inspector.editors["stride"].setValue(3)
    assert window.run_state.text().startswith("Ready — Cannot train: Block 0 (Conv)")  # the network comes first
    assert "11.3333" in window.run_state.toolTip()
    window.load_preset("vgg16")                                     # valid, but not for CIFAR-10
    assert window.current_inference().valid
    assert window.run_state.text() == ("Ready — CIFAR-10 images are 32x32x3, but the INPUT block is "
                                       "224x224x3: set it to 32x32x3.")
    window.load_preset("convnetjs")
    assert window.run_state.text() == no_data
    window.dashboard.set_data(load_cifar10(sample_dir))
    assert window.run_state.text() == "Ready — press Start to train" == window.dashboard.status["state"].text()


def test_delete_and_duplicate_follow_the_selection(window):
    window.builder.select(-1)
    assert not window.delete_action.isEnabled() and not window.duplicate_action.isEnabled()
    window.builder.select(3)
    assert window.delete_action.isEnabled() and window.duplicate_action.isEnabled()


def test_blocks_move_with_the_keyboard(window, qtbot):
    window.builder.select(1)                                      # relu
    window.builder.stack.setFocus()
    window.move_down_action.trigger()
    assert [layer.type for layer in window.current_architecture().layers][:3] == ["conv", "maxpool", "relu"]
    assert window.document.selected == 2
    window.move_up_action.trigger()
    window.move_up_action.trigger()
    assert [layer.type for layer in window.current_architecture().layers][:3] == ["relu", "conv", "maxpool"]
    window.move_up_action.trigger()                               # already first: nothing happens
    assert window.document.undo_stack.count() == 3


def test_dropping_a_json_file_on_the_window_opens_it(window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    from convviz.model.io import save_architecture
    from convviz.model.presets import load_preset

    path = tmp_path / "lenet.json"
    save_architecture(load_preset("lenet5"), path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    window.dropEvent(QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert window.document.path == path
    assert window.current_architecture().to_dict() == load_preset("lenet5").to_dict()
    text = QMimeData()
    text.setUrls([QUrl.fromLocalFile(str(tmp_path / "notes.txt"))])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.CopyAction, text, Qt.LeftButton, Qt.NoModifier)
    window.dragEnterEvent(enter)
    assert not enter.isAccepted()
