"""Screenshots of the window as a person sees it (default network, an invalid one, the VGG16 preset;
ResNet-20 and GoogLeNet at 1280x800, and ResNet-20 with a residual block whose volumes disagree),
saved to $CONVVIZ_SHOTS or /tmp/convviz-shots for looking at; the pictures are checked for the
colours that carry meaning: a red block when invalid, none when valid."""
from PySide6.QtGui import QColor

from convviz.ui.app import apply_style
from convviz.ui.builder.style import ERROR


def settle(qtbot, window=None):
    """Let paint and layout events run; with a window, until the inspector's contents are laid out (on a
    busy machine that takes a few event loop turns)."""
    qtbot.wait(30)
    if window is not None:
        body = window.builder.inspector.widget()
        qtbot.waitUntil(lambda: body.height() >= body.layout().totalHeightForWidth(body.width()) - 1
                        and body.width() >= body.minimumSizeHint().width())


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


def save(window, folder, name):
    path = folder / f"{name}.png"
    pixmap = window.grab()
    assert not pixmap.isNull() and pixmap.width() == window.width()
    assert pixmap.save(str(path))
    return path


def test_screenshots(window, qtbot, qapp, shots):
    style, sheet = qapp.style().name(), qapp.styleSheet()
    apply_style(qapp)                                         # as main() starts the app
    try:
        take_screenshots(window, qtbot, shots)
    finally:
        qapp.setStyleSheet(sheet)
        qapp.setStyle(style)


def take_screenshots(window, qtbot, shots):
    window.resize(1400, 900)
    settle(qtbot, window)
    assert save(window, shots, "default").stat().st_size > 20_000
    assert error_pixels(window) == 0

    window.builder.select((0,))
    window.builder.inspector.editors["stride"].setValue(3)
    settle(qtbot, window)
    save(window, shots, "invalid")
    assert error_pixels(window) > 50
    assert window.builder.inspector.problem_cards[0].fix_buttons

    window.load_preset("vgg16")
    settle(qtbot, window)
    save(window, shots, "vgg16")
    assert error_pixels(window) == 0
    assert "138,357,544" in window.builder.totals.params.text()

    window.resize(1280, 800)
    window.load_preset("resnet20")
    window.builder.select((9,))                               # the first block with a projection shortcut
    settle(qtbot, window)
    save(window, shots, "resnet20")
    assert error_pixels(window) == 0 and "272,474" in window.builder.totals.params.text()
    window.builder.select((3, 0, 3))
    window.builder.inspector.editors["filters"].setValue(32)  # the body now gives 32 deep, the shortcut 16
    window.builder.select((3,))
    settle(qtbot, window)
    save(window, shots, "resnet20-merge-error")
    assert error_pixels(window) > 50 and window.builder.inspector.problem_cards[0].fix_buttons

    window.load_preset("googlenet")
    window.builder.select((11,))                              # the first inception module
    settle(qtbot, window)
    save(window, shots, "googlenet")
    assert error_pixels(window) == 0
