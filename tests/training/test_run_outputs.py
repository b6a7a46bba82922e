"""What a run leaves and says: the run states' words, the metrics CSV (`convviz train --metrics` and
the app share its writer), one set of defaults for the CLI and the app, settings read back from an
untrusted document, and the app's resume files."""
import csv
import math
import os

import pytest
from training_helpers import tiny_architecture

from convviz.cli import build_parser, main
from convviz.model.io import save_architecture
from convviz.training import TrainConfig, Trainer
from convviz.training import resume
from convviz.training.command import prepare
from convviz.training.metrics import COLUMNS, metrics_rows, write_metrics
from convviz.training.state import RunState, describe, end_of_run


def test_every_state_has_one_name_and_each_end_of_a_run_maps_to_one():
    assert [s.value for s in RunState] == ["ready", "loading data", "training", "paused", "stopping", "finished",
                                           "diverged", "failed"]
    assert RunState.LOADING.title == "Loading data"
    assert describe(RunState.PAUSED) == "Paused"
    assert describe(RunState.TRAINING, "step 3") == "Training — step 3"
    assert end_of_run("completed", 780, 10) == (RunState.FINISHED, "all epochs done after 780 steps, 10 epochs")
    assert end_of_run("max_steps", 1, 0)[0] is RunState.FINISHED
    assert end_of_run("stopped", 5, 1) == (RunState.FINISHED, "stopped on request after 5 steps, 1 epoch")
    assert end_of_run("diverged", 12, 0)[0] is RunState.DIVERGED


def test_metrics_rows_put_each_epoch_on_its_last_step():
    history = {"step": [1, 2, 3, 4, 5], "loss": [2.3, 2.2, 2.1, 2.0, 1.9], "accuracy": [0.1, 0.2, 0.2, 0.3, 0.4],
               "lr": [0.01] * 4 + [0.001], "epoch": [0, 1], "train_loss": [2.25, 2.05], "train_accuracy": [0.15, 0.25],
               "val_loss": [None, None], "val_accuracy": [None, None], "test_loss": [2.2, 2.0],
               "test_accuracy": [0.2, 0.3], "epoch_seconds": [1.5, 1.4]}
    rows = metrics_rows(history, batches_per_epoch=2)
    assert [r[:2] for r in rows] == [[1, 1], [2, 1], [3, 2], [4, 2], [5, 3]]
    assert rows[1][5:] == [2.25, 0.15, "", "", 2.2, 0.2, 1.5]  # epoch 1 on step 2, no validation: empty
    assert rows[3][5:] == [2.05, 0.25, "", "", 2.0, 0.3, 1.4]
    assert rows[0][5:] == rows[2][5:] == rows[4][5:] == [""] * 7
    assert rows[4][4] == 0.001
    history["loss"].pop()  # copied while the worker appends a step: the unfinished step is left out
    assert len(metrics_rows(history, 2)) == 4


def test_write_metrics_is_a_readable_csv(tmp_path, small_data, tiny_arch, tiny_config):
    trainer = Trainer(tiny_arch, small_data, tiny_config)
    for _ in trainer.run():
        pass
    path = tmp_path / "m.csv"
    write_metrics(path, trainer.history, trainer.batches_per_epoch)
    with open(path, newline="") as f:
        table = list(csv.DictReader(f))
    assert tuple(table[0]) == COLUMNS
    assert len(table) == trainer.step == 14
    assert [int(r["epoch"]) for r in table] == [1] * 7 + [2] * 7
    epoch_rows = [r for r in table if r["train_loss"]]
    assert [int(r["step"]) for r in epoch_rows] == [7, 14]
    assert float(epoch_rows[-1]["test_accuracy"]) == pytest.approx(trainer.history["test_accuracy"][-1])
    assert float(table[3]["loss"]) == trainer.history["loss"][3]  # full precision
    assert not list(tmp_path.glob(".*.part"))


def test_convviz_train_writes_the_metrics(tmp_path, sample_dir, capsys):
    save_architecture(tiny_architecture(), tmp_path / "tiny.json")
    status = main(["train", str(tmp_path / "tiny.json"), "--data", str(sample_dir), "--batch-size", "256",
                   "--val-split", "1000", "--epochs", "1", "--max-steps", "20", "--metrics", str(tmp_path / "m.csv")])
    err = capsys.readouterr().err
    assert status == 0, err
    with open(tmp_path / "m.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 17 and table[-1]["val_accuracy"] and f"Metrics written to {tmp_path / 'm.csv'}" in err
    status = main(["train", str(tmp_path / "tiny.json"), "--data", str(sample_dir), "--metrics", str(tmp_path)])
    assert status == 1 and "is a folder: give a file name such as" in capsys.readouterr().err


def test_the_cli_and_the_app_start_from_the_same_defaults(tmp_path, sample_dir):
    save_architecture(tiny_architecture(), tmp_path / "tiny.json")
    args = build_parser().parse_args(["train", str(tmp_path / "tiny.json"), "--data", str(sample_dir)])
    config = prepare(args).config
    default = TrainConfig()
    for field in ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule", "augment",
                  "val_split", "seed", "max_steps"):
        assert getattr(config, field) == getattr(default, field), field
    assert config.augment is True


def test_saved_settings_keep_what_is_usable():
    saved = {"epochs": 3, "lr": 0.1, "momentum": 5, "augment": 1, "optimizer": "nope", "batch_size": True,
             "max_steps": 7, "seed": "x", "schedule": "cosine", "weight_decay": math.nan, "val_split": 2.5}
    config = TrainConfig.from_saved(saved)
    default = TrainConfig()
    assert (config.epochs, config.lr, config.max_steps, config.schedule) == (3, 0.1, 7, "cosine")
    for field in ("momentum", "augment", "optimizer", "batch_size", "seed", "weight_decay", "val_split"):
        assert getattr(config, field) == getattr(default, field), field
    assert TrainConfig.from_saved("not a dict") == default
    assert TrainConfig.from_saved({"lr": None, "max_steps": None}) == default


def test_resume_files(tmp_path, monkeypatch, small_data, tiny_arch, tiny_config):
    monkeypatch.setenv("CONVVIZ_HOME", str(tmp_path))
    assert resume.interrupted_runs() == []
    path = resume.new_run_path()
    assert path.parent == tmp_path / "runs" and str(os.getpid()) in path.name
    path.parent.mkdir()
    trainer = Trainer(tiny_arch, small_data, tiny_config)
    for event in trainer.run():
        if trainer.epoch == 1:
            break
    trainer.save_checkpoint(path)
    assert resume.interrupted_runs() == []  # this process's own run goes on
    path = path.rename(path.parent / "run-20250101-110000-999999998.npz")  # a run of a process that died
    assert resume.interrupted_runs() == [path]
    assert resume.describe_run(path).startswith("step 7 (1 of 2 epochs done), saved ")
    (path.parent / ".run-x.npz.1234.part").write_bytes(b"")  # a half-written file is not a run
    alive = path.parent / "run-20250101-120000-1.npz"  # process 1 lives: another copy's run
    alive.write_bytes(b"junk")
    assert resume.interrupted_runs() == [path]
    dead = path.parent / "run-20250101-120000-999999999.npz"
    dead.write_bytes(b"junk")
    assert set(resume.interrupted_runs()) == {path, dead}
    assert "cannot be read" in resume.describe_run(dead)
    resume.discard_run(dead)
    resume.discard_run(dead)  # already gone: fine
    assert resume.interrupted_runs() == [path]
