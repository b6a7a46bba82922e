"""Checkpoints: exact resume (also in a fresh process), atomic writes, clear refusals."""
import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from convviz.model.spec import LayerSpec
from convviz.training import CheckpointError, EpochEvent, FinishedEvent, StepEvent, Trainer

HERE = Path(__file__).resolve().parent


def assert_same_state(a: Trainer, b: Trainer):
    sa, sb = a.net.state(), b.net.state()
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)


def run_in_fresh_process(code: str, sample_dir: Path) -> None:
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, {here!r})
        from training_helpers import slice_data, tiny_architecture
        from convviz.data import load_cifar10
        from convviz.training import TrainConfig, Trainer
        data = slice_data(load_cifar10({sample!r}), 256, 64)
        arch = tiny_architecture()
    """).format(here=str(HERE), sample=str(sample_dir)) + textwrap.dedent(code)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr


def test_resume_in_a_fresh_process_is_bit_identical(tiny_arch, small_data, tiny_config, sample_dir, tmp_path):
    config = dataclasses.replace(tiny_config, augment=True)  # every generator in play: shuffle, crops, dropout
    straight = Trainer(tiny_arch, small_data, config)
    list(straight.run())
    first_half = dataclasses.replace(config, epochs=1)
    run_in_fresh_process(f"""
        trainer = Trainer(arch, data, TrainConfig(**{first_half.to_dict()!r}))
        events = list(trainer.run())
        assert events[-1].reason == "completed" and events[-1].epochs == 1
        trainer.save_checkpoint({str(tmp_path / "one.npz")!r})
    """, sample_dir)
    run_in_fresh_process(f"""
        trainer = Trainer.from_checkpoint({str(tmp_path / "one.npz")!r}, data, arch)
        trainer.config.epochs = 2
        list(trainer.run())
        trainer.net.save_weights({str(tmp_path / "two.npz")!r})
        trainer.save_checkpoint({str(tmp_path / "two-checkpoint.npz")!r})
    """, sample_dir)
    with np.load(tmp_path / "two.npz") as resumed:
        for k, a in straight.net.state().items():
            np.testing.assert_array_equal(resumed[k], a, err_msg=k)
    again = Trainer.from_checkpoint(tmp_path / "two-checkpoint.npz", small_data)
    assert again.history["test_accuracy"] == straight.history["test_accuracy"]
    assert again.history["loss"] == straight.history["loss"]


def test_resume_in_the_middle_of_an_epoch(tiny_arch, small_data, tiny_config, tmp_path):
    config = dataclasses.replace(tiny_config, augment=True)
    straight = Trainer(tiny_arch, small_data, config)
    list(straight.run())
    part = Trainer(tiny_arch, small_data, dataclasses.replace(config, max_steps=10))  # epoch 1, batch 3
    assert list(part.run())[-1] == FinishedEvent("max_steps", 10, 1)
    part.save_checkpoint(tmp_path / "c.npz")
    rest = Trainer.from_checkpoint(tmp_path / "c.npz", small_data, tiny_arch)
    assert (rest.step, rest.epoch, rest.batch_index) == (10, 1, 3)
    rest.config.max_steps = None
    events = list(rest.run())
    assert [e.epoch for e in events if isinstance(e, EpochEvent)] == [1]
    assert events[-1] == FinishedEvent("completed", 14, 2)
    assert_same_state(straight, rest)
    assert rest.history["train_loss"] == straight.history["train_loss"]


def test_optimizer_state_and_live_changes_survive(tiny_arch, small_data, tiny_config, tmp_path):
    for name in ("adam", "adadelta", "sgd"):
        trainer = Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, optimizer=name, max_steps=3))
        trainer.set_hyper(lr=0.003, weight_decay=1e-3)
        list(trainer.run())
        trainer.save_checkpoint(tmp_path / f"{name}.npz")
        loaded = Trainer.from_checkpoint(tmp_path / f"{name}.npz", small_data)
        assert (loaded.base_lr, loaded.optimizer.weight_decay, loaded.optimizer.steps) == (0.003, 1e-3, 3)
        assert loaded.optimizer.slots.keys() == trainer.optimizer.slots.keys() and trainer.optimizer.slots
        for slot, table in trainer.optimizer.slots.items():
            for k, a in table.items():
                np.testing.assert_array_equal(loaded.optimizer.slots[slot][k], a)


def test_a_change_made_while_paused_is_saved_before_any_step_used_it(tiny_arch, small_data, tiny_config, tmp_path):
    trainer = Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, max_steps=2))
    list(trainer.run())
    trainer.set_hyper(lr=0.2, momentum=0.5, weight_decay=1e-3)  # e.g. edited in the app while paused
    trainer.save_checkpoint(tmp_path / "c.npz")
    loaded = Trainer.from_checkpoint(tmp_path / "c.npz", small_data)
    assert (loaded.base_lr, loaded.optimizer.momentum, loaded.optimizer.weight_decay) == (0.2, 0.5, 1e-3)
    loaded.config.max_steps = 3
    assert [e.lr for e in loaded.run() if isinstance(e, StepEvent)] == [0.2]


def test_writes_are_atomic_and_leave_no_temporary_files(tiny_arch, small_data, tiny_config, tmp_path):
    trainer = Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, max_steps=1))
    list(trainer.run())
    path = tmp_path / "c.npz"
    path.write_bytes(b"old")
    trainer.save_checkpoint(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777  # not a temporary file's 0o600
    plain.unlink()
    assert Trainer.from_checkpoint(path, small_data).step == 1


def test_a_different_architecture_is_refused_by_name(tiny_arch, small_data, tiny_config, tmp_path):
    trainer = Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, max_steps=1))
    trainer.save_checkpoint(tmp_path / "c.npz")
    other = tiny_arch.copy()
    other.layers[0] = LayerSpec("conv", {"filters": 6, "size": 4, "stride": 2, "pad": 1})
    with pytest.raises(CheckpointError, match=r"different architecture: block 0 is conv \(filters 4.*filters 6"):
        Trainer.from_checkpoint(tmp_path / "c.npz", small_data, other)
    shorter = tiny_arch.copy()
    del shorter.layers[4]
    with pytest.raises(CheckpointError, match="different architecture"):
        Trainer.from_checkpoint(tmp_path / "c.npz", small_data, shorter)
    spelled_out = tiny_arch.copy()  # the same network with default hyperparameters written out
    spelled_out.layers[0].params["dilation"] = 1
    spelled_out.layers[3].params["stride"] = 2  # a pool's stride defaults to its size
    assert Trainer.from_checkpoint(tmp_path / "c.npz", small_data, spelled_out).arch == tiny_arch  # accepted
    spelled_out.layers[3].params["stride"] = 1
    with pytest.raises(CheckpointError, match=r"block 3 is maxpool \(size 2\) in the checkpoint, maxpool \(size 2, stride 1\)"):
        Trainer.from_checkpoint(tmp_path / "c.npz", small_data, spelled_out)


def test_weights_that_do_not_fit_the_saved_architecture_are_refused(tiny_arch, small_data, tiny_config, tmp_path):
    trainer = Trainer(tiny_arch, small_data, tiny_config)
    trainer.save_checkpoint(tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz") as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    meta["architecture"]["layers"][5]["units"] = 12
    meta["architecture"]["layers"].insert(6, {"type": "fc", "units": 10})
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(CheckpointError, match=r"state/5\.weight has shape \(10, 256\), the checkpoint's network "
                                              r"needs \(12, 256\): it does not fit"):
        Trainer.from_checkpoint(tmp_path / "bad.npz", small_data)


def test_optimizer_state_that_does_not_fit_is_refused(tiny_arch, small_data, tiny_config, tmp_path):
    trainer = Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, max_steps=1))
    list(trainer.run())
    trainer.save_checkpoint(tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz") as f:
        arrays = {k: f[k] for k in f.files}
    slot = next(k for k in arrays if k.startswith("optimizer/")).split("/")[1]
    arrays[f"optimizer/{slot}/9.weight"] = np.zeros(2)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(CheckpointError, match=r"optimizer/.*/9\.weight is optimizer state for unknown parameter "
                                              r"9\.weight: it does not fit"):
        Trainer.from_checkpoint(tmp_path / "bad.npz", small_data)


def test_other_data_is_refused(tiny_arch, small_data, sample_data, tiny_config, tmp_path):
    Trainer(tiny_arch, small_data, tiny_config).save_checkpoint(tmp_path / "c.npz")
    with pytest.raises(CheckpointError, match="256 training and 64 test images"):
        Trainer.from_checkpoint(tmp_path / "c.npz", sample_data)


def test_damaged_and_hostile_files_are_refused_without_running_code(small_data, tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        Trainer.from_checkpoint(tmp_path / "junk.npz", small_data)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        Trainer.from_checkpoint(tmp_path / "missing.npz", small_data)
    np.save(tmp_path / "one-array.npy", np.zeros(3))
    with pytest.raises(CheckpointError, match=r"not a readable checkpoint.*one array \(\.npy\)"):
        Trainer.from_checkpoint(tmp_path / "one-array.npy", small_data)
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint") as info:
        Trainer.from_checkpoint(tmp_path / "notes.txt", small_data)
    assert "allow_pickle" not in str(info.value)  # never suggest unpickling it
    np.savez(tmp_path / "weights-only.npz", w=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a ConvViz checkpoint"):
        Trainer.from_checkpoint(tmp_path / "weights-only.npz", small_data)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    np.savez(tmp_path / "evil.npz", meta=np.array([Evil()], dtype=object))
    with pytest.raises(CheckpointError):
        Trainer.from_checkpoint(tmp_path / "evil.npz", small_data)
    assert not marker.exists()


def test_a_checkpoint_taken_between_the_last_step_and_the_evaluation(tiny_arch, small_data, tiny_config, tmp_path):
    straight = Trainer(tiny_arch, small_data, tiny_config)
    list(straight.run())
    trainer = Trainer(tiny_arch, small_data, tiny_config)
    for event in trainer.run():
        if getattr(event, "step", None) == 7:  # the last step of epoch 0: its evaluation comes next
            trainer.save_checkpoint(tmp_path / "c.npz")
            trainer.stop()
    rest = Trainer.from_checkpoint(tmp_path / "c.npz", small_data)
    events = list(rest.run())
    assert isinstance(events[0], EpochEvent) and events[0].epoch == 0
    assert_same_state(straight, rest)
    assert rest.history["val_loss"] == straight.history["val_loss"]
