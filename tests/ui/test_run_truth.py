"""A run you can trust (issue 13): the run's state said alike everywhere, curves that tell the truth
(debiased smoothing through the middle, the chance level, the settings over steps with each live
change marked), results you can keep (PNG/SVG, CSV), a run that survives closing the window, and
settings remembered between starts."""
from __future__ import annotations

import csv
import itertools
import math

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QLabel, QScrollBar
from ui_helpers import WAIT, tiny_arch

from convviz.model.presets import preset_groups
from convviz.training import TrainConfig, Trainer
from convviz.training import resume
from convviz.training.state import RunState
from convviz.ui.dashboard.curves import Smoother
from convviz.ui.dashboard.dashboard import REFRESH_MS
from convviz.ui.dashboard.settings import SettingsPanel, default_lr
from convviz.ui.main_window import MainWindow


def ready_to_train(window, data, epochs: int = 50):
    """The window's Train tab with data, the tiny network and 10 steps an epoch -> the dashboard."""
    dash = window.dashboard
    dash.set_data(data)
    window.document.reset(tiny_arch(), None, "tiny")
    s = dash.settings
    s.batch_size.setValue(25)
    s.val_split.setValue(50)
    s.epochs.setValue(epochs)
    window.tabs.setCurrentWidget(dash)
    return dash


def pause(qtbot, dash) -> None:
    dash.toggle_pause()
    qtbot.waitUntil(lambda: dash.state is RunState.PAUSED, timeout=WAIT)


def stop(qtbot, dash) -> None:
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.stop()


def horizontal_scroll_bars(widget) -> list:
    return [b for b in widget.findChildren(QScrollBar) if b.orientation() == Qt.Horizontal and b.isVisible()]


# ---- 1. every state named once, said alike ----
def test_the_status_bar_and_the_train_tab_say_the_same_state(window, qtbot, small_data, sample_dir, started_threads):
    dash = ready_to_train(window, small_data)
    said = []
    dash.stateChanged.connect(said.append)
    dash.start()
    qtbot.waitUntil(lambda: dash.status["speed"].text() != "—", timeout=WAIT)
    assert window.run_state.text().startswith("Training — step ")
    assert window.run_state.text() == dash.status["state"].text()
    pause(qtbot, dash)
    assert window.run_state.text().startswith("Paused — step ") and "Save checkpoint is available" in window.run_state.text()
    qtbot.wait(2 * REFRESH_MS)  # the status refreshes twice meanwhile: a paused run has no speed, nothing left to time
    assert dash.status["speed"].text() == dash.status["left"].text() == "—"
    dash.toggle_pause()
    qtbot.waitUntil(lambda: dash.status["speed"].text() != "—", timeout=WAIT)
    stop(qtbot, dash)
    assert window.run_state.text().startswith("Finished — stopped on request after ")
    titles = [title for title, _ in itertools.groupby(s.split(" — ")[0] for s in said)]
    assert titles == ["Training", "Paused", "Training", "Stopping", "Finished"], said
    assert not any(s.startswith("Ready") for s in said)

    said.clear()
    dash.data_panel.choose_folder(sample_dir)
    dash.refresh_views()  # (the refresh timer's work)
    assert window.run_state.text() == f"Loading data — reading {sample_dir}"
    qtbot.waitUntil(lambda: dash.state is RunState.READY, timeout=WAIT)
    assert said[-1] == "Ready — press Start to train"
    assert {s.split(" — ")[0] for s in said} <= {state.title for state in RunState}


def test_a_diverged_and_a_failed_run_say_so(window, qtbot, small_data, started_threads, monkeypatch):
    dash = ready_to_train(window, small_data)
    messages = []
    dash.show_error = lambda title, text: messages.append(title)
    dash.settings.lr.setValue(10.0)
    dash.settings.momentum.setValue(0.99)
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.start()
    assert window.run_state.text().startswith("Diverged — the loss stopped being a finite number after ")
    assert messages == ["Training diverged"]

    def broken_run(self):
        yield from []
        raise RuntimeError("out of coffee")

    monkeypatch.setattr(Trainer, "run", broken_run)
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.start()
    assert window.run_state.text() == dash.status["state"].text() == "Failed — see the message above"


# ---- 2. curves that tell the truth ----
def test_smoothing_starts_at_the_first_value_and_runs_through_the_middle():
    rng = np.random.default_rng(0)
    steps = np.arange(1, 401)
    loss = 1.2 + 1.1 * np.exp(-steps / 60) + rng.normal(0, 0.2, steps.size)  # a falling, noisy loss
    smoother = Smoother()
    drawn = np.array([smoother.add(s, v) for s, v in zip(steps, loss)])
    assert tuple(drawn[0]) == (1.0, loss[0])
    through = np.interp(steps[:60], drawn[:, 0], drawn[:, 1])  # the smoothed curve where the raw points are
    assert abs((loss[:60] - through).mean()) < 0.03
    assert (loss[:60] - drawn[:60, 1]).mean() < -0.05  # the same values drawn at their newest step trail above


def test_chance_line_settings_over_steps_and_live_changes(window, qtbot, small_data, started_threads):
    dash = ready_to_train(window, small_data)
    curves = dash.curves
    dash.settings.lr.setValue(0.01)
    dash.start()
    qtbot.waitUntil(lambda: len(curves.steps) >= 3, timeout=WAIT)
    assert curves.chance_line.isVisible() and curves.chance_line.value() == pytest.approx(math.log(10))
    assert "ln 10 = 2.30" in curves.chance_line.label.toPlainText()
    curves.log_scale.setChecked(True)
    assert curves.chance_line.value() == pytest.approx(math.log10(math.log(10)))
    curves.log_scale.setChecked(False)

    pause(qtbot, dash)  # a change while paused is used by exactly the next step
    step = dash.trainer.step
    dash.settings.lr.setValue(0.0025)
    dash.settings.momentum.setValue(0.5)
    assert curves.marks == {step + 1: ["learning rate 0.01 → 0.0025", "momentum 0.9 → 0.5"]}
    dash.toggle_pause()
    qtbot.waitUntil(lambda: len(curves.steps) > step + 3, timeout=WAIT)
    stop(qtbot, dash)
    lrs = dict(zip(curves.steps, curves.lrs))
    assert (lrs[step], lrs[step + 1]) == (0.01, 0.0025) == tuple(dash.trainer.history["lr"][step - 1:step + 1])
    x, y = curves.hyper_items["momentum"].getData()
    assert y[0] == 0.9 and y[-1] == 0.5 and x[list(y).index(0.5)] == step + 1
    x, y = curves.hyper_items["weight_decay"].getData()
    assert set(y) == {0.0005}
    lines = [i for i in curves.loss_plot.items if isinstance(i, pg.InfiniteLine) and i.angle == 90]
    assert [line.value() for line in lines] == [step + 1]
    assert "learning rate 0.01 → 0.0025" in lines[0].label.toPlainText()


# ---- results you can keep ----
def test_curves_and_metrics_are_saved(window, qtbot, small_data, started_threads, tmp_path):
    dash = ready_to_train(window, small_data, epochs=1)
    messages = []
    dash.show_error = lambda title, text: messages.append((title, text))
    assert not dash.metrics_button.isEnabled()
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.start()
    assert dash.save_curves(tmp_path / "curves.png") and dash.save_curves(tmp_path / "curves.svg")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "curves.svg").read_text()
    assert not dash.save_curves(tmp_path / "curves.jpg") and "save the curves as .png or .svg" in messages[-1][1]
    assert dash.metrics_button.isEnabled() and dash.save_metrics(tmp_path / "metrics.csv")
    with open(tmp_path / "metrics.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [int(r["step"]) for r in table] == list(range(1, 11)) and table[-1]["test_accuracy"]
    assert "Saved the metrics" in dash.banner.label.text()
    assert not list(tmp_path.glob(".*.part"))


# ---- 3. a run survives closing the window ----
def test_each_epoch_end_keeps_a_resume_file_until_the_run_ends(qtbot, window, small_data, started_threads):
    dash = ready_to_train(window, small_data)
    dash.start()
    qtbot.waitUntil(lambda: len(dash.curves.epochs) >= 1, timeout=WAIT)
    pause(qtbot, dash)
    path = dash.run_path
    assert path.parent == resume.runs_folder()
    assert Trainer.from_checkpoint(path, small_data).epoch == len(dash.curves.epochs)  # written at each epoch end
    stop(qtbot, dash)
    assert not path.exists()  # the run ended here: nothing to resume at the next start


def test_closing_during_a_run_asks_and_the_next_start_offers_to_resume(qtbot, settings, small_data, started_threads):
    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    first.show()
    dash = ready_to_train(first, small_data)
    dash.start()
    qtbot.waitUntil(lambda: len(dash.curves.steps) >= 3, timeout=WAIT)
    first.ask_close_during_run = lambda: "cancel"
    assert not first.close() and dash.running()
    first.ask_close_during_run = lambda: "save"
    first.ask_save_changes = lambda: "discard"
    assert first.close() and not dash.running()
    saved_step = dash.trainer.step
    (path,) = resume.runs_folder().glob("run-*.npz")
    path = path.rename(path.with_name("run-20250101-000000-999999998.npz"))  # as after the app has quit
    assert resume.interrupted_runs() == [path]

    offered = []
    again = MainWindow(settings=QSettings(settings.fileName(), QSettings.IniFormat))
    again.ask_resume = lambda description: offered.append(description) or "resume"
    again.ask_close_during_run = lambda: "quit"
    qtbot.addWidget(again)
    again.dashboard.set_data(small_data)
    again.show()
    qtbot.waitUntil(lambda: again.dashboard.running() and again.dashboard.trainer is not None
                    and again.dashboard.trainer.step > saved_step, timeout=WAIT)
    assert offered and offered[0].startswith(f"step {saved_step:,} (") and "of 50 epochs done), saved " in offered[0]
    assert again.tabs.currentWidget() is again.dashboard and again.dashboard.run_path == path
    assert again.dashboard.curves.steps[0] == 1  # the curves from the start of the run
    assert again.close() and not path.exists()  # quit without saving: no run left to offer


@pytest.mark.parametrize("answer, kept", [("later", True), ("discard", False)])
def test_an_interrupted_run_can_wait_or_be_discarded(qtbot, settings, answer, kept):
    folder = resume.runs_folder()
    folder.mkdir(parents=True)
    path = folder / "run-20250101-000000-999999998.npz"
    path.write_bytes(b"not read unless resumed")
    window = MainWindow(settings=settings)
    offered = []
    window.ask_resume = lambda description: offered.append(description) or answer
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(offered), timeout=WAIT)
    assert "cannot be read" in offered[0] and path.exists() == kept


# ---- 4. remembered between starts ----
def test_data_folder_settings_and_layout_are_remembered(qtbot, settings, sample_dir, started_threads):
    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    first.tabs.setCurrentWidget(first.dashboard)
    first.resize(780, 560)  # inside the 800x800 offscreen screen (a restored geometry is fitted to the screen)
    first.show()
    dash = first.dashboard
    dash.data_panel.choose_folder(sample_dir)
    qtbot.waitUntil(lambda: dash.data is not None and not dash.data_panel.busy(), timeout=WAIT)
    s = dash.settings
    s.optimizer.setCurrentIndex(s.optimizer.findData("adam"))
    s.lr.setValue(0.002)
    s.epochs.setValue(7)
    s.augment.setChecked(False)
    s.max_steps.setValue(99)
    dash.views.setCurrentIndex(3)
    dash.curves.log_scale.setChecked(True)
    dash.splitter.setSizes([340, 420])
    columns = dash.splitter.sizes()
    wanted = s.config()
    first.close()

    again = MainWindow(settings=QSettings(settings.fileName(), QSettings.IniFormat))
    qtbot.addWidget(again)
    again.show()
    restored = again.dashboard
    assert restored.settings.config() == wanted and wanted.optimizer == "adam" and wanted.augment is False
    assert again.tabs.currentWidget() is restored and restored.views.currentIndex() == 3
    assert restored.curves.log_scale.isChecked() and restored.splitter.sizes() == columns
    qtbot.waitUntil(lambda: restored.data is not None, timeout=WAIT)  # loaded from the remembered folder
    assert restored.data.source == dash.data.source


def test_damaged_remembered_settings_fall_back_to_defaults(qtbot, tmp_path):
    path = tmp_path / "damaged.ini"
    path.write_text('[train]\nsettings={"epochs": "many", "lr": -1, "seed": 3\ncolumns=7\nview=abc\nlogScale=maybe\n'
                    "[window]\ntab=99\n[data]\nfolder=@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x1)\n")
    window = MainWindow(settings=QSettings(str(path), QSettings.IniFormat))
    qtbot.addWidget(window)
    dash = window.dashboard
    assert dash.settings.config() == TrainConfig(lr=default_lr("sgd"))  # not even JSON: all defaults
    assert window.tabs.currentIndex() == 0 and dash.views.currentIndex() == 0 and not dash.curves.log_scale.isChecked()
    QSettings(str(path), QSettings.IniFormat).setValue("train/settings", '{"epochs": "many", "lr": -1, "seed": 3}')
    again = MainWindow(settings=QSettings(str(path), QSettings.IniFormat))
    qtbot.addWidget(again)
    assert again.dashboard.settings.config() == TrainConfig(lr=default_lr("sgd"), seed=3)  # the usable field kept


# ---- 5. 1280x800, messages where the user looks ----
def test_builder_and_train_tabs_fit_1280x800(window, qtbot, small_data):
    window.resize(1280, 800)
    window.builder.select((0,))
    window.builder.inspector.editors["stride"].setValue(3)  # a problem card with long fixes
    qtbot.wait(20)
    assert not horizontal_scroll_bars(window)
    inspector = window.builder.inspector
    card = inspector.problem_cards[0]
    width = inspector.viewport().width()
    assert len(card.fix_buttons) >= 3
    for button in card.fix_buttons:
        assert button.mapTo(inspector.widget(), QPoint(button.width(), 0)).x() <= width  # none cut off
    message = card.findChild(QLabel)
    assert message.wordWrap() and message.width() < width
    first_fix = card.fix_buttons[0]
    bottom = first_fix.mapTo(inspector.viewport(), QPoint(0, first_fix.height())).y()
    assert bottom <= inspector.viewport().height()  # the fix that mends the whole network shows without scrolling

    dash = ready_to_train(window, small_data)
    dash.show_error("Training diverged", "The loss became nan (not a finite number) at learning rate 10: " * 4)
    qtbot.wait(20)
    assert not horizontal_scroll_bars(window)
    assert dash.banner.isVisible() and dash.banner.label.wordWrap()
    assert dash.banner.mapTo(dash, QPoint(0, dash.banner.height())).y() < dash.views.mapTo(dash, QPoint(0, 0)).y()
    assert dash.banner.width() <= dash.width()

    explain = window.explain
    explain.method.setCurrentIndex(explain.method.findData("gradcam"))  # its options widen the side column
    for tab in (explain, window.lessons.slide):
        window.tabs.setCurrentWidget(tab)
        qtbot.wait(20)
        assert not horizontal_scroll_bars(window), tab


# ---- 6. presets grouped ----
def test_presets_menu_is_grouped(window):
    menu = window.menuBar().actions()[[a.text() for a in window.menuBar().actions()].index("&Presets")].menu()
    sections, current = {}, None
    for action in menu.actions():
        if action.isSeparator():
            current = action.text()
            sections[current] = []
        else:
            sections[current].append(action.text())
    assert list(sections) == ["Train on CIFAR-10", "Reference networks (view only)"]
    assert list(sections.items()) == preset_groups()
    assert "convnetjs" in sections["Train on CIFAR-10"] and "vgg16" in sections["Reference networks (view only)"]


# ---- 7. one set of defaults, one unit system ----
def test_the_app_starts_from_the_shared_defaults(qapp):
    assert SettingsPanel().config() == TrainConfig(lr=default_lr("sgd"))
    assert TrainConfig().augment is True


def test_sizes_in_the_window_are_binary_units(window, qtbot, small_data):
    window.dashboard.set_data(small_data)
    window.tabs.setCurrentWidget(window.dashboard)
    texts = [w.text() for w in window.findChildren(QLabel)] + [window.dashboard.data_panel.download_button.toolTip()]
    assert not [t for t in texts if any(f" {unit}" in t for unit in ("KB", "MB", "GB"))]
    assert "163 MiB" in window.dashboard.data_panel.download_button.toolTip()
