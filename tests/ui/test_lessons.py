"""The notes' lessons in the app, driven like a user would: click a neuron of the activations, read
parameter sharing in the inspector, convert fc layers from the Edit menu, slide over a mosaic."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt

from convviz.data import Normalizer, load_cifar10
from convviz.engine import Network, Volume
from convviz.interpret.subject import Subject
from convviz.model import Architecture, LayerSpec as L
from convviz.model.presets import load_preset
from convviz.ui.dashboard import TrainDashboard
from convviz.ui.dashboard.activations import tile_columns
from convviz.ui.dashboard.imaging import tile_place
from convviz.ui.lessons.neuron import NeuronLesson
from convviz.ui.lessons.slide import SlideView

WAIT = 20_000  # ms: the machine is shared


@pytest.fixture(scope="module")
def small_data(sample_dir):
    data = load_cifar10(sample_dir)
    return dataclasses.replace(data, train_images=data.train_images[:200], train_labels=data.train_labels[:200],
                               test_images=data.test_images[:60], test_labels=data.test_labels[:60])


def _convnetjs_subject() -> Subject:
    arch = load_preset("convnetjs")
    return Subject.copied(arch, Network(arch, seed=5).state(), Normalizer([125.0] * 3, [62.0] * 3),
                          [f"class {k}" for k in range(10)])


@pytest.fixture
def lesson(qtbot, small_data, started_threads):
    """A dashboard that has finished a short run of a tiny net, showing test image 3, with the lesson."""
    dash = TrainDashboard(autoload=False)
    qtbot.addWidget(dash)
    dash.resize(1200, 900)
    dash.show()
    dash.show_error = lambda title, text: pytest.fail(f"{title}: {text}")
    lesson = NeuronLesson(dash)
    dash.set_data(small_data)
    dash.set_architecture(Architecture(layers=[
        L("conv", {"filters": 4, "size": 3, "pad": 1}), L("relu"), L("maxpool", {"size": 4}),
        L("conv", {"filters": 3, "size": 3, "pad": 1}), L("relu"), L("fc", {"units": 10}), L("softmax")]))
    dash.settings.batch_size.setValue(25)
    dash.settings.val_split.setValue(50)
    dash.settings.max_steps.setValue(3)
    dash.views.setCurrentWidget(dash.activations)
    lesson.explain("0", 0, 0, 0)
    assert "Train the network first" in lesson.panel.text.text()
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.start()
    dash.activations.index.setValue(3)
    qtbot.waitUntil(lambda: dash.activations.snapshot is not None and dash.activations.snapshot.probe_index == 3
                    and not dash.probe_jobs.busy(), timeout=WAIT)
    dash.refresh_views(force=True)
    yield lesson
    lesson.panel.shutdown()
    dash.shutdown()


def _click(qtbot, view, row: int, k: int, i: int, j: int) -> None:
    """A real mouse click on neuron (k, i, j) of the volume shown in row."""
    d, h, w = list(view.snapshot.activations.values())[row].shape
    top, left = tile_place(k, tile_columns(d), h, w)
    holder = view.volume_views()[row][1]
    spot = view.canvas.mapFromScene(holder.mapViewToScene(QPointF(left + j + 0.5, top + i + 0.5)))
    qtbot.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(spot.x(), spot.y()))


def test_clicking_a_conv_neuron_explains_it_with_the_engines_numbers(qtbot, lesson):
    view, panel = lesson.dashboard.activations, lesson.panel
    _click(qtbot, view, 3, 2, 5, 6)  # block 3: conv 3 filters 3x3x4 on the pooled 8x8x4
    qtbot.waitUntil(lambda: panel.explanation is not None, timeout=WAIT)
    e = panel.explanation
    assert (e.node.key, e.depth, e.row, e.col) == ("3", 2, 5, 6)
    assert e.value == pytest.approx(float(view.snapshot.activations["3"][2, 5, 6]), abs=1e-5)
    assert e.recipe.op == "dot" and e.recipe.window.shape == (4, 3, 3)
    assert "It is a dot product: the 3x3x4 window of block 2 (Max pool)'s output" in panel.text.text()
    assert panel.numbers.text().count("depth slice") == 4 and "×" in panel.numbers.text()
    # pooled rows 4..6 are conv 0's rows 16..27, which see input rows 15..28 (columns 19..31: the image ends)
    assert e.regions[0] == (15, 19, 29, 32)
    assert len(lesson.picker.outlines) == 1 + 4 + 4 + 4 + 1  # the probe, blocks 0-2's 4 slices, the neuron
    assert all(item.scene() is not None for _, item in lesson.picker.outlines)
    top, left = tile_place(2, tile_columns(3), 8, 8)
    neuron = [item.rect() for box, item in lesson.picker.outlines if box is view.volume_views()[3][1]]
    assert [(r.x(), r.y(), r.width(), r.height()) for r in neuron] == [(left + 6, top + 5, 1, 1)]
    assert not panel.picture.pixmap().isNull()


def test_a_pool_neuron_and_a_new_probe(qtbot, lesson):
    view, panel = lesson.dashboard.activations, lesson.panel
    lesson.explain("2", 1, 3, 4)
    qtbot.waitUntil(lambda: panel.explanation is not None, timeout=WAIT)
    e = panel.explanation
    assert e.recipe.op == "max" and e.value == pytest.approx(float(view.snapshot.activations["2"][1, 3, 4]), abs=1e-6)
    assert e.recipe.window[e.recipe.chosen] == e.value
    assert "its largest number underlined" in panel.numbers.text()
    assert "4x4 window of depth slice 1" in panel.text.text()
    view.index.setValue(4)  # another probe: the explanation was of the old one
    assert panel.explanation is None and not lesson.picker.outlines


def test_the_inspector_teaches_parameter_sharing(window):
    window.document.reset(Architecture(Volume(227, 227, 3), [
        L("conv", {"filters": 96, "size": 11, "stride": 4}), L("relu"), L("globalavgpool"), L("fc", {"units": 1000}),
        L("softmax")], classes=1000), None, "AlexNet's first layer")
    window.builder.select(0)
    text = window.builder.inspector.sharing_label.text()
    for figure in ("34,944", "105,705,600", "55x55x96 = 290,400 neurons", "11x11x3 = 363 weights and 1 bias"):
        assert figure in text
    window.builder.select(1)
    assert window.builder.inspector.sharing_label.text() == ""


def test_edit_convert_fc_layers_carries_the_explain_tabs_weights(qtbot, window, started_threads):
    explain = window.explain
    subject = _convnetjs_subject()
    explain.set_subject(subject, "random weights")
    qtbot.waitUntil(lambda: not explain.busy(), timeout=WAIT)
    x = np.random.default_rng(0).normal(size=(4, 3, 32, 32)).astype(np.float32)
    before = subject.net.predict_proba(x)
    window.lessons.convert_action.trigger()
    converted_block = window.document.arch.layers[9]
    assert (converted_block.type, converted_block.params) == ("conv", {"filters": 10, "size": 4})
    assert "block 9: FC 10 on a 4x4x20 volume -> Conv 10 filters of 4x4x20" in window.statusBar().currentMessage()
    converted = explain.subject
    assert converted is not subject and converted.net.params["9.weight"].shape == (10, 20, 4, 4)
    np.testing.assert_allclose(converted.net.predict_proba(x), before, atol=1e-5)
    assert "converted to convolutions" in explain.network_text.text()
    window.lessons.convert_action.trigger()
    assert "no fc layer" in window.statusBar().currentMessage()
    window.document.undo_stack.undo()
    assert window.document.arch.layers[9].type == "fc"
    window.document.reset(Architecture(Volume(8, 6, 3), [L("conv", {"filters": 2, "size": 3, "pad": 1}),
                                                         L("fc", {"units": 10}), L("softmax")]), None, "wide")
    window.lessons.convert_action.trigger()
    assert window.shown_errors[-1][0] == "Cannot convert the fc layers" and "8x6x2 volume" in window.shown_errors[-1][1]
    qtbot.waitUntil(lambda: not explain.busy(), timeout=WAIT)


def test_slide_view_maps_a_mosaic_and_refuses_a_size_that_does_not_fit(qtbot, small_data, tmp_path, started_threads):
    view = SlideView()
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.set_data(small_data)
    assert "Choose a network in the Explain tab" in view.ready()
    view.set_subject(_convnetjs_subject(), "random weights")
    view.show()
    qtbot.waitUntil(lambda: view.result is not None and not view.busy(), timeout=WAIT)
    s = view.result
    assert s.scores.shape == (10, 9, 9) and s.crops.shape == (10, 9, 9) and s.image.shape == (3, 96, 96)
    assert "9x9 = 81 positions" in view.caption.text() and "ms" in view.caption.text()
    assert "airplane" not in view.legend.text() and "class 9" in view.legend.text()
    view.show_class.setCurrentIndex(view.show_class.findData(3))
    assert "P(class 3)" in view.legend.text()
    view.grid.setValue(2)
    qtbot.waitUntil(lambda: view.result is not None and not view.busy(), timeout=WAIT)
    assert view.result.scores.shape == (10, 5, 5)
    picture = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (60, 90, 3), dtype=np.uint8)).save(picture)
    view.side.setValue(100)
    view.open_picture(picture)
    qtbot.waitUntil(lambda: not view.busy() and "Use width 96 or 104; height 96 or 104" in view.status.text(),
                    timeout=WAIT)
    assert view.result is None
    view.side.setValue(104)
    qtbot.waitUntil(lambda: view.result is not None and not view.busy(), timeout=WAIT)
    assert view.result.image.shape == (3, 104, 104) and view.result.scores.shape == (10, 10, 10)
    view.shutdown()
