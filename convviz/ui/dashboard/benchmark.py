"""Dashboard speed, measured side by side in one process: a network trained at batch 64
(a) headless, consuming Trainer.run() in a plain loop as `convviz train` does, and (b) from the
dashboard shown offscreen (the run takes snapshots and health samples as the app does), while a 10 ms
precise QTimer measures how late the GUI event loop answers. The dashboard side holds one view open
the whole run: Curves (the default), Filters, Activations and Health, each in turn; then a stress
case where the visible view changes every second. The views are built once before timing (a session
pays that once: ~0.6 s for ResNet-20's activations). Twice: the ConvNetJS net, and ResNet-20 (a tree:
9 residual blocks, 74 nodes the views list). Then screenshots at 1280x800 of every view while
training, and of the Health view during a run at 10 times the default learning rate.
Runs alternate in ABBA order (headless, dashboard, dashboard, headless, ...) so machine noise and
warm-up hit both sides alike.
Uses the CIFAR-10 found by find_cifar10(), else the sample in ../shared/cifar10-sample."""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer

from ...data import find_cifar10, load_cifar10
from ...model import infer
from ...model.presets import load_preset
from ...paths import SAMPLE
from ...training import FinishedEvent, StepEvent, TrainConfig, Trainer
from ..app import make_application
from .dashboard import TrainDashboard
from .settings import default_lr

SHOTS = Path("/tmp/convviz-shots")
TAB_SECONDS = 1.0  # the stress case: the visible view changes this often
TICK_MS = 10
HELD_VIEWS = ("curves", "filters", "activations", "health")  # dashboard attributes, each held for whole runs


def _config(steps: int) -> TrainConfig:
    """What `convviz train` runs: no snapshots, since nothing shows them."""
    return TrainConfig(epochs=100, batch_size=64, max_steps=steps, seed=0, snapshot_rate=0)


def _headless(arch, data, steps: int) -> float:
    """-> wall-clock images/s from Start to the end of the run."""
    started = time.perf_counter()
    trainer = Trainer(arch, data, _config(steps))
    images = 0
    for event in trainer.run():
        if isinstance(event, StepEvent):
            images += 64
        elif isinstance(event, FinishedEvent):
            break
    return images / (time.perf_counter() - started)


def spin(until, seconds: float) -> None:
    """Run the Qt event loop (exec, as the app does) until until() is true or seconds pass."""
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(20)
    started = time.perf_counter()
    poll.timeout.connect(lambda: loop.quit() if until() or time.perf_counter() - started > seconds else None)
    poll.start()
    loop.exec()
    poll.stop()


def _with_dashboard(dash: TrainDashboard, steps: int, cycle: bool) -> tuple[float, list[float], float]:
    """Train from the dashboard with the view shown now (cycle: changing every TAB_SECONDS) -> (wall
    images/s, gaps between 10 ms timer ticks in ms, the GUI thread's CPU time as a share of the wall time)."""
    s = dash.settings
    s.batch_size.setValue(64)
    s.epochs.setValue(100)
    s.max_steps.setValue(steps)
    s.seed.setValue(0)
    gaps: list[float] = []
    clock = QElapsedTimer()
    tick = QTimer()
    tick.setTimerType(Qt.TimerType.PreciseTimer)
    tick.setInterval(TICK_MS)

    def on_tick() -> None:
        gaps.append(clock.nsecsElapsed() / 1e6)
        clock.restart()

    tick.timeout.connect(on_tick)
    switch = QTimer()
    switch.setInterval(int(TAB_SECONDS * 1000))
    switch.timeout.connect(lambda: dash.views.setCurrentIndex((dash.views.currentIndex() + 1) % dash.views.count()))
    started = time.perf_counter()
    gui_cpu = time.thread_time()
    dash.start()
    clock.start()
    tick.start()
    if cycle:
        switch.start()
    spin(lambda: not dash.running(), 3600)
    tick.stop()
    switch.stop()
    wall = time.perf_counter() - started
    gui_share = (time.thread_time() - gui_cpu) / wall
    return len(dash.curves.steps) * 64 / wall, gaps[1:], gui_share


def _data():
    found = find_cifar10()
    if found is not None:
        return load_cifar10(found.path)
    return load_cifar10(SAMPLE) if SAMPLE.is_dir() else None


SHOTS_OF = [("curves", 0), ("filters", 1), ("activations", 2), ("activations-deep", 2), ("gradients", 2),
            ("predictions", 3), ("confusion", 4), ("health", 5)]  # (file name, tab index)
SCREENSHOT_SIZE = (1280, 800)
BROKEN_LR_FACTOR = 10  # the broken run's learning rate, times the optimiser's default
BROKEN_STEPS = 200


def save_screenshots(dash: TrainDashboard, folder: Path, steps: int) -> list[Path]:
    """Train past the first epoch and grab every view while training -> the PNG paths."""
    folder.mkdir(parents=True, exist_ok=True)
    dash.settings.max_steps.setValue(steps)
    dash.start()
    paths = []
    spin(lambda: not dash.running() or bool(dash.curves.epochs), 600)
    for name, tab in SHOTS_OF:
        dash.views.setCurrentIndex(tab)
        dash.activations.gradients.setChecked(name == "gradients")
        bar = dash.activations.scroll.verticalScrollBar()
        bar.setValue(bar.maximum() if name == "activations-deep" else 0)
        if name == "confusion" and dash.confusion.confusion is not None:
            matrix = dash.confusion.confusion
            off = matrix - np.diag(np.diag(matrix))  # show the most frequent mistake
            dash.confusion.show_cell(*map(int, np.unravel_index(np.argmax(off), off.shape)))
        spin(lambda: False, 0.5)
        dash.refresh_views(force=True)
        paths.append(folder / f"dashboard-{name}.png")
        dash.window().grab().save(str(paths[-1]))
    dash.stop()
    spin(lambda: not dash.running(), 600)
    return paths


def save_broken_health(dash: TrainDashboard, folder: Path) -> tuple[Path, list[str]]:
    """Train at BROKEN_LR_FACTOR times the default learning rate and grab the Health view while it
    trains, after BROKEN_STEPS steps -> (the PNG path, the hints shown, earlier ones included)."""
    s = dash.settings
    s.max_steps.setValue(10 * BROKEN_STEPS)
    s.lr.setValue(BROKEN_LR_FACTOR * default_lr(s.optimizer.currentData()))
    dash.views.setCurrentWidget(dash.health)
    dash.start()
    spin(lambda: not dash.running() or len(dash.curves.steps) >= BROKEN_STEPS, 600)
    dash.refresh_views(force=True)
    spin(lambda: False, 0.3)
    path = folder / "dashboard-health-lr-too-high.png"
    dash.window().grab().save(str(path))
    hints = [line for _, line in dash.health.hint_lines()]
    dash.stop()
    spin(lambda: not dash.running(), 600)
    s.lr.setValue(default_lr(s.optimizer.currentData()))
    return path, hints


NETS = (("convnetjs", 120, 40), ("resnet20", 40, 12))  # (preset, steps per run, with quick): 4-13 s a run, so
# what only a run's start and end cost (starting the thread, the last redraw: ~0.1 s) weighs as little as in a real run


def _build_views(dash: TrainDashboard) -> None:
    """A short run, then every view shown once with its results (a picture view's from the probe job),
    so the timed runs do not pay for making the views. (Shown during the run, a view could miss it:
    ResNet-20's 8 steps could end before the Activations view's turn, and then its first timed run
    made its 74 rows, 0.3-0.6 s of the GUI thread.)"""
    dash.settings.max_steps.setValue(8)
    dash.start()
    spin(lambda: not dash.running(), 600)
    for index in range(dash.views.count()):
        dash.views.setCurrentIndex(index)
        spin(lambda: not dash.probe_jobs.busy(), 60)
        spin(lambda: False, 0.7)


def _compare(dash: TrainDashboard, name: str, data, steps: int, rounds: int) -> None:
    """Train the preset `name` headless and with the dashboard, ABBA, for every held view and the
    stress case, and print the figures."""
    arch = load_preset(name)
    dash.set_architecture(arch, infer(arch))
    _headless(arch, data, 3)  # warm up caches and the thread pool
    _build_views(dash)
    print(f"ui dashboard: {name}, batch 64, {steps} steps per run, {rounds} runs each side per view, "
          f"{len(data.train_labels):,} training images; dashboard / headless (target >= 90%):")
    for view in (*HELD_VIEWS, None):
        cycle = view is None
        if not cycle:
            dash.views.setCurrentWidget(getattr(dash, view))
        spin(lambda: not dash.probe_jobs.busy(), 60)  # the view opened computes its picture of the last run
        headless, gui, gaps, gui_shares = [], [], [], []
        for round_index in range(2 * rounds):  # ABBA order: neither side always goes first
            if round_index % 4 in (0, 3):
                headless.append(_headless(arch, data, steps))
            else:
                wall, round_gaps, gui_share = _with_dashboard(dash, steps, cycle)
                gui.append(wall)
                gaps.extend(round_gaps)
                gui_shares.append(gui_share)
        head_wall, gui_wall = statistics.median(headless), statistics.median(gui)
        pairs = sorted(g / h for g, h in zip(gui, headless))  # runs next to each other: the machine's noise
        p50, p95 = np.percentile(gaps, [50, 95])
        label = f"every view, {TAB_SECONDS:g} s each" if cycle else f"{view} held"
        print(f"  {label:<26} {gui_wall / head_wall:6.1%}  ({gui_wall:6.1f} vs {head_wall:6.1f} images/s, medians; "
              f"run pairs {pairs[0]:.0%} to {pairs[-1]:.0%}; "
              f"GUI thread {statistics.median(gui_shares):.0%} of a core; event loop gap p50 {p50:.1f} ms, "
              f"p95 {p95:.1f} ms, max {max(gaps):.0f} ms)")
    print(f"  ({os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; event loop target: p95 <= 50 ms)")


def run(quick: bool = False, nets: tuple[str, ...] | None = None) -> None:
    """Compare every net of NETS (or only those named), then (with all nets) take the screenshots."""
    app = make_application([sys.argv[0]])  # as the app runs: garbage collected in the GUI thread only
    data = _data()
    if data is None:
        print("ui dashboard: skipped (no CIFAR-10 found; run `convviz download`)")
        return
    rounds = 2 if quick else 4
    dash = TrainDashboard(autoload=False)
    dash.resize(1400, 900)
    dash.show()
    dash.set_data(data)
    shots, broken, broken_hints = [], None, []
    try:
        for name, steps, quick_steps in NETS:
            if nets is None or name in nets:
                _compare(dash, name, data, quick_steps if quick else steps, rounds)
        if nets is None:
            arch = load_preset("convnetjs")
            dash.set_architecture(arch, infer(arch))
            dash.resize(*SCREENSHOT_SIZE)
            shots = save_screenshots(dash, SHOTS, 10_000)
            broken, broken_hints = save_broken_health(dash, SHOTS)
    finally:
        dash.shutdown()
        dash.close()
    app.processEvents()
    if shots:
        print(f"  screenshots while training: {', '.join(str(p) for p in shots)}")
        print(f"  Health view at {BROKEN_LR_FACTOR}x the default learning rate: {broken}; its hints:")
        for hint in broken_hints:
            print(f"    {hint}")
