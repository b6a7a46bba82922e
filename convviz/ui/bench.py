"""`convviz bench --only ui`: how long one hyperparameter edit of a 100-block network takes, from the
spin box to a repainted window (re-infer, stack, inspector, totals, drawing). The budget is 50 ms."""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

BUDGET_MS = 50.0


def hundred_blocks():
    """A valid 100-block network on 32x32x3: 49 x (conv 16@3x3 pad 1, relu), fc 10, softmax."""
    from ..model import Architecture, LayerSpec

    layers = []
    for _ in range(49):
        layers += [LayerSpec("conv", {"filters": 16, "size": 3, "pad": 1}), LayerSpec("relu")]
    return Architecture(layers=layers + [LayerSpec("fc", {"units": 10}), LayerSpec("softmax")])


def _milliseconds(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return f"median {statistics.median(ms):6.2f} ms, p90 {ms[int(0.9 * (len(ms) - 1))]:6.2f} ms, max {ms[-1]:6.2f} ms"


def _application():
    """ConvViz's QApplication, offscreen when there is no display."""
    if "QT_QPA_PLATFORM" not in os.environ and not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from .app import make_application

    return make_application([sys.argv[0]])


def edit_repaint_bench(quick: bool) -> None:
    from PySide6.QtCore import QSettings

    from ..model import infer
    from .main_window import MainWindow

    app = _application()
    with tempfile.TemporaryDirectory() as folder:
        window = MainWindow(settings=QSettings(str(Path(folder) / "bench.ini"), QSettings.IniFormat))
        window.resize(1360, 860)
        window.show()
        arch = hundred_blocks()
        window.document.reset(arch, None, "bench")
        window.builder.select(50)
        app.processEvents()
        box = window.builder.inspector.editors["filters"]
        edits = 20 if quick else 100
        whole, infer_only = [], []
        for i in range(edits + 3):
            start = time.perf_counter()
            box.setValue(17 + i % 2)      # re-infer, update stack, inspector, totals, drawing
            window.repaint()              # paint the whole window synchronously
            if i >= 3:                    # the first edits warm caches up
                whole.append(time.perf_counter() - start)
            start = time.perf_counter()
            infer(window.document.arch)
            infer_only.append(time.perf_counter() - start)
        assert window.current_inference().blocks[50].output.depth in (17, 18)
        window.document.undo_stack.setClean()
        window.close()
        app.processEvents()
    median = statistics.median(whole) * 1000
    print(f"ui: edit a hyperparameter of a {len(arch.layers)}-block network -> re-infer -> repaint "
          f"({edits} edits, {app.platformName()}):")
    print(f"    edit to repainted window  {_milliseconds(whole)}")
    print(f"    of which infer() alone    {_milliseconds(infer_only)}")
    print(f"    median is {median / BUDGET_MS:.2f}x the {BUDGET_MS:.0f} ms budget "
          f"({'within' if median <= BUDGET_MS else 'OVER'} budget; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores)")


def dashboard_bench(quick: bool) -> None:
    """Training with the dashboard open vs headless, and the event loop's latency meanwhile
    (convviz/ui/dashboard/benchmark.py); also saves screenshots of every view while training."""
    _application()
    from .dashboard.benchmark import run as run_dashboard_bench

    run_dashboard_bench(quick)


def run(quick: bool = False) -> None:
    edit_repaint_bench(quick)
    dashboard_bench(quick)
