"""A real drag and drop under X (run by test_real_drag.py with DISPLAY set to an Xvfb server).

The X server itself moves the pointer and presses the button (XTest, through ctypes), so Qt's own
QDrag machinery runs exactly as for a person: a palette entry is dragged onto the stack, then a block
of the stack is dragged to a new place, then (after a basic residual block and an inception module
are added) a conv is dragged from the palette into the residual's body and into the second branch of
the inception module. Prints one JSON line: the layer types after each of the first two drops, then
the types in the body and in the second branch after the last two.
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
        row = palette.row_of({"type": "dropout"})
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

    def palette_into_lane(container, lane):
        """Drag the conv entry onto the lower half of a lane's caption row: the top of that lane."""
        def stage():
            model = builder.model
            row = next(r for r in range(model.rowCount()) if (model.row(r).role, model.row(r).path) ==
                       ("lane", container + (lane,)))
            builder.stack.scrollTo(model.index(row))
            palette = builder.palette_list
            source = palette.viewport().mapToGlobal(palette.visualItemRect(palette.item(palette.row_of(
                {"type": "conv"}))).center())
            rect = builder.stack.visualRect(model.index(row))
            target = builder.stack.viewport().mapToGlobal(QPoint(rect.center().x(), rect.bottom() - 3))
            return drag_steps(pointer, source, target)
        return stage

    def tree():
        """A basic residual block after block 0 and an inception module after it: no drag, one tick."""
        window.document.insert_template((1,), "basic-residual")
        window.document.insert_template((3,), "inception")
        return []

    def types():
        return [layer.type for layer in window.current_architecture().layers]

    def lane_types(container, lane):
        return lambda: [b.type for b in window.current_architecture().block(container).lanes[lane]]

    stages = [(palette_to_stack, types), (move_in_stack, types), (tree, None),
              (palette_into_lane((1,), 0), lane_types((1,), 0)), (palette_into_lane((3,), 1), lane_types((3,), 1))]
    plan: list = []
    describe = []

    def tick():
        """One pointer action per tick; after each drag, record what it changed and start the next."""
        if plan:
            plan.pop(0)()
            return
        if describe:
            what = describe.pop()
            if what is not None:
                results.append(what())
        if stages:
            stage, what = stages.pop(0)
            plan.extend(stage())
            describe.append(what)
            return
        timer.stop()
        window.document.undo_stack.setClean()
        print(json.dumps(results))
        app.quit()

    timer = QTimer()
    timer.timeout.connect(tick)
    QTimer.singleShot(500, lambda: timer.start(40))
    QTimer.singleShot(40000, lambda: app.exit(2))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
