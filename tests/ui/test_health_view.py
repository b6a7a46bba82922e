"""The Health view and the Sanity checks panel on their own (pytest-qt, offscreen), fed by real training
and real checks on a slice of the CIFAR-10 sample."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from convviz.data import load_cifar10
from convviz.model import Architecture, LayerSpec
from convviz.training import HealthEvent, TrainConfig, Trainer
from convviz.ui.dashboard.dashboard import VIEW_SECONDS
from convviz.ui.dashboard.health import HealthView
from convviz.ui.dashboard.sanity_panel import SanityPanel
from convviz.ui.dashboard.style import configure_pyqtgraph

WAIT = 30_000


@pytest.fixture(scope="module")
def small_data(sample_dir):
    data = load_cifar10(sample_dir)
    return dataclasses.replace(data, train_images=data.train_images[:300], train_labels=data.train_labels[:300],
                               test_images=data.test_images[:50], test_labels=data.test_labels[:50])


def tiny_arch() -> Architecture:
    return Architecture(layers=[
        LayerSpec("conv", {"filters": 4, "size": 3, "pad": 1}), LayerSpec("relu"), LayerSpec("maxpool", {"size": 4}),
        LayerSpec("conv", {"filters": 3, "size": 3, "pad": 1}), LayerSpec("relu"), LayerSpec("fc", {"units": 10}),
        LayerSpec("softmax")])


def health_events(data, steps: int, lr: float) -> list[HealthEvent]:
    trainer = Trainer(tiny_arch(), data, TrainConfig(epochs=1, batch_size=25, val_split=50, lr=lr, max_steps=steps,
                                                     snapshot_rate=0))
    trainer.watch_health(math.inf)
    return [e for e in trainer.run() if isinstance(e, HealthEvent)]


@pytest.fixture
def view(qtbot):
    configure_pyqtgraph()
    v = HealthView()
    qtbot.addWidget(v)
    v.resize(900, 640)
    v.show()
    qtbot.waitExposed(v)
    return v


def test_the_view_draws_every_layer_and_the_chosen_layers_bands(view, small_data):
    events = health_events(small_data, 6, 0.01)
    for e in events:
        view.add_health(e)
    view.refresh()
    assert [view.layer.itemText(i) for i in range(view.layer.count())] == [
        "block 0 (Conv)", "block 3 (Conv)", "block 5 (FC)"]
    for key, item in view._ratio_items.items():
        x, y = item.xData, item.yData  # as given: getData() is in the log scale's units
        assert list(x) == [e.step for e in events]
        ratios = [next(layer.update_ratio for layer in e.layers if layer.key == key) for e in events]
        np.testing.assert_allclose(y, ratios)
    assert set(view._fired_items) == {"1", "4"}
    _, fired = view._fired_items["4"].getData()
    np.testing.assert_allclose(fired, [100 * e.layers[3].never_fired for e in events])
    _, median = view.weight_bands_item.median.getData()
    np.testing.assert_allclose(median, [e.layers[0].weight_bands[2] for e in events])
    view.layer.setCurrentIndex(2)  # FC: its bands replace the conv's at once
    _, median = view.grad_bands_item.median.getData()
    np.testing.assert_allclose(median, [e.layers[-1].grad_bands[2] for e in events])
    assert view.grad_plot.getPlotItem().titleLabel.text == "Gradients of block 5 (FC)"
    assert view.summary.text() == f"Health at step {events[-1].step} (6 samples)"
    assert "Every layer looks healthy" in view.hints.text()


def test_hints_are_shown_and_a_hidden_view_is_not_drawn(view, small_data):
    events = health_events(small_data, 2, 0.01)
    view.add_health(events[0])
    view.refresh()
    hint = "block 4 (ReLU): 80% of its units never fired on the last 25 training images; try a lower learning rate"
    broken = dataclasses.replace(events[1], layers=[dataclasses.replace(layer, hint=hint) if layer.key == "4" else layer
                                                    for layer in events[1].layers])
    view.hide()
    view.add_health(broken)
    view.refresh()
    assert len(view._ratio_items["0"].xData) == 1  # kept, not drawn while hidden
    view.show()
    view.refresh()
    assert len(view._ratio_items["0"].xData) == 2
    assert "80% of its units never fired" in view.hints.text() and "healthy" not in view.hints.text()
    view.add_health(dataclasses.replace(events[0], step=3))  # healthy again: the warning stays, with its steps
    view.refresh()
    assert view.hints.text().index("Every layer looks healthy now") < view.hints.text().index(f"Steps 2–2: {hint}")
    view.clear()
    view.refresh()
    assert view.steps == [] and not view.hints.isVisible() and view._ratio_items["0"].xData is None  # pyqtgraph: empty


def test_the_sanity_panel_runs_the_checks_off_the_gui_thread(qtbot, small_data, started_threads):
    configure_pyqtgraph()
    panel = SanityPanel(lambda: (tiny_arch(), small_data, None, 0))
    qtbot.addWidget(panel)
    panel.show()
    seen = []
    panel.progress.valueChanged.connect(seen.append)
    panel.button.click()
    assert panel.busy() and not panel.button.isEnabled()
    qtbot.waitUntil(lambda: not panel.busy(), timeout=WAIT)
    assert [r.name for r in panel.results] == ["initial loss", "overfit", "gradient check"]
    assert all(r.passed for r in panel.results), [str(r) for r in panel.results]
    assert seen and max(seen) > 600  # progress reached the gradient check
    text = panel.report.text()
    assert text.count("✓ pass") == 3 and "block 0 (Conv)" in text and "against ln 10" in text
    assert panel.status.text() == "3 of 3 checks passed."
    assert panel.button.isEnabled() and not panel.progress.isVisible()


def test_the_sanity_panel_stops_on_shutdown_and_says_why_it_cannot_run(qtbot, small_data, started_threads):
    panel = SanityPanel(lambda: (tiny_arch(), small_data, None, 0))
    qtbot.addWidget(panel)
    panel.button.click()
    panel.shutdown()  # stops between two layers and waits
    assert not panel.busy()
    qtbot.waitUntil(lambda: panel.status.text() == "Stopped.", timeout=WAIT)
    panel.set_blocker("Load CIFAR-10 first.")
    assert not panel.button.isEnabled() and panel.button.toolTip() == "Load CIFAR-10 first."

    def no_network():
        raise ValueError("build a network in the builder first")

    refused = SanityPanel(no_network)
    qtbot.addWidget(refused)
    refused.run()
    assert refused.status.text() == "Cannot run the checks: build a network in the builder first" and not refused.busy()


@pytest.fixture
def dashboard(qtbot, small_data, started_threads):
    from convviz.ui.dashboard import TrainDashboard

    dash = TrainDashboard(autoload=False)
    qtbot.addWidget(dash)
    dash.resize(1280, 800)
    dash.show()
    dash.messages = []
    dash.show_error = lambda title, text: dash.messages.append((title, text))
    dash.set_data(small_data)
    dash.set_architecture(tiny_arch())
    dash.settings.batch_size.setValue(25)
    dash.settings.val_split.setValue(50)
    dash.settings.epochs.setValue(1)
    yield dash
    dash.shutdown()


def test_the_dashboard_shows_health_while_training_and_runs_the_checks(qtbot, dashboard, monkeypatch):
    dash = dashboard
    monkeypatch.setitem(VIEW_SECONDS, HealthView, 1e-9)  # a sample after every step (one per redraw)
    dash.views.setCurrentWidget(dash.health)
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.start()
    assert dash.health.steps == list(range(1, 11)) and not dash.messages
    dash.refresh_views(force=True)
    assert list(dash.health._ratio_items["0"].xData) == list(range(1, 11))
    assert dash.health.summary.text() == "Health at step 10 (10 samples)"

    assert dash.sanity.button.isEnabled(), dash.sanity.button.toolTip()
    dash.sanity.button.click()
    qtbot.waitUntil(lambda: not dash.sanity.busy(), timeout=WAIT)
    assert [r.passed for r in dash.sanity.results] == [True] * 3
    assert "the current weights" in dash.sanity.results[2].line  # the run's network, which holds still

    dash.settings.epochs.setValue(50)
    dash.start()
    assert not dash.sanity.button.isEnabled() and dash.sanity.button.toolTip() == "Pause or stop training first."
    qtbot.waitUntil(lambda: len(dash.health.steps) >= 1, timeout=WAIT)
    assert dash.health.steps[0] == 1, "a new run starts a new health record"
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.stop()
