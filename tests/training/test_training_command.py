"""`convviz train`: --json output, --epochs as a total with --resume, Ctrl-C, clear refusals."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from training_helpers import tiny_architecture

from convviz.cli import main
from convviz.data import load_cifar10
from convviz.model.io import save_architecture
from convviz.model.spec import LayerSpec
from convviz.training import Trainer
from convviz.training.command import bar_text
from convviz.training.events import StepEvent

RESULT_KEYS = {"train_loss", "train_accuracy", "val_accuracy", "test_accuracy", "images_per_second", "epochs", "steps"}


@pytest.fixture
def tiny_json(tmp_path):
    path = tmp_path / "tiny.json"
    save_architecture(tiny_architecture(), path)
    return path


def train(args, capsys):
    status = main(["train", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_json_is_the_last_line_and_epochs_is_the_total_with_resume(tiny_json, sample_dir, tmp_path, capsys):
    common = [tiny_json, "--data", sample_dir, "--batch-size", "256", "--val-split", "1000", "--json"]
    status, out, err = train([*common, "--epochs", "1", "--checkpoint", tmp_path / "c.npz"], capsys)
    assert status == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("epoch 1/1 | train loss") and "test loss" in lines[0]
    result = json.loads(lines[-1])
    assert RESULT_KEYS <= result.keys()
    assert (result["epochs"], result["steps"], result["reason"]) == (1, 17, "completed")  # 4170 / 256 -> 17 batches
    assert 0 <= result["test_accuracy"] <= 1 and result["images_per_second"] > 0
    first_accuracy = result["test_accuracy"]

    status, out, err = train([*common, "--epochs", "2", "--resume", tmp_path / "c.npz",
                              "--save-weights", tmp_path / "w.npz"], capsys)
    assert status == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 2/2")  # only the second epoch was trained
    result = json.loads(lines[-1])
    assert (result["epochs"], result["steps"]) == (2, 34)
    assert (tmp_path / "w.npz").is_file() and result["test_accuracy"] != first_accuracy


def test_the_checkpoint_is_written_after_each_epoch_and_at_the_end_only_if_it_changed(
        tiny_json, sample_dir, tmp_path, capsys, monkeypatch):
    written, save = [], Trainer.save_checkpoint
    monkeypatch.setattr(Trainer, "save_checkpoint", lambda self, path: (written.append(self.step), save(self, path)))
    common = [tiny_json, "--data", sample_dir, "--batch-size", "256", "--val-split", "1000",
              "--checkpoint", tmp_path / "c.npz", "--epochs", "2"]
    for flags, steps in (([], [17, 34]),  # not again after the last epoch
                         (["--max-steps", "20"], [17, 20]),  # the steps after the epoch are saved at the end
                         (["--resume", tmp_path / "c.npz"], [34]),  # on from step 20, once
                         (["--resume", tmp_path / "c.npz"], [34])):  # nothing left to do: still written
        written.clear()
        status, _, err = train([*common, *flags], capsys)
        assert status == 0 and written == steps, err
    assert Trainer.from_checkpoint(tmp_path / "c.npz", load_cifar10(sample_dir)).step == 34


def test_max_steps_reports_the_partial_epoch(tiny_json, sample_dir, capsys):
    status, out, err = train([tiny_json, "--data", sample_dir, "--max-steps", "2", "--batch-size", "16", "--json"], capsys)
    assert status == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert (result["steps"], result["epochs"], result["reason"]) == (2, 0, "max_steps")
    assert result["test_accuracy"] is None and 0 <= result["train_accuracy"] <= 1
    assert "Finished — the step limit was reached after 2 steps, 0 epochs" in err and result["state"] == "finished"


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], "epochs must be at least 1"),
    (["--lr", "-0.1"], "learning rate must be a positive number"),
    (["--val-split", "6000"], "leaves none of the 5170 training images"),
    (["--batch-size", "0"], "batch size must be at least 1"),
    (["--seed", "-1"], "seed must be 0 or more, got -1"),
    (["--resume", "missing.npz"], "--resume missing.npz: no such file"),
    (["--save-weights", "no/such/folder/w.npz"], "does not exist"),
])
def test_bad_flags_fail_clearly_and_write_nothing(flags, message, tiny_json, sample_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    status, out, err = train([tiny_json, "--data", sample_dir, "--checkpoint", "c.npz", *flags], capsys)
    assert status == 1 and message in err and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_unwritable_output_folder_is_refused_before_training(tiny_json, sample_dir, tmp_path, capsys, monkeypatch):
    locked = (tmp_path / "locked").resolve()
    locked.mkdir()
    real_access = os.access  # root may write anywhere: refuse this one folder as a read-only one would be
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != locked and real_access(path, mode, **kw))
    for flag in ("--checkpoint", "--save-weights"):
        status, out, err = train([tiny_json, "--data", sample_dir, flag, locked / "c.npz"], capsys)
        assert status == 1 and f"{flag} {locked / 'c.npz'}: the folder {locked} is not writable" in err and out == ""
    assert list(locked.iterdir()) == []


def test_invalid_network_and_missing_data_fail_clearly(tiny_json, sample_dir, tmp_path, capsys):
    bad = tiny_architecture()
    bad.layers[0] = LayerSpec("conv", {"filters": 4, "size": 3, "stride": 2})
    save_architecture(bad, tmp_path / "bad.json")
    status, _, err = train([tmp_path / "bad.json", "--data", sample_dir], capsys)
    assert status == 1 and "not a valid network" in err and "15.5" in err
    status, _, err = train(["no-such-preset", "--data", sample_dir], capsys)
    assert status == 1 and "neither a preset nor an existing file" in err
    status, _, err = train([tiny_json, "--data", tmp_path / "nowhere"], capsys)
    assert status == 1 and "nowhere" in err and "convviz download" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "tiny.json"]


def test_resuming_with_another_network_is_refused(tiny_json, sample_dir, tmp_path, capsys):
    status, _, err = train([tiny_json, "--data", sample_dir, "--max-steps", "1", "--checkpoint", tmp_path / "c.npz"], capsys)
    assert status == 0, err
    status, _, err = train(["convnetjs", "--data", sample_dir, "--resume", tmp_path / "c.npz"], capsys)
    assert status == 1 and "different architecture" in err


def test_ctrl_c_stops_and_writes_the_checkpoint(tiny_json, sample_dir, tmp_path):
    checkpoint = tmp_path / "c.npz"
    process = subprocess.Popen(
        [sys.executable, "-m", "convviz.cli", "train", str(tiny_json), "--data", str(sample_dir), "--epochs", "50",
         "--batch-size", "256", "--checkpoint", str(checkpoint), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first_epoch = process.stdout.readline()  # the first epoch's summary line
    assert first_epoch.startswith("epoch 1/50"), process.stderr.read()
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Stopping — now; a step cut short is not counted" in err and "Finished — stopped on request after" in err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["reason"] == "stopped" and result["steps"] >= 20 and result["epochs"] >= 1
    assert checkpoint.is_file() and not list(tmp_path.glob("*.part"))


def test_progress_bar_text():
    text = bar_text(StepEvent(10, 2, 9, 40, 1.2345, 0.5, 0.01, 812.4), epochs=5, width=8)
    assert text == "epoch 3/5 [##......] 10/40 loss 1.2345 acc  50.0% lr 0.01 812 img/s"


def test_init_weights_are_used_and_checked(tiny_json, sample_dir, tmp_path, capsys):
    common = [tiny_json, "--data", sample_dir, "--max-steps", "1", "--json"]
    status, _, err = train([*common, "--save-weights", tmp_path / "w.npz"], capsys)
    assert status == 0, err
    status, out, err = train([*common, "--init-weights", tmp_path / "w.npz", "--lr", "1e-12", "--momentum", "0",
                              "--save-weights", tmp_path / "w2.npz"], capsys)
    assert status == 0, err
    with np.load(tmp_path / "w.npz") as start, np.load(tmp_path / "w2.npz") as end:
        for k in ("0.weight", "5.weight"):  # one step at a negligible rate: still the given weights
            np.testing.assert_allclose(end[k], start[k], atol=1e-6)
    status, _, err = train(["convnetjs", "--data", sample_dir, "--init-weights", tmp_path / "w.npz"], capsys)
    assert status == 1 and "does not fit" in err


@pytest.mark.parametrize("net, says", [("vgg16", "224x224x3"), ("lenet5", "32x32x1"), ("alexnet", "227x227x3"),
                                       ("zfnet", "227x227x3")])
def test_a_network_that_does_not_fit_cifar10_is_refused_in_one_line_before_anything_is_built(
        net, says, sample_dir, capsys, monkeypatch):
    import convviz.training.command as command
    import convviz.training.trainer as trainer

    monkeypatch.setattr(trainer, "Network", lambda *a, **k: pytest.fail("a network was built"))
    monkeypatch.setattr(command, "load_data", lambda *a, **k: pytest.fail("the data was loaded"))
    monkeypatch.setattr(command, "load_cifar10", lambda *a, **k: pytest.fail("the data was loaded"))
    for data in (["--data", sample_dir], []):  # given, or searched for
        status, out, err = train([net, *data], capsys)
        assert status == 1 and out == ""
        assert err == (f"convviz train: error: {net}: CIFAR-10 images are 32x32x3, but the INPUT block is {says}: "
                       "set it to 32x32x3.\n")


def test_the_trainer_refuses_data_its_network_does_not_fit(small_data):
    from convviz.engine import Volume
    from convviz.model.spec import Architecture

    arch = Architecture(Volume(16, 16, 3), [LayerSpec("fc", {"units": 10}), LayerSpec("softmax")])
    with pytest.raises(ValueError, match="CIFAR-10 images are 32x32x3, but the INPUT block is 16x16x3"):
        Trainer(arch, small_data)
