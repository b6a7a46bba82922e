"""The Explain tab driven like a user would (pytest-qt, offscreen): every method drawn, a network from
the current run, a weights file or a checkpoint, stepping through mistakes, clicking the embedding,
and Cancel ending a long job with no thread left behind."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QObject, Signal

from convviz.data import load_cifar10
from convviz.interpret.catalogue import METHODS
from convviz.interpret.subject import Subject
from convviz.model import Architecture, LayerSpec as L
from convviz.training import TrainConfig, Trainer
from convviz.ui.explain import ExplainTab

WAIT = 60_000  # ms: the machine is shared


def small_arch() -> Architecture:
    return Architecture(layers=[L("conv", {"filters": 6, "size": 3, "pad": 1}), L("relu"), L("maxpool", {"size": 2}),
                                L("conv", {"filters": 8, "size": 3, "pad": 1}), L("relu"), L("maxpool", {"size": 4}),
                                L("fc", {"units": 10}), L("softmax")])


@pytest.fixture(scope="module")
def data(sample_dir):
    """The sample with 120 test images (the data-set methods stay quick)."""
    d = load_cifar10(sample_dir)
    return dataclasses.replace(d, test_images=d.test_images[:120], test_labels=d.test_labels[:120])


@pytest.fixture(scope="module")
def trainer(data):
    """A trainer with a few steps done: its net, normaliser and names are what the tab copies."""
    t = Trainer(small_arch(), data, TrainConfig(epochs=1, max_steps=20, batch_size=32, snapshot_rate=0,
                                                evaluate_test=False))
    for _ in t.run():
        pass
    return t


class FakeDashboard(QObject):
    """What the Explain tab reads from the Train tab: idle_trainer(), data, arch and the data panel."""

    loaded = Signal(object)

    def __init__(self, data, trainer):
        super().__init__()
        self.data, self.arch, self._trainer, self.data_panel = data, small_arch(), trainer, self
        self.idle = True

    def idle_trainer(self):
        return self._trainer if self.idle else None

    def busy(self) -> bool:
        return False


@pytest.fixture
def tab(qtbot, data, trainer):
    dashboard = FakeDashboard(data, trainer)
    w = ExplainTab(dashboard)
    w.errors = []
    w.show_error = lambda title, text: w.errors.append((title, text))
    qtbot.addWidget(w)
    w.resize(1200, 760)
    w.show()
    w.fake_dashboard = dashboard
    yield w
    w.shutdown()
    assert not w.busy()


def _idle(qtbot, tab) -> None:
    qtbot.waitUntil(lambda: not tab.busy(), timeout=WAIT)


def _use_run(qtbot, tab) -> None:
    assert tab.use_current_run()
    qtbot.waitUntil(lambda: tab.subject is not None and tab.probabilities is not None, timeout=WAIT)
    _idle(qtbot, tab)


def test_the_current_run_is_copied_and_every_method_is_drawn(qtbot, tab, trainer):
    tab.fake_dashboard.idle = False
    assert not tab.use_current_run() and tab.errors and "pause" in tab.errors[-1][1]
    tab.fake_dashboard.idle = True
    tab.errors.clear()
    _use_run(qtbot, tab)
    net = tab.subject.net
    assert net is not trainer.net
    for k, a in trainer.net.state().items():
        assert np.array_equal(net.state()[k], a) and not np.shares_memory(net.state()[k], a)
    assert "step 20" in tab.network_text.text()
    tab.index.setValue(4)
    tab.steps.setValue(5)
    for name, method in METHODS.items():
        tab.method.setCurrentIndex(tab.method.findData(name))
        if name in ("class-model", "deepdream"):
            tab.steps.setValue(5)
        _idle(qtbot, tab)
        tab.result = None
        tab.run()
        qtbot.waitUntil(lambda: tab.result is not None and not tab.busy(), timeout=WAIT)
        e, view = tab.result, tab.view
        assert e.method == name and view.caption.text() == e.caption
        if e.heat is not None:
            assert view.heat_item is not None and view.colorbar is not None
            assert view.heat_item.image.shape == (32, 32)
        elif e.points is not None:
            assert sum(len(item.points()) for item in view.scatter) == 120
        assert view.canvas.ci.items, name
    assert not tab.errors


def test_clicking_the_embedding_opens_that_image(qtbot, tab):
    _use_run(qtbot, tab)
    tab.method.setCurrentIndex(tab.method.findData("embedding"))
    tab.run()
    qtbot.waitUntil(lambda: tab.result is not None and tab.result.method == "embedding" and not tab.busy(), timeout=WAIT)
    item = tab.view.scatter[3]
    point = item.points()[0]
    item.sigClicked.emit(item, [point], None)
    assert tab.index.value() == int(point.data())
    assert tab.view.marker.data["x"][0] == pytest.approx(tab.result.points[int(point.data()), 0])


def test_stepping_through_mistakes(qtbot, tab, data):
    _use_run(qtbot, tab)
    wrong = np.flatnonzero(tab.probabilities.argmax(axis=1) != data.test_labels)
    assert len(wrong) > 2
    tab.mistakes.setChecked(True)
    tab.index.setValue(0)
    tab.step_image(1)
    assert tab.index.value() == wrong[wrong > 0][0]
    tab.step_image(1)
    assert tab.index.value() == wrong[wrong > 0][1]
    assert "predicted" in tab.image_text.text()


def test_weights_file_and_checkpoint(qtbot, tab, trainer, tmp_path):
    trainer.net.save_weights(tmp_path / "w.npz")
    trainer.save_checkpoint(tmp_path / "c.npz")
    for name, words in (("w.npz", "builder's network"), ("c.npz", "checkpoint c.npz")):
        tab.subject = None
        tab.open_weights(tmp_path / name)
        qtbot.waitUntil(lambda: tab.subject is not None, timeout=WAIT)
        assert words in tab.network_text.text()
        for k, a in trainer.net.state().items():
            assert np.array_equal(tab.subject.net.state()[k], a)
        assert np.allclose(tab.subject.normalizer.mean, trainer.normalizer.mean)
    _idle(qtbot, tab)
    (tmp_path / "bad.npz").write_text("not an archive")
    tab.open_weights(tmp_path / "bad.npz")
    qtbot.waitUntil(lambda: bool(tab.errors), timeout=WAIT)
    title, text = tab.errors[-1]
    assert "bad.npz" in text and "\n" not in text and "Error" not in text


def test_a_picture_file_is_explained(qtbot, tab, data, tmp_path):
    from PIL import Image

    _use_run(qtbot, tab)
    Image.fromarray(np.kron(data.test_images[9].transpose(1, 2, 0), np.ones((2, 3, 1), np.uint8))).save(tmp_path / "car.png")
    tab.method.setCurrentIndex(tab.method.findData("saliency"))
    _idle(qtbot, tab)
    tab.result = None
    tab.open_picture(tmp_path / "car.png")
    qtbot.waitUntil(lambda: tab.picture is not None and tab.result is not None and not tab.busy(), timeout=WAIT)
    assert tab.image().shape == (3, 32, 32) and "car.png" in tab.image_text.text()
    assert np.array_equal(tab.result.input, tab.subject.normalise(tab.image()))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    tab.open_picture(tmp_path / "broken.png")
    qtbot.waitUntil(lambda: bool(tab.errors), timeout=WAIT)
    assert "broken.png" in tab.errors[-1][1]
    tab.index.setValue(3)
    assert tab.picture is None and "#3" in tab.image_text.text()


def test_cancel_stops_a_long_job_and_leaves_no_thread(qtbot, tab, sample_dir):
    tab.set_data(load_cifar10(sample_dir))  # all 1,017 test images: the embedding takes seconds
    _use_run(qtbot, tab)
    tab.method.setCurrentIndex(tab.method.findData("embedding"))
    progress = []
    tab.run()
    job = tab._job
    job.worker.progress.connect(lambda f: progress.append(f))
    assert tab.cancel_button.isVisible() and tab.progress.isVisible()
    qtbot.waitUntil(lambda: len(progress) > 2, timeout=WAIT)
    tab.cancel()
    _idle(qtbot, tab)
    assert not job.thread.isRunning()
    assert tab.status.text() == "Cancelled." and not tab.progress.isVisible()
    assert tab.subject.net.interrupt is None


def test_the_main_window_has_the_explain_tab(window):
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles[:3] == ["Builder", "Train", "Explain"]
    assert isinstance(window.explain, ExplainTab) and window.explain.dashboard is window.dashboard
