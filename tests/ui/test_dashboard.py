"""The training dashboard, driven like a user would (pytest-qt, offscreen), on a slice of the real
CIFAR-10 sample with a tiny network: curves and filters update, pause/resume/stop, a live LR
change, closing mid-run, checkpoints, errors shown, and a download through the data panel."""
from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from ui_helpers import WAIT, tiny_arch

from convviz.model import Architecture, LayerSpec
from convviz.training import Trainer
from convviz.ui.dashboard import TrainDashboard


@pytest.fixture
def dashboard(qtbot, small_data, started_threads):
    dash = TrainDashboard(autoload=False)
    qtbot.addWidget(dash)
    dash.resize(1200, 800)
    dash.show()
    messages = []
    dash.show_error = lambda title, text: messages.append((title, text))
    dash.messages = messages
    dash.set_data(small_data)
    dash.set_architecture(tiny_arch())
    s = dash.settings
    s.batch_size.setValue(25)
    s.val_split.setValue(50)
    s.epochs.setValue(1)
    yield dash
    dash.shutdown()
    assert not dash.running()


def finish(qtbot, dash) -> None:
    qtbot.waitUntil(lambda: not dash.running(), timeout=WAIT)


def test_training_updates_curves_filters_and_views(qtbot, dashboard):
    dash = dashboard
    dash.snapshot_rate = 1000.0  # a snapshot after every step
    assert dash.start_button.isEnabled(), dash.reason.text()
    dash.views.setCurrentWidget(dash.filters)
    pictures, threads, probes = [], set(), set()
    show = dash.filters.set_snapshot

    def record(snapshot):
        threads.add(QThread.currentThread() is QApplication.instance().thread())
        probes.add(snapshot.has_probe)
        show(snapshot)
        dash.refresh_views(force=True)
        pictures.append(dash.filters.image_of("0"))

    dash.filters.set_snapshot = record
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT) as finished:
        dash.start()
    assert finished.args == ["completed"]
    assert len(pictures) >= 2
    assert threads == {True}, "a worker event reached the views outside the GUI thread"
    assert probes == {False}, "with only the filters shown, the run passed the probe through the network too"
    before, after = pictures[0], pictures[-1]
    assert before.shape == after.shape == (2 * 3 + 1, 3 * 3 + 2, 4)  # 4 RGB 3x3 tiles, 2 rows of 3, 1-px gaps
    assert not np.array_equal(before, after), "the filters did not change while training"

    steps_per_epoch = 250 // 25
    assert dash.curves.steps == list(range(1, steps_per_epoch + 1))
    dash.views.setCurrentWidget(dash.curves)
    x, y = dash.curves.raw_item.getData()
    assert len(x) == steps_per_epoch and np.allclose(y, dash.curves.losses)
    assert dash.curves.epochs == [1] and 0 <= dash.curves.test_acc[0] <= 100
    assert dash.status["step"].text().startswith(f"{steps_per_epoch} ")

    dash.views.setCurrentWidget(dash.activations)  # the probe passes through the final weights now
    acts = dash.activations
    qtbot.waitUntil(lambda: acts.image_of("0") is not None, timeout=WAIT)
    first = acts.image_of("0")
    assert first.ndim == 3 and first.shape[2] == 4  # a mosaic of the 4 depth slices of conv 0
    probabilities = acts.image_of(str(len(tiny_arch().layers) - 1))
    assert probabilities.shape == (10,) and abs(probabilities.sum() - 1) < 1e-4  # softmax as bars
    acts.gradients.setChecked(True)
    assert not np.array_equal(acts.image_of("0"), first)

    dash.views.setCurrentWidget(dash.predictions)
    shown = dash.predictions.shown_indices()
    assert len(shown) == 32
    predicted = dash.predictions.probabilities.argmax(axis=1)
    for cell, index in zip(dash.predictions.cells, shown):
        right = predicted[index] == dash.data.test_labels[index]
        assert ("#3fbf6f" if right else "#e05555") in cell.styleSheet()

    dash.views.setCurrentWidget(dash.confusion)
    matrix = dash.confusion.confusion
    assert matrix.sum() == 120
    true_class, predicted_class = np.unravel_index(np.argmax(matrix), matrix.shape)
    dash.confusion.table.cellClicked.emit(int(true_class), int(predicted_class))
    assert dash.confusion.cell_images.count() == matrix[true_class, predicted_class]
    assert not dash.messages


def test_hidden_picture_views_cost_the_run_nothing_and_show_the_last_step_when_opened(qtbot, dashboard):
    """No snapshot is taken while the filters and activations are hidden (each is a forward and backward
    pass in the training thread); opening them after the run shows the weights of its last step."""
    dash = dashboard
    dash.settings.max_steps.setValue(3)
    dash.views.setCurrentWidget(dash.curves)
    taken = []
    dash.filters.set_snapshot = lambda snapshot, show=dash.filters.set_snapshot: (taken.append(snapshot.step),
                                                                                 show(snapshot))
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.start()
    assert taken == [] and dash.filters.image_of("0") is None
    dash.views.setCurrentWidget(dash.filters)
    qtbot.waitUntil(lambda: taken == [3], timeout=WAIT)
    qtbot.waitUntil(lambda: dash.filters.image_of("0") is not None, timeout=WAIT)
    assert np.array_equal(dash.filters.filters["0"], dash.trainer.net.params["0.weight"])
    dash.views.setCurrentWidget(dash.curves)
    dash.views.setCurrentWidget(dash.activations)  # the views have the last step: nothing to compute
    assert taken == [3] and not dash.probe_jobs.busy()


def test_a_picture_view_opened_during_a_run_gets_snapshots_from_then_on(qtbot, dashboard):
    dash = dashboard
    dash.snapshot_rate = 1000.0  # a snapshot after every step while a picture view is shown
    dash.settings.epochs.setValue(50)
    dash.views.setCurrentWidget(dash.curves)
    taken = []
    dash.filters.set_snapshot = lambda snapshot: taken.append(snapshot.step)
    dash.start()
    qtbot.waitUntil(lambda: dash.trainer is not None and dash.trainer.step >= 3, timeout=WAIT)
    assert taken == []
    dash.views.setCurrentWidget(dash.filters)
    qtbot.waitUntil(lambda: len(taken) >= 2, timeout=WAIT)
    assert taken[0] > 3 and taken == sorted(taken)
    dash.views.setCurrentWidget(dash.predictions)
    step = dash.trainer.step
    qtbot.waitUntil(lambda: dash.trainer.step >= step + 2, timeout=WAIT)
    qtbot.wait(100)  # the snapshots taken before the change arrive
    seen, step = len(taken), dash.trainer.step
    qtbot.waitUntil(lambda: dash.trainer.step >= step + 3, timeout=WAIT)
    qtbot.wait(100)
    assert len(taken) == seen
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.stop()


def test_probe_picker_chooses_the_activations_image(qtbot, dashboard, small_data):
    dash = dashboard
    dash.snapshot_rate = 1000.0
    dash.settings.epochs.setValue(50)
    dash.views.setCurrentWidget(dash.activations)
    dash.start()
    qtbot.waitUntil(lambda: dash.activations.snapshot is not None, timeout=WAIT)
    dash.activations.index.setValue(7)
    qtbot.waitUntil(lambda: dash.activations.snapshot.probe_index == 7, timeout=WAIT)
    assert np.array_equal(dash.activations.snapshot.probe_image, small_data.test_images[7])
    dash.activations.use_training.setChecked(True)
    qtbot.waitUntil(lambda: dash.activations.snapshot.probe_index is None, timeout=WAIT)
    dash.refresh_views(force=True)
    assert "a training image" in dash.activations.caption.text()
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.stop()


def test_pause_resume_stop_and_live_learning_rate(qtbot, dashboard):
    dash = dashboard
    dash.settings.epochs.setValue(50)
    dash.settings.lr.setValue(0.01)
    dash.start()
    qtbot.waitUntil(lambda: len(dash.curves.steps) >= 3, timeout=WAIT)
    qtbot.waitUntil(lambda: dash.status["lr"].text() == "0.01", timeout=WAIT)  # the status refreshes twice a second
    dash.settings.lr.setValue(0.0025)
    qtbot.waitUntil(lambda: dash.status["lr"].text() == "0.0025", timeout=WAIT)

    dash.toggle_pause()
    assert dash.pause_button.text() == "Resume"
    qtbot.waitUntil(dash.save_button.isEnabled, timeout=WAIT)  # the worker confirmed the pause
    assert dash.status["state"].text().startswith("Paused")
    count = len(dash.curves.steps)
    qtbot.wait(400)
    assert len(dash.curves.steps) == count, "steps went on while paused"
    dash.toggle_pause()
    qtbot.waitUntil(lambda: len(dash.curves.steps) > count, timeout=WAIT)
    assert not dash.save_button.isEnabled() and not dash.save_checkpoint("/nonexistent/never.npz")
    assert dash.messages.pop() == ("Cannot save now", "Pause or stop training before saving a checkpoint.")

    states = []
    dash.stateChanged.connect(states.append)
    dash.toggle_pause()
    time.sleep(1.0)  # the GUI thread is busy: the worker holds and its confirmation waits in the queue
    dash.toggle_pause()  # Resume, before the confirmation arrives
    qtbot.waitUntil(lambda: len(dash.curves.steps) > count + 3, timeout=WAIT)
    assert states[0] == "Training — pausing after the current step", states
    assert all(s.startswith("Training — step ") for s in states[1:]), states  # the stale hold is ignored
    assert not dash.save_button.isEnabled()

    dash.toggle_pause()
    qtbot.waitUntil(dash.save_button.isEnabled, timeout=WAIT)
    states.clear()
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT) as finished:
        dash.stop()  # while paused
        assert not dash.save_button.isEnabled()  # the hold ends: no saving while the run winds down
    assert finished.args == ["stopped"]
    assert states[0] == "Stopping — after the current step", states
    assert states[-1].startswith("Finished — stopped on request after"), states
    assert not any(s.startswith("Training") for s in states), states
    assert dash.start_button.isEnabled() and not dash.stop_button.isEnabled()
    assert dash.status["state"].text() == states[-1]


def test_close_during_training_stops_and_keeps_the_checkpoint(qtbot, dashboard, small_data, tmp_path):
    dash = dashboard
    dash.settings.epochs.setValue(50)
    dash.start()
    qtbot.waitUntil(lambda: len(dash.curves.steps) >= 2, timeout=WAIT)
    dash.toggle_pause()
    qtbot.waitUntil(dash.save_button.isEnabled, timeout=WAIT)
    path = tmp_path / "run.npz"
    assert dash.save_checkpoint(path)
    saved_step = Trainer.from_checkpoint(path, small_data).step
    dash.toggle_pause()
    qtbot.waitUntil(lambda: dash.curves.steps[-1] > saved_step + 2, timeout=WAIT)
    dash.shutdown()  # what closing the window does
    assert not dash.running()
    assert Trainer.from_checkpoint(path, small_data).step > saved_step, "closing lost the run's progress"


def test_checkpoint_continues_the_run_with_its_live_settings(qtbot, dashboard, tmp_path):
    dash = dashboard
    dash.settings.epochs.setValue(50)
    dash.start()
    qtbot.waitUntil(lambda: len(dash.curves.steps) >= 2, timeout=WAIT)
    dash.settings.lr.setValue(0.004)  # a live change: the checkpoint must continue with it
    qtbot.waitUntil(lambda: dash.status["lr"].text() == "0.004", timeout=WAIT)
    dash.toggle_pause()
    qtbot.waitUntil(dash.save_button.isEnabled, timeout=WAIT)
    path = tmp_path / "run.npz"
    assert dash.save_checkpoint(path)
    saved = dash.trainer.step
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.stop()

    dash.settings.lr.setValue(0.01)
    dash.curves.clear()
    dash.load_checkpoint(path)
    qtbot.waitUntil(lambda: dash.loaded_trainer is not None, timeout=WAIT)
    assert dash.start_button.text() == "Continue run" and dash.curves.steps == list(range(1, saved + 1))
    assert dash.settings.lr.value() == pytest.approx(0.004)
    dash.settings.max_steps.setValue(saved + 3)
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT) as finished:
        dash.start()
    assert finished.args == ["max_steps"]
    assert dash.curves.steps == list(range(1, saved + 4))
    assert dash.trainer.history["lr"][saved:] == pytest.approx([0.004] * 3)


def test_a_checkpoint_named_without_suffix_gets_npz(qtbot, dashboard, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    dashboard.settings.max_steps.setValue(2)
    with qtbot.waitSignal(dashboard.runFinished, timeout=WAIT):
        dashboard.start()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(tmp_path / "run1"), ""))
    assert dashboard.save_checkpoint()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("run1")] == ["run1.npz"]  # Load lists *.npz


def test_bad_checkpoint_is_reported(qtbot, dashboard, tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a checkpoint")
    dashboard.load_checkpoint(path)
    qtbot.waitUntil(lambda: bool(dashboard.messages), timeout=WAIT)
    title, text = dashboard.messages[0]
    assert title == "Cannot load the checkpoint" and "junk.npz" in text
    assert dashboard.loaded_trainer is None


def test_worker_error_is_shown_to_the_user(qtbot, dashboard, monkeypatch):
    def broken_run(self):
        yield from []
        raise RuntimeError("the engine ran out of coffee")

    monkeypatch.setattr(Trainer, "run", broken_run)
    with qtbot.waitSignal(dashboard.runFinished, timeout=WAIT) as finished:
        dashboard.start()
    assert finished.args == ["failed"]
    assert dashboard.messages and dashboard.messages[0][0] == "Training failed"
    assert "the engine ran out of coffee" in dashboard.messages[0][1]
    assert dashboard.start_button.isEnabled() and not dashboard.running()


def test_divergence_stops_with_a_message(qtbot, dashboard):
    dash = dashboard
    dash.settings.epochs.setValue(50)
    dash.settings.lr.setValue(10.0)
    dash.settings.momentum.setValue(0.99)
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT) as finished:
        dash.start()
    assert finished.args == ["diverged"]
    title, text = dash.messages[0]
    assert title == "Training diverged" and "lower learning rate" in text
    assert dash.status["state"].text().startswith("Diverged — ")


def test_invalid_architecture_disables_start_with_the_reason(qtbot, dashboard):
    bad = Architecture(layers=[LayerSpec("conv", {"filters": 4, "size": 3, "stride": 2}), LayerSpec("fc"),
                               LayerSpec("softmax")])
    dashboard.set_architecture(bad)
    assert not dashboard.start_button.isEnabled()
    assert "Cannot train" in dashboard.reason.text() and dashboard.reason.isVisibleTo(dashboard)
    dashboard.set_architecture(tiny_arch())
    assert dashboard.start_button.isEnabled() and not dashboard.reason.text()


@pytest.fixture
def cifar_server(sample_dir):
    """The sample's cifar-10-python.tar.gz served over HTTP on 127.0.0.1 -> (url, md5)."""
    handler = functools.partial(QuietHandler, directory=str(sample_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    md5 = (sample_dir / "MD5SUM").read_text().split()[0]
    yield f"http://127.0.0.1:{server.server_port}/cifar-10-python.tar.gz", md5
    server.shutdown()
    server.server_close()
    thread.join()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_through_the_panel(qtbot, cifar_server, tmp_path, monkeypatch, started_threads, sample_dir):
    url, md5 = cifar_server
    assert hashlib.md5((sample_dir / "cifar-10-python.tar.gz").read_bytes()).hexdigest() == md5
    monkeypatch.setenv("CONVVIZ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CONVVIZ_CIFAR_URL", url)
    monkeypatch.setenv("CONVVIZ_CIFAR_MD5", md5)
    dash = TrainDashboard(autoload=True)  # nothing there yet: it says so when shown
    qtbot.addWidget(dash)
    dash.show()
    try:
        panel = dash.data_panel
        assert "not found" in panel.where.text()
        assert not dash.start_button.isEnabled() and "CIFAR-10" in dash.reason.text()
        values, texts = [], []
        panel.progress.valueChanged.connect(values.append)
        panel.progress.valueChanged.connect(lambda _: texts.append(panel.progress_text.text()))
        panel.download_button.click()
        assert panel.cancel_button.isVisibleTo(panel)
        qtbot.waitUntil(lambda: dash.data is not None, timeout=WAIT)
        assert max(values) == 1000  # 100% of the bar (its range is 0..1000 while downloading)
        assert any(" MiB" in t and "/" in t for t in texts), texts
        assert len(dash.data.train_labels) == 5170
        assert (tmp_path / "home" / "cifar-10-batches-py" / "test_batch").is_file()
        assert "5,170 training" in panel.where.text()
    finally:
        dash.shutdown()


def test_closing_as_a_download_ends_starts_no_load(qtbot, cifar_server, tmp_path, monkeypatch, started_threads):
    """The download's last signals are still queued when the window closes: the load it would chain
    must not start a thread that outlives the window."""
    url, md5 = cifar_server
    dash = TrainDashboard(autoload=False)
    qtbot.addWidget(dash)
    panel = dash.data_panel
    panel.download(dest=tmp_path, url=url, md5=md5)
    assert panel._job.thread.wait(WAIT)  # the GUI thread is busy: result and done wait in its queue
    dash.shutdown()
    qtbot.wait(200)  # now they arrive
    assert not panel.busy() and len(started_threads) == 1


def test_cancelled_download_says_so(qtbot, tmp_path, monkeypatch, started_threads):
    """A server that trickles a 10 MB body: Cancel ends the download cleanly."""
    release = threading.Event()

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(10_000_000))
            self.end_headers()
            try:
                while not release.wait(0.02):
                    self.wfile.write(b"\0" * 20_000)
                    self.wfile.flush()
            except OSError:  # the client hung up
                pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    dash = TrainDashboard(autoload=False)
    qtbot.addWidget(dash)
    try:
        panel = dash.data_panel
        panel.download(dest=tmp_path, url=f"http://127.0.0.1:{server.server_port}/x.tar.gz", md5="0" * 32)
        qtbot.waitUntil(lambda: "MiB" in panel.progress_text.text(), timeout=WAIT)
        assert "9.54 MiB" in panel.progress_text.text()
        panel.cancel_button.click()
        qtbot.waitUntil(lambda: not panel.busy(), timeout=WAIT)
        assert "cancelled" in panel.where.text().lower()
        assert panel.download_button.isEnabled()
        assert not panel.progress.isVisibleTo(panel) and not panel.progress_text.isVisibleTo(panel)  # no stale bar
    finally:
        release.set()
        dash.shutdown()
        server.shutdown()
        server.server_close()
        thread.join()


def test_choose_folder_loads_that_folder_or_says_what_is_missing(qtbot, tmp_path, monkeypatch, sample_dir,
                                                                started_threads):
    monkeypatch.setenv("CONVVIZ_DATA", str(sample_dir))  # a copy elsewhere must not stand in for the choice
    dash = TrainDashboard(autoload=False)
    qtbot.addWidget(dash)
    failures = []
    dash.data_panel.failed.connect(lambda title, text: failures.append((title, text)))
    try:
        panel = dash.data_panel
        (tmp_path / "cifar-10-batches-py").mkdir()
        (tmp_path / "cifar-10-batches-py" / "batches.meta").write_bytes(b"")
        panel.choose_folder(tmp_path)
        qtbot.waitUntil(lambda: not panel.busy(), timeout=WAIT)
        assert dash.data is None and failures and "missing data_batch_1" in failures[0][1]
        assert "missing data_batch_1" in panel.where.text()
        panel.choose_folder(sample_dir)
        qtbot.waitUntil(lambda: dash.data is not None, timeout=WAIT)
        assert len(dash.data.train_labels) == 5170
    finally:
        dash.shutdown()


def test_train_tab_follows_the_builder_and_closing_mid_run_stops_it(qtbot, settings, small_data, started_threads):
    from convviz.ui.main_window import MainWindow

    window = MainWindow(settings=settings)
    window.ask_close_during_run = lambda: "quit"
    qtbot.addWidget(window)
    window.show()
    dash = window.dashboard
    assert window.tabs.indexOf(dash) > 0 and window.tabs.tabText(window.tabs.indexOf(dash)) == "Train"
    dash.show_error = lambda title, text: pytest.fail(f"unexpected message: {title}: {text}")
    dash.set_data(small_data)
    bad = Architecture(layers=[LayerSpec("conv", {"filters": 4, "size": 4, "stride": 3}), LayerSpec("fc"),
                               LayerSpec("softmax")])
    window.document.reset(bad, None, "bad")
    assert not dash.start_button.isEnabled() and "Cannot train" in dash.reason.text()
    window.document.reset(tiny_arch(), None, "tiny")
    assert dash.start_button.isEnabled() and dash.arch.layers == tiny_arch().layers
    window.tabs.setCurrentWidget(dash)
    dash.settings.batch_size.setValue(25)
    dash.settings.val_split.setValue(50)
    dash.settings.epochs.setValue(100)
    dash.start()
    qtbot.waitUntil(lambda: len(dash.curves.steps) >= 3, timeout=WAIT)
    assert dash.running()
    window.close()
    assert not dash.running(), "closing the window left the training thread running"
