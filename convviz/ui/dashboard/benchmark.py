"""Dashboard speed, measured side by side in one process: the ConvNetJS net trained at batch 64
(a) headless, consuming Trainer.run() in a plain loop as `convviz train` does, and (b) from the
dashboard shown offscreen with every view drawn in turn, the Health view included (the visible tab
changes every second; the run takes snapshots and health samples as the app does), while a 10 ms
precise QTimer measures how late the GUI event loop answers. Then screenshots at 1280x800 of every
view while training, and of the Health view during a run at 10 times the default learning rate.
Runs alternate in ABBA order (headless, dashboard, dashboard, headless, ...) so machine noise and
warm-up hit both sides alike.
Uses the CIFAR-10 found by find_cifar10(), else the sample in ../shared/cifar10-sample."""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication

from ...data import find_cifar10, load_cifar10
from ...model import infer
from ...model.presets import load_preset
from ...paths import SAMPLE
from ...training import FinishedEvent, StepEvent, TrainConfig, Trainer
from .dashboard import TrainDashboard
from .settings import default_lr

SHOTS = Path("/tmp/convviz-shots")
TAB_SECONDS = 1.0
TICK_MS = 10


def _config(steps: int) -> TrainConfig:
    """What `convviz train` runs: no snapshots, since nothing shows them."""
    return TrainConfig(epochs=100, batch_size=64, max_steps=steps, seed=0, snapshot_rate=0)


def _headless(arch, data, steps: int) -> tuple[float, float]:
    """-> (wall-clock images/s from Start to the end of the run, the trainer's step images/s)."""
    started = time.perf_counter()
    trainer = Trainer(arch, data, _config(steps))
    images = 0
    for event in trainer.run():
        if isinstance(event, StepEvent):
            images += 64
        elif isinstance(event, FinishedEvent):
            break
    return images / (time.perf_counter() - started), trainer.images_per_second


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


def _with_dashboard(dash: TrainDashboard, steps: int) -> tuple[float, float, list[float], float]:
    """-> (wall images/s, the trainer's step images/s, gaps between 10 ms timer ticks in ms,
    the GUI thread's CPU time as a share of the wall time)."""
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
    switch.start()
    spin(lambda: not dash.running(), 3600)
    tick.stop()
    switch.stop()
    wall = time.perf_counter() - started
    gui_share = (time.thread_time() - gui_cpu) / wall
    return len(dash.curves.steps) * 64 / wall, dash.trainer.images_per_second, gaps[1:], gui_share


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


def run(quick: bool = False) -> None:
    app = QApplication.instance() or QApplication([])
    data = _data()
    if data is None:
        print("ui dashboard: skipped (no CIFAR-10 found; run `convviz download`)")
        return
    arch = load_preset("convnetjs")
    steps = 40 if quick else 80
    rounds = 2 if quick else 4
    dash = TrainDashboard(autoload=False)
    dash.resize(1400, 900)
    dash.show()
    dash.set_data(data)
    dash.set_architecture(arch, infer(arch))
    headless, gui, gaps, gui_shares = [], [], [], []
    try:
        _headless(arch, data, 5)  # warm up caches and the thread pool
        for round_index in range(2 * rounds):  # ABBA order: neither side always goes first
            if round_index % 4 in (0, 3):
                headless.append(_headless(arch, data, steps))
            else:
                wall, step_rate, round_gaps, gui_share = _with_dashboard(dash, steps)
                gui.append((wall, step_rate))
                gaps.extend(round_gaps)
                gui_shares.append(gui_share)
        dash.resize(*SCREENSHOT_SIZE)
        shots = save_screenshots(dash, SHOTS, 10_000)
        broken, broken_hints = save_broken_health(dash, SHOTS)
    finally:
        dash.shutdown()
        dash.close()
    app.processEvents()
    head_wall = statistics.median(h[0] for h in headless)
    head_step = statistics.median(h[1] for h in headless)
    gui_wall = statistics.median(g[0] for g in gui)
    gui_step = statistics.median(g[1] for g in gui)
    p50, p95 = np.percentile(gaps, [50, 95])
    print(f"ui dashboard: ConvNetJS net, batch 64, {steps} steps per run, {rounds} runs each side, "
          f"{len(data.train_labels):,} training images, every view shown in turn ({TAB_SECONDS:g} s each)")
    print(f"  event loop, {TICK_MS} ms timer: gap p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(gaps):.1f} ms "
          f"({len(gaps)} ticks; target p95 <= 50 ms)")
    print(f"  headless (as convviz train): {head_wall:7.1f} images/s wall, {head_step:7.1f} images/s in steps (medians)")
    print(f"  dashboard open:              {gui_wall:7.1f} images/s wall, {gui_step:7.1f} images/s in steps (medians)")
    print(f"  each run, wall images/s: headless {', '.join(f'{h[0]:.0f}' for h in headless)}; "
          f"dashboard {', '.join(f'{g[0]:.0f}' for g in gui)}")
    print(f"  GUI thread CPU while training: {statistics.median(gui_shares):.0%} of one core "
          f"(of {os.cpu_count()}; load average {os.getloadavg()[0]:.1f})")
    print(f"  dashboard / headless: {gui_wall / head_wall:.1%} wall, {gui_step / head_step:.1%} in steps "
          "(target >= 90%)")
    print(f"  screenshots while training: {', '.join(str(p) for p in shots)}")
    print(f"  Health view at {BROKEN_LR_FACTOR}x the default learning rate: {broken}; its hints:")
    for hint in broken_hints:
        print(f"    {hint}")
