"""A real drag and drop under X (run by test_real_drag.py with DISPLAY set to an Xvfb server).

The X server itself moves the pointer and presses the button (XTest, through ctypes), so Qt's own
QDrag machinery runs exactly as for a person: a palette entry is dragged onto the stack, and then a
block of the stack is dragged to a new place. Prints one JSON line with the layer types after each drop.
"""
import ctypes
import json
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QPoint, QSettings, QTimer

from convviz.ui.app import make_application
from convviz.ui.main_window import MainWindow

x11 = ctypes.cdll.LoadLibrary("libX11.so.6")
xtest = ctypes.cdll.LoadLibrary("libXtst.so.6")
x11.XOpenDisplay.restype = ctypes.c_void_p
x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
x11.XFlush.argtypes = [ctypes.c_void_p]
xtest.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_ulong]
xtest.XTestFakeButtonEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]


class Pointer:
    """The X server's pointer, moved and clicked for real."""

    def __init__(self):
        self.display = x11.XOpenDisplay(None)
        if not self.display:
            raise SystemExit("cannot open the X display")

    def move(self, point: QPoint):
        xtest.XTestFakeMotionEvent(self.display, -1, point.x(), point.y(), 0)
        x11.XFlush(self.display)

    def button(self, press: bool):
        xtest.XTestFakeButtonEvent(self.display, 1, press, 0)
        x11.XFlush(self.display)


def drag_steps(pointer: Pointer, start: QPoint, end: QPoint, steps: int = 12):
    """Press at start, move in small steps to end, release: a list of callables, one per tick."""
    plan = [lambda: pointer.move(start), lambda: pointer.button(True)]
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        plan.append(lambda p=QPoint(int(p.x()), int(p.y())): pointer.move(p))
    plan += [lambda: pointer.move(end), lambda: pointer.button(False)]
    return plan


def main() -> int:
    app = make_application([sys.argv[0]])
    window = MainWindow(settings=QSettings(str(Path(tempfile.mkdtemp()) / "drag.ini"), QSettings.IniFormat))
    window.move(0, 0)
    window.resize(1200, 800)
    window.show()
    window.activateWindow()
    builder = window.builder
    pointer = Pointer()
    results = []

    def palette_to_stack():
        palette = builder.palette_list
        row = [palette.layer_type(r) for r in range(palette.count())].index("dropout")
        source = palette.viewport().mapToGlobal(palette.visualItemRect(palette.item(row)).center())
        target_rect = builder.stack.visualRect(builder.model.index(2))     # upper half of row 2
        target = builder.stack.viewport().mapToGlobal(QPoint(target_rect.center().x(), target_rect.top() + 4))
        return drag_steps(pointer, source, target)

    def move_in_stack():
        source_rect = builder.stack.visualRect(builder.model.index(2))     # the dropped block
        source = builder.stack.viewport().mapToGlobal(source_rect.center())
        target_rect = builder.stack.visualRect(builder.model.index(5))     # upper half of row 5
        target = builder.stack.viewport().mapToGlobal(QPoint(target_rect.center().x(), target_rect.top() + 4))
        return drag_steps(pointer, source, target)

    stages = [palette_to_stack, move_in_stack]
    total = len(stages)
    plan: list = []

    def tick():
        """One pointer action per tick; after each drag, record the layers and start the next."""
        if plan:
            plan.pop(0)()
            return
        if len(results) < total - len(stages):
            results.append([layer.type for layer in window.current_architecture().layers])
        if stages:
            plan.extend(stages.pop(0)())
            return
        timer.stop()
        window.document.undo_stack.setClean()
        print(json.dumps(results))
        app.quit()

    timer = QTimer()
    timer.timeout.connect(tick)
    QTimer.singleShot(500, lambda: timer.start(40))
    QTimer.singleShot(20000, lambda: app.exit(2))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
