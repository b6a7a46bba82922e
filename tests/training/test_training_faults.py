"""Faults while training: divergence judged by the loss's normal range (not only NaN) and never saved
over good weights, a stop between two layers that drops the step cleanly, refused non-finite inputs,
batchnorm on single images, and files that cannot be written."""
import dataclasses
import errno
import math
import os
import re

import numpy as np
import pytest
from training_helpers import tiny_architecture

from convviz.cli import main
from convviz.engine import Interrupted
from convviz.training.fits import batch_warnings
from convviz.model.io import save_architecture
from convviz.training import DivergedEvent, FinishedEvent, StepEvent, Trainer
from convviz.training.trainer import CHANCE_MULTIPLE, LOSS_JUMP, LossRange, TrainingError


def test_the_normal_range_of_the_loss():
    r = LossRange(10)
    assert r.problem(1e6) is None  # the first loss of a run: judged by finiteness alone
    assert "not a finite number" in r.problem(float("nan")) and "inf" in r.problem(float("inf"))
    for loss in [2.3] * 5 + [0.2] * 50:
        r.add(loss)
    assert r.problem(0.2 * LOSS_JUMP * 2) is None  # a bad minibatch late in training: far below chance's 3 ln 10
    assert r.problem(CHANCE_MULTIPLE * math.log(10) * 0.99) is None
    assert r.problem(CHANCE_MULTIPLE * math.log(10) * 1.01) == (
        "jumped to 6.977, out of its normal range: above 4 times its recent median (0.2) and 3 times the loss of "
        "a uniform guess (2.3)")
    high = LossRange(10, [30.0] * 10)  # a run that is still far above chance: a jump relative to its median
    assert high.problem(100.0) is None and high.problem(130.0) is not None


def states_after_each_step(trainer, change_at, **hyper):
    """Run to the end; states[k] = the trainer's state after step k; set_hyper(**hyper) after step change_at."""
    states, events = [{k: a.copy() for k, a in trainer.net.state().items()}], []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, StepEvent):
            states.append({k: a.copy() for k, a in trainer.net.state().items()})
            if event.step == change_at:
                trainer.set_hyper(**hyper)
    return states, events


def test_a_finite_explosion_of_the_loss_is_divergence_too(tiny_arch, small_data, tiny_config, monkeypatch):
    """The loss need not become NaN: a finite jump far above its range stops the run with the weights from
    before it, and says which step those are from."""
    trainer = Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, epochs=3))
    loss_of = trainer.net.loss
    calls = []

    def exploding(logits, y):
        loss, dlogits, probs = loss_of(logits, y)
        calls.append(1)
        return (loss * 1e6 if len(calls) == 9 else loss), dlogits, probs  # step 9: finite, but 1e6 times too big

    monkeypatch.setattr(trainer.net, "loss", exploding)
    states, events = states_after_each_step(trainer, change_at=None)
    diverged = events[-2]
    assert isinstance(diverged, DivergedEvent) and math.isfinite(diverged.loss)
    assert (diverged.step, diverged.good_step) == (9, 7) and events[-1] == FinishedEvent("diverged", 8, 1)
    assert "at step 9" in diverged.message and "jumped to" in diverged.message
    assert "those after step 7" in diverged.message
    for k, a in trainer.net.state().items():
        np.testing.assert_array_equal(a, states[7][k])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverged_run_never_saves_its_exploded_weights_over_good_ones(tmp_path, sample_dir, capsys):
    """convviz train --lr 1e6 --init-weights good.npz --save-weights good.npz: good.npz keeps good weights."""
    net = tmp_path / "tiny.json"
    save_architecture(tiny_architecture(), net)
    good = tmp_path / "good.npz"
    common = [net, "--data", sample_dir, "--batch-size", "64", "--val-split", "5000"]
    assert main(["train", *map(str, common), "--max-steps", "3", "--save-weights", str(good)]) == 0
    with np.load(good) as f:
        before = dict(f)
    capsys.readouterr()
    status = main(["train", *map(str, common), "--lr", "1e6", "--init-weights", str(good),
                   "--save-weights", str(good), "--checkpoint", str(tmp_path / "c.npz")])
    err = capsys.readouterr().err
    assert status == 1 and "Training diverged at step" in err and "Traceback" not in err
    assert f"The starting weights (the loss diverged from there) written to {good}" in err
    assert "put back to the starting weights" in err
    assert "Checkpoint not written after the divergence: nothing was written to it." in err
    assert not (tmp_path / "c.npz").exists()
    with np.load(good) as f:
        after = dict(f)
    for k, a in after.items():
        assert np.isfinite(a).all() and np.abs(a).max() < 100, k
        if not k.endswith(("running_mean", "running_var")):  # the statistics saw the first batch
            np.testing.assert_array_equal(a, before[k])


def test_a_stop_between_layers_drops_the_step_and_resumes_exactly(tiny_arch, small_data, tiny_config):
    """A stop that arrives in the middle of a step ends it at the next layer; the step is undone (weights,
    batchnorm statistics, random generators), so continuing gives exactly what an unstopped run gives."""
    reference = Trainer(tiny_arch, small_data, tiny_config)
    list(reference.run())
    trainer = Trainer(tiny_arch, small_data, tiny_config)
    trainer.config.max_steps = 4
    list(trainer.run())
    before = {k: a.copy() for k, a in trainer.net.state().items()}
    generators = (trainer.augment_rng.bit_generator.state, trainer.net.rng.bit_generator.state)
    asked = []

    def stop_at_the_fifth_layer():  # what Network.interrupt sees when stop() comes mid-step
        asked.append(1)
        if len(asked) == 5:
            trainer.stop()
        return trainer._stop_asked()

    trainer.net.interrupt = stop_at_the_fifth_layer
    trainer.config.max_steps = None
    assert list(trainer.run()) == [FinishedEvent("stopped", 4, 0)]
    assert len(asked) >= 5 and trainer.step == 4 and trainer.batch_index == 4  # each batch chunk asks too
    for k, a in trainer.net.state().items():
        np.testing.assert_array_equal(a, before[k])
    assert (trainer.augment_rng.bit_generator.state, trainer.net.rng.bit_generator.state) == generators
    trainer.net.interrupt = trainer._stop_asked
    list(trainer.run())
    for k, a in trainer.net.state().items():
        np.testing.assert_array_equal(a, reference.net.state()[k])
    assert trainer.history["loss"] == reference.history["loss"]


def test_a_stop_during_the_evaluation_leaves_the_epoch_to_finish_later(tiny_arch, small_data, tiny_config):
    trainer = Trainer(tiny_arch, small_data, tiny_config)
    evaluate = trainer.evaluate

    def interrupted(*args):
        raise Interrupted("stopped between two layers")

    trainer.evaluate = interrupted
    assert list(trainer.run())[-1] == FinishedEvent("stopped", 7, 0)  # all 7 steps of epoch 1, not its evaluation
    trainer.evaluate = evaluate
    events = list(trainer.run())
    assert type(events[0]).__name__ == "EpochEvent" and events[0].epoch == 0


def poison(trainer):
    """Every normalised batch gets one NaN (what a broken normalisation or data source would give)."""
    apply = trainer.normalizer.apply

    def with_nan(images):
        x = apply(images)
        x[0, 0, 0, 0] = np.nan
        return x

    trainer.normalizer.apply = with_nan


def test_non_finite_inputs_are_refused_before_they_touch_the_statistics(tiny_arch, small_data, tiny_config):
    trainer = Trainer(tiny_arch, small_data, tiny_config)
    poison(trainer)
    before = {k: a.copy() for k, a in trainer.net.state().items()}
    with pytest.raises(TrainingError) as info:
        list(trainer.run())
    assert str(info.value) == "step 1 cannot run: the input images hold NaN or infinite numbers; training refuses them"
    for k, a in trainer.net.state().items():
        np.testing.assert_array_equal(a, before[k])


def test_the_command_turns_a_refused_step_into_one_line(tiny_arch, small_data, tiny_config, capsys):
    from argparse import Namespace

    from convviz.training.command import run

    trainer = Trainer(tiny_arch, small_data, tiny_config)
    poison(trainer)
    args = Namespace(checkpoint=None, save_weights=None, json=False)
    assert run(trainer, args) == 1
    err = capsys.readouterr().err
    assert err == "convviz train: error: step 1 cannot run: the input images hold NaN or infinite numbers; training refuses them\n"


def test_batchnorm_on_single_images_is_warned_about(tiny_arch, small_data, tiny_config, sample_dir, tmp_path, capsys):
    [one] = batch_warnings(tiny_arch, 1, 224)
    assert one.startswith("With batch size 1, block 1 (Batch norm) normalises each image by itself") and "16 or more" in one
    [last] = batch_warnings(tiny_arch, 32, 225)
    assert "last batch of each epoch holds a single image (225 training images in batches of 32)" in last
    assert "Use a batch size of 33" in last
    assert batch_warnings(tiny_arch, 32, 224) == [] and batch_warnings(tiny_architecture_without_bn(), 1, 224) == []
    assert Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, batch_size=1)).warnings == [one]
    net = tmp_path / "tiny.json"
    save_architecture(tiny_arch, net)
    assert main(["train", str(net), "--data", str(sample_dir), "--batch-size", "1", "--max-steps", "1"]) == 0
    assert f"warning: {one}" in capsys.readouterr().err


def tiny_architecture_without_bn():
    arch = tiny_architecture()
    arch.layers = [b for b in arch.layers if b.type != "batchnorm"]
    return arch


def test_a_full_disk_at_an_epoch_end_is_one_line_and_training_goes_on(tmp_path, sample_dir, capsys, monkeypatch):
    net = tmp_path / "tiny.json"
    save_architecture(tiny_architecture(), net)
    checkpoint, weights = tmp_path / "c.npz", tmp_path / "w.npz"
    common = ["train", str(net), "--data", str(sample_dir), "--batch-size", "512", "--val-split", "4000"]
    assert main([*common, "--epochs", "1", "--checkpoint", str(checkpoint)]) == 0
    first = checkpoint.read_bytes()
    capsys.readouterr()

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    status = main([*common, "--epochs", "3", "--resume", str(checkpoint), "--checkpoint", str(checkpoint),
                   "--save-weights", str(weights)])
    out, err = capsys.readouterr()
    assert status == 1 and "Traceback" not in err
    assert [line.split(" |")[0] for line in out.splitlines()] == ["epoch 2/3", "epoch 3/3"]  # it went on
    full = f"convviz train: Could not write {checkpoint}: the disk is full. The previous file is unchanged."
    assert err.count(full) == 2  # after epochs 2 and 3 (the end adds no third try: nothing changed since)
    assert f"Could not write {weights}: the disk is full. Nothing was written." in err
    assert checkpoint.read_bytes() == first and sorted(p.name for p in tmp_path.iterdir()) == ["c.npz", "tiny.json"]


@pytest.mark.parametrize("members, says", [
    ({"0.weight": ("4e12", None)}, r"'0\.weight' claims shape \(4000000000000,\) of float64 \(32,000,000,000,000 bytes\)"),
    ({"0.weight": ("8GiB", 8 * 2**30 + 128)}, r"'0\.weight' claims shape \(1073741824,\) of float64 \(8,589,934,592 bytes\); "
                                              r"the network needs \(4, 3, 4, 4\)"),
])
def test_crafted_init_weights_are_one_line(tmp_path, sample_dir, capsys, crafted_npz, members, says):
    write, npy = crafted_npz
    shapes = {"4e12": (4_000_000_000_000,), "8GiB": (2**30,)}
    path = write(tmp_path / "w.npz", {k: (npy(shapes[v], "<f8", b"\0" * 4096), claimed)
                                      for k, (v, claimed) in members.items()})
    net = tmp_path / "tiny.json"
    save_architecture(tiny_architecture(), net)
    assert main(["train", str(net), "--data", str(sample_dir), "--init-weights", str(path), "--max-steps", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"convviz train: error: cannot read weights file {path}: ")
    assert re.search(says, err) and "Traceback" not in err and "MemoryError" not in err


def test_output_files_that_cannot_be_written_are_refused_before_training(tmp_path, sample_dir, capsys, monkeypatch):
    import convviz.training.command as command

    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "out.npz").symlink_to(tmp_path / "pipe")
    net = tmp_path / "tiny.json"
    save_architecture(tiny_architecture(), net)
    monkeypatch.setattr(command, "load_data", lambda *a, **k: pytest.fail("the data was loaded"))
    for flag in ("--save-weights", "--checkpoint"):
        assert main(["train", str(net), "--data", str(sample_dir), flag, str(tmp_path / "out.npz")]) == 1
        err = capsys.readouterr().err
        assert err == (f"convviz train: error: {flag} {tmp_path / 'out.npz'}: it is a named pipe (FIFO) "
                       f"({tmp_path / 'pipe'}, which the link points to), which ConvViz never replaces; choose a "
                       "file name\n")
