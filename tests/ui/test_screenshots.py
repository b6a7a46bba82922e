"""Screenshots of the window as a person sees it (default network, an invalid one, the VGG16 preset),
saved to $CONVVIZ_SHOTS or /tmp/convviz-shots for looking at; the pictures are checked for the
colours that carry meaning: a red block when invalid, none when valid."""
import os
from pathlib import Path

from PySide6.QtGui import QColor

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


def test_screenshots(window, qtbot, qapp):
    style, sheet = qapp.style().name(), qapp.styleSheet()
    apply_style(qapp)                                         # as main() starts the app
    try:
        take_screenshots(window, qtbot)
    finally:
        qapp.setStyleSheet(sheet)
        qapp.setStyle(style)


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
