"""The Train tab with the user's own pictures: Choose folder… takes an image folder (read in the
background, fitted to the INPUT block, read again when it changes, bad files listed), training runs
on it, and Open picture… classifies a picture in the activations view, during a run or after it."""
import numpy as np
import pytest
from picture_folder import BAD, write_folder
from PIL import Image

from convviz.data import ImageFolder
from convviz.engine import Volume
from convviz.model import Architecture, LayerSpec
from convviz.ui.dashboard import TrainDashboard

WAIT = 20_000


def net(volume: Volume, classes: int = 3) -> Architecture:
    return Architecture(volume, [LayerSpec("conv", {"filters": 4, "size": 3, "pad": 1}), LayerSpec("relu"),
                                 LayerSpec("maxpool", {"size": 2}), LayerSpec("fc", {"units": classes}),
                                 LayerSpec("softmax")], classes=classes)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("pictures"), per_class=10)


@pytest.fixture
def dash(qtbot, started_threads):
    dash = TrainDashboard(autoload=False)
    qtbot.addWidget(dash)
    dash.resize(1200, 800)
    dash.show()
    dash.messages = []
    dash.show_error = lambda title, text: dash.messages.append((title, text))
    s = dash.settings
    s.batch_size.setValue(8)
    s.val_split.setValue(3)
    s.epochs.setValue(1)
    yield dash
    dash.shutdown()


def test_an_image_folder_is_loaded_fitted_to_the_input_block_and_read_again_when_it_changes(qtbot, dash, folder):
    dash.set_architecture(net(Volume(16, 16, 1)))
    dash.data_panel.choose_folder(folder)
    qtbot.waitUntil(lambda: isinstance(dash.data, ImageFolder) and not dash.data_panel.busy(), timeout=WAIT)
    assert dash.data.train_images.shape[1:] == (1, 16, 16) and dash.data.label_names == ["cat", "dog", "fish"]
    text = dash.data_panel.where.text()
    assert "3 classes (cat, dog, fish)" in text and f"{len(BAD)} files skipped" in text and "notes.txt" in text
    assert "deep.png" in dash.data_panel.where.toolTip()
    assert dash.start_button.isEnabled() and dash.network_blocker() is None

    dash.set_architecture(net(Volume(20, 12, 3)))                 # edit the INPUT block: read again to fit it
    assert dash.data_panel.busy() and not dash.start_button.isEnabled()
    assert "Wait until the data is loaded" in dash.reason.text()
    qtbot.waitUntil(lambda: dash.data.train_images.shape[1:] == (3, 12, 20) and dash.start_button.isEnabled(),
                    timeout=WAIT)

    dash.set_architecture(net(Volume(20, 12, 3), classes=10))
    assert not dash.start_button.isEnabled() and "ends with 10 classes" in dash.reason.text()
    dash.set_architecture(net(Volume(20, 12, 2)))
    assert not dash.data_panel.busy() and "not depth 2" in dash.reason.text()
    assert not dash.messages


def test_train_on_the_folder_then_classify_a_picture_of_ones_own(qtbot, dash, folder, tmp_path):
    dash.set_architecture(net(Volume(16, 16, 1)))
    dash.data_panel.choose_folder(folder)
    qtbot.waitUntil(lambda: dash.start_button.isEnabled(), timeout=WAIT)
    dash.views.setCurrentWidget(dash.predictions)
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT) as finished:
        dash.start()
    assert finished.args == ["completed"] and len(dash.curves.epochs) == 1
    dash.refresh_views(force=True)                                 # grayscale thumbnails of the test pictures

    picture = np.zeros((30, 50, 3), np.uint8)
    picture[..., 0] = 220                                          # red, like the cats
    Image.fromarray(picture).save(tmp_path / "mine.jpg")
    dash.views.setCurrentWidget(dash.activations)
    dash.activations.choose_picture(tmp_path / "mine.jpg")         # not running: shown at once, in the background
    qtbot.waitUntil(lambda: dash.activations.snapshot is not None and dash.activations.snapshot.probe_label is None,
                    timeout=WAIT)
    snap = dash.activations.snapshot
    assert snap.probe_image.shape == (1, 16, 16) and dash.activations.use_picture.isChecked()
    dash.refresh_views(force=True)
    assert "your picture mine.jpg" in dash.activations.caption.text()
    assert dash.activations._heading.startswith("class probabilities — predicted: ")
    qtbot.waitUntil(lambda: dash.start_button.isEnabled(), timeout=WAIT)

    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    dash.activations.choose_picture(tmp_path / "broken.png")
    qtbot.waitUntil(lambda: bool(dash.messages), timeout=WAIT)
    title, text = dash.messages[0]
    assert title == "Cannot open the picture" and "broken.png: " in text and "Error" not in text
    assert dash.activations.snapshot is snap                       # the picture shown before stays

    dash.settings.epochs.setValue(30)
    dash.snapshot_rate = 1000.0
    dash.start()                                                   # a new run takes the picture as its probe
    qtbot.waitUntil(lambda: (shown := dash.activations.snapshot) not in (None, snap) and shown.probe_label is None,
                    timeout=WAIT)
    assert dash.activations.snapshot.probe_image.shape == (1, 16, 16)
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.stop()
