"""`convviz bench --only ui`: how long one hyperparameter edit takes, from the spin box to a repainted
window (re-infer, stack, inspector, totals, drawing), for a 100-block plain stack and inside ResNet-56's
tree (a conv in a residual body); the budget is 50 ms at the 90th percentile. The two networks take
turns, a few edits each, so machine noise hits both alike. Then the dashboard (training speed with
it open against headless, for the ConvNetJS net and ResNet-20)."""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

BUDGET_MS = 50.0
WINDOW = (1280, 800)
EDITS_PER_TURN = 5


def hundred_blocks():
    """A valid 100-block network on 32x32x3: 49 x (conv 16@3x3 pad 1, relu), fc 10, softmax."""
    from ..model import Architecture, LayerSpec

    layers = []
    for _ in range(49):
        layers += [LayerSpec("conv", {"filters": 16, "size": 3, "pad": 1}), LayerSpec("relu")]
    return Architecture(layers=layers + [LayerSpec("fc", {"units": 10}), LayerSpec("softmax")])


def _cases():
    """(what, architecture, path of the conv edited, its two filter counts) for each network."""
    from ..model.presets import load_preset

    return [("100-block plain stack", hundred_blocks(), (50,), (17, 18)),
            ("resnet56, a conv in a residual body", load_preset("resnet56"), (31, 0, 0), (64, 65))]


def _milliseconds(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return f"median {statistics.median(ms):6.2f} ms, p90 {_p90(ms):6.2f} ms, max {ms[-1]:6.2f} ms"


def _p90(ms: list[float]) -> float:
    return sorted(ms)[int(0.9 * (len(ms) - 1))]


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
    cases = _cases()
    whole = {name: [] for name, *_ in cases}
    cpu = {name: [] for name, *_ in cases}
    infer_only = {name: [] for name, *_ in cases}
    turns = 4 if quick else 20
    with tempfile.TemporaryDirectory() as folder:
        window = MainWindow(settings=QSettings(str(Path(folder) / "bench.ini"), QSettings.IniFormat))
        window.resize(*WINDOW)
        window.show()
        for turn in range(turns):
            for name, arch, path, values in cases:
                window.document.reset(arch, None, "bench")
                window.builder.select(path)
                app.processEvents()
                box = window.builder.inspector.editors["filters"]
                for i in range(EDITS_PER_TURN + 2):
                    start, start_cpu = time.perf_counter(), time.thread_time()
                    box.setValue(values[i % 2])  # re-infer, update stack, inspector, totals, drawing
                    window.repaint()             # paint the whole window synchronously
                    if i >= 2:                   # the first edits after a switch warm caches up
                        whole[name].append(time.perf_counter() - start)
                        cpu[name].append(time.thread_time() - start_cpu)
                        start = time.perf_counter()
                        infer(window.document.arch)
                        infer_only[name].append(time.perf_counter() - start)
                assert window.current_inference().block(path).output.depth in values
        window.document.undo_stack.setClean()
        window.close()
        app.processEvents()
    print(f"ui: edit a conv's filters -> re-infer -> repaint the whole {WINDOW[0]}x{WINDOW[1]} window "
          f"({turns} turns of {EDITS_PER_TURN} edits per network, taking turns; {app.platformName()}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
    for name, *_ in cases:
        p90 = _p90([s * 1000 for s in whole[name]])
        print(f"    {name}:")
        print(f"        edit to repainted window  {_milliseconds(whole[name])}")
        print(f"        GUI thread CPU time       {_milliseconds(cpu[name])}  (what waiting for a busy CPU adds "
              f"to the wall time is not in it)")
        print(f"        of which infer() alone    {_milliseconds(infer_only[name])}")
        print(f"        p90 is {p90 / BUDGET_MS:.2f}x the {BUDGET_MS:.0f} ms budget "
              f"({'within' if p90 <= BUDGET_MS else 'OVER'} budget)")


def dashboard_bench(quick: bool) -> None:
    """Training with the dashboard open vs headless, and the event loop's latency meanwhile
    (convviz/ui/dashboard/benchmark.py); also saves screenshots of every view while training."""
    _application()
    from .dashboard.benchmark import run as run_dashboard_bench

    run_dashboard_bench(quick)


def run(quick: bool = False) -> None:
    edit_repaint_bench(quick)
    dashboard_bench(quick)
