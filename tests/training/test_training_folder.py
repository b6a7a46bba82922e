"""Training on an image folder (grayscale here) as on CIFAR-10: the same events, checkpoints and
probe; a picture of the user's as the probe; one rule for whether a network fits its data."""
import dataclasses

import numpy as np
import pytest
from picture_folder import write_folder
from training_helpers import tiny_architecture

from convviz.cli import main
from convviz.data import load_image_folder
from convviz.engine import Volume
from convviz.model.io import save_architecture
from convviz.model.spec import Architecture, LayerSpec
from convviz.training import CheckpointError, TrainConfig, Trainer
from convviz.training.events import EpochEvent, FinishedEvent, SnapshotEvent
from convviz.training.fits import data_problem

GREY = Volume(12, 12, 1)


def grey_net() -> Architecture:
    """12x12x1 -> conv 4 filters 3x3 pad 1 -> relu -> pool 2 -> fc 3 -> softmax."""
    return Architecture(GREY, [LayerSpec("conv", {"filters": 4, "size": 3, "pad": 1}), LayerSpec("relu"),
                               LayerSpec("maxpool", {"size": 2}), LayerSpec("fc", {"units": 3}),
                               LayerSpec("softmax")], classes=3)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("pictures"), per_class=10)


@pytest.fixture(scope="module")
def grey_data(folder):
    return load_image_folder(folder, GREY)


CONFIG = TrainConfig(epochs=2, batch_size=8, lr=0.05, val_split=3, snapshot_rate=1e9, augment=True)


def test_a_grayscale_folder_trains_with_the_same_events_and_resumes_from_a_checkpoint(grey_data, tmp_path):
    trainer = Trainer(grey_net(), grey_data, dataclasses.replace(CONFIG, max_steps=2))  # of 3 per epoch
    events = list(trainer.run())
    assert isinstance(events[-1], FinishedEvent) and events[-1].reason == "max_steps"
    snap = next(e for e in events if isinstance(e, SnapshotEvent))
    assert snap.probe_image.shape == (1, 12, 12) and snap.filters["0"].shape == (4, 1, 3, 3)
    assert trainer.normalizer.mean.shape == (1,)
    trainer.save_checkpoint(tmp_path / "run.npz")

    resumed = Trainer.from_checkpoint(tmp_path / "run.npz", grey_data, grey_net())
    resumed.config.max_steps = None
    epochs = [e for e in resumed.run() if isinstance(e, EpochEvent)]
    assert len(epochs) == 2 and epochs[-1].test_accuracy is not None
    assert epochs[-1].confusion.shape == (3, 3) and epochs[-1].confusion.sum() == len(grey_data.test_labels)

    renamed = dataclasses.replace(grey_data, label_names=["a", "b", "c"])
    with pytest.raises(CheckpointError, match="trained on the classes cat, dog, fish, but .* has a, b, c"):
        Trainer.from_checkpoint(tmp_path / "run.npz", renamed, grey_net())


def test_a_picture_of_any_size_is_the_probe_classified_by_its_predicted_class(grey_data):
    trainer = Trainer(grey_net(), grey_data, dataclasses.replace(CONFIG, max_steps=2))
    picture = np.zeros((3, 40, 30), np.uint8)
    picture[:, :20] = 255                                          # RGB, 30x40: made grey 12x12 for the probe
    trainer.set_probe(picture)
    snap = next(e for e in list(trainer.run()) if isinstance(e, SnapshotEvent))
    assert snap.probe_index is None and snap.probe_label is None
    assert snap.probe_image.shape == (1, 12, 12) and snap.probe_image[0, 0, 0] == 255 and snap.probe_image[0, -1, 0] == 0
    assert snap.probabilities.sum() == pytest.approx(1, rel=1e-5)
    predicted = int(snap.probabilities.argmax())
    assert list(snap.gradients.values())[-1].reshape(-1)[predicted] < 0  # d loss / d logits of the predicted class

    later = trainer.probe_snapshot()                               # not running: a snapshot on request
    assert later.step == 2 and later.probe_label is None
    np.testing.assert_array_equal(later.probe_image, snap.probe_image)
    trainer.set_probe(None)
    assert trainer.probe_snapshot() is None


def test_one_rule_says_whether_a_network_fits_its_data(grey_data, sample_dir):
    cifar_net = tiny_architecture()
    assert data_problem(cifar_net) is None                         # the CIFAR-10 to come
    assert data_problem(grey_net()) == ("CIFAR-10 images are 32x32x3, but the INPUT block is 12x12x1: "
                                        "set it to 32x32x3.")
    assert data_problem(grey_net(), grey_data) is None
    assert "(as loaded) are 12x12x1, but the INPUT block is 32x32x3" in data_problem(cifar_net, grey_data)
    resized = dataclasses.replace(grey_net(), input=Volume(20, 16, 3))
    assert data_problem(resized, grey_data, refit=True) is None    # the app loads the folder again
    assert "not depth 2" in data_problem(dataclasses.replace(grey_net(), input=Volume(8, 8, 2)), grey_data, refit=True)
    ten = dataclasses.replace(grey_net(), classes=10)
    assert data_problem(ten, grey_data) == ("The network ends with 10 classes, the image folder "
                                            f"{grey_data.source.name} has 3: set the number of classes "
                                            "(INPUT block) and the last FC layer's units to 3.")
    with pytest.raises(ValueError, match="ends with 10 classes"):
        Trainer(ten, grey_data, CONFIG)


def test_convviz_train_takes_an_image_folder_and_says_what_it_found(folder, tmp_path, capsys):
    save_architecture(grey_net(), tmp_path / "grey.json")
    status = main(["train", str(tmp_path / "grey.json"), "--data", str(folder), "--epochs", "1", "--batch-size", "8",
                   "--val-split", "3", "--json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert f"Image folder {folder}: 3 classes (cat, dog, fish), 24 training and 6 test pictures at 12x12x1" in err
    assert "notes.txt: not a picture" in err
    assert '"reason": "completed"' in out.splitlines()[-1]

    status = main(["train", "convnetjs", "--data", str(folder), "--val-split", "3"])
    assert status == 1
    assert "ends with 10 classes, the image folder" in capsys.readouterr().err
