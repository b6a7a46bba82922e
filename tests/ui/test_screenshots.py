"""Screenshots of the window as a person sees it (default network, an invalid one, the VGG16 preset;
the Train tab at 1280x800 during a run, paused and after a diverged run), saved to $CONVVIZ_SHOTS or
/tmp/convviz-shots for looking at; the pictures are checked for the colours that carry meaning: a
red block when invalid, none when valid, a red banner when a run diverged."""
import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QScrollBar
from ui_helpers import WAIT, tiny_arch

from convviz.training.state import RunState
from convviz.ui.app import apply_style
from convviz.ui.builder.style import ERROR

SHOTS = Path(os.environ.get("CONVVIZ_SHOTS", "/tmp/convviz-shots"))


def settle(qtbot):
    qtbot.wait(30)


def error_pixels(window) -> int:
    """How many sampled pixels of the stack are red (an invalid block's background, border or text),
    as opposed to the kind colours (orange, pink) and the amber of warnings."""
    assert ERROR.red() - ERROR.green() > 100                 # the colour this looks for
    image = window.builder.stack.viewport().grab().toImage()
    count = 0
    for y in range(0, image.height(), 3):
        for x in range(0, image.width(), 7):
            c = QColor(image.pixel(x, y))
            if c.red() - c.green() > 22 and c.red() - c.blue() > 22 and abs(c.green() - c.blue()) < 20:
                count += 1
    return count


def save(window, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    pixmap = window.grab()
    assert not pixmap.isNull() and pixmap.width() == window.width()
    assert pixmap.save(str(path))
    return path


def as_the_app_looks(qapp, take) -> None:
    style, sheet = qapp.style().name(), qapp.styleSheet()
    apply_style(qapp)                                         # as main() starts the app
    try:
        take()
    finally:
        qapp.setStyleSheet(sheet)
        qapp.setStyle(style)


def test_screenshots(window, qtbot, qapp):
    as_the_app_looks(qapp, lambda: take_screenshots(window, qtbot))


def take_screenshots(window, qtbot):
    window.resize(1400, 900)
    settle(qtbot)
    assert save(window, "default").stat().st_size > 20_000
    assert error_pixels(window) == 0

    window.builder.select(0)
    window.builder.inspector.editors["stride"].setValue(3)
    settle(qtbot)
    save(window, "invalid")
    assert error_pixels(window) > 50
    assert window.builder.inspector.problem_cards[0].fix_buttons

    window.load_preset("vgg16")
    settle(qtbot)
    save(window, "vgg16")
    assert error_pixels(window) == 0
    assert "138,357,544" in window.builder.totals.params.text()


def red_pixels(widget) -> int:
    image = widget.grab().toImage()
    return sum(1 for y in range(0, image.height(), 2) for x in range(0, image.width(), 4)
               if (c := QColor(image.pixel(x, y))).red() > 180 and c.green() < 120 and c.blue() < 120)


def test_train_tab_screenshots(window, qtbot, qapp, small_data, started_threads):
    as_the_app_looks(qapp, lambda: take_train_screenshots(window, qtbot, small_data))


def take_train_screenshots(window, qtbot, small_data):
    window.resize(1280, 800)
    dash = window.dashboard
    dash.set_data(small_data)
    window.document.reset(tiny_arch(), None, "tiny")
    window.tabs.setCurrentWidget(dash)
    s = dash.settings
    s.batch_size.setValue(10)
    s.val_split.setValue(50)
    s.epochs.setValue(100)
    s.lr.setValue(0.01)
    dash.start()
    qtbot.waitUntil(lambda: len(dash.curves.steps) >= 40, timeout=WAIT)
    s.lr.setValue(0.003)                                        # a live change, marked on the loss chart
    qtbot.waitUntil(lambda: len(dash.curves.steps) >= 80 and bool(dash.curves.epochs), timeout=WAIT)
    dash.refresh_views(force=True)
    settle(qtbot)
    save(window, "train-running")
    assert dash.state is RunState.TRAINING and dash.status["speed"].text().endswith("images/s")
    dash.toggle_pause()
    qtbot.waitUntil(lambda: dash.state is RunState.PAUSED, timeout=WAIT)
    settle(qtbot)
    save(window, "train-paused")
    assert dash.status["speed"].text() == dash.status["left"].text() == "—"
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.stop()
    assert red_pixels(dash.banner) == 0 or not dash.banner.isVisible()
    s.lr.setValue(10.0)                                         # far too high: the loss runs away
    s.momentum.setValue(0.99)
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.start()
    dash.refresh_views(force=True)
    settle(qtbot)
    save(window, "train-diverged")
    assert dash.state is RunState.DIVERGED and dash.banner.isVisible() and red_pixels(dash.banner) > 20
    assert not [b for b in window.findChildren(QScrollBar) if b.orientation() == Qt.Horizontal and b.isVisible()]
