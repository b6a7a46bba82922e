"""Hand-edited, damaged and crafted checkpoints: every field of the description and every array is checked
when the file is read, with one line naming the file and the field; nothing fails later (at Continue,
at an epoch's end) and nothing large is read before it is known to be needed."""
import copy
import dataclasses
import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from training_helpers import slice_data, tiny_architecture

from convviz.engine.files import NpzReader
from convviz.training import CheckpointError, TrainConfig, Trainer


@pytest.fixture(scope="module")
def saved(sample_data, tmp_path_factory):
    """(data, arrays, meta) of a checkpoint taken in the middle of the first epoch of a tiny run."""
    data = slice_data(sample_data, 64, 16)
    trainer = Trainer(tiny_architecture(), data, TrainConfig(epochs=2, batch_size=16, lr=0.05, val_split=16,
                                                             snapshot_rate=0, max_steps=2))
    list(trainer.run())
    path = tmp_path_factory.mktemp("ck") / "c.npz"
    trainer.save_checkpoint(path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    return data, arrays, json.loads(str(arrays.pop("meta")))


def write(path, arrays, meta):
    np.savez(path, **arrays, meta=np.array(json.dumps(meta)))
    return path


def edited(saved, tmp_path, meta_change=None, arrays_change=None):
    data, arrays, meta = saved
    arrays, meta = {k: a.copy() for k, a in arrays.items()}, copy.deepcopy(meta)
    if meta_change:
        meta_change(meta)
    if arrays_change:
        arrays_change(arrays)
    return data, write(tmp_path / "edited.npz", arrays, meta)


def refusal(saved, tmp_path, **changes) -> str:
    data, path = edited(saved, tmp_path, **changes)
    with pytest.raises(CheckpointError) as info:
        Trainer.from_checkpoint(path, data)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message[len(f"{path}: "):]


def test_the_unedited_checkpoint_loads(saved, tmp_path):
    data, path = edited(saved, tmp_path)
    trainer = Trainer.from_checkpoint(path, data)
    assert trainer.step == 2 and trainer.batch_index == 2


def test_config_null(saved, tmp_path):
    assert refusal(saved, tmp_path, meta_change=lambda m: m.update(config=None)) == \
        "the checkpoint's config must be an object of training settings, found null"


def test_history_a_list(saved, tmp_path):
    assert refusal(saved, tmp_path, meta_change=lambda m: m.update(history=[])) == \
        "the checkpoint's history must be an object of lists, found a list"


def test_history_of_the_wrong_length(saved, tmp_path):
    assert refusal(saved, tmp_path, meta_change=lambda m: m["history"]["loss"].pop()) == \
        "the checkpoint's history.loss must be a list of one value per step (2), found 1 values"


@pytest.mark.parametrize("name, index", [("train_idx", 10**6), ("val_idx", -1), ("order", 64)])
def test_indices_out_of_range(saved, tmp_path, name, index):
    def change(arrays):
        arrays[name][0] = index

    assert refusal(saved, tmp_path, arrays_change=change) == \
        f"the checkpoint's array {name} holds index {index}, outside the 64 training images"


def test_an_empty_training_split(saved, tmp_path):
    def meta_change(m):
        m["config"]["val_split"] = 64

    def arrays_change(a):
        a["val_idx"] = np.arange(64)
        a["train_idx"] = np.arange(0)

    assert refusal(saved, tmp_path, meta_change=meta_change, arrays_change=arrays_change) == \
        "the checkpoint's config.val_split holds 64 of the 64 training images out: none would be left to train on"


@pytest.mark.parametrize("where, says", [
    (lambda m: m["config"].update(lr=-0.1), "config.lr is wrong: learning rate must be a positive number, got -0.1"),
    (lambda m: m["optimizer"]["hyper"].update(lr=-0.1),
     "optimizer.hyper.lr learning rate must be a positive number, got -0.1"),
    (lambda m: m["optimizer"].update(base_lr=-0.1), "optimizer.base_lr must be a number from 0, found -0.1"),
    (lambda m: m["optimizer"].update(base_lr=0), "optimizer.base_lr must be a positive number, found 0"),
])
def test_a_negative_learning_rate(saved, tmp_path, where, says):
    assert refusal(saved, tmp_path, meta_change=where) == f"the checkpoint's {says}"


def test_overlapping_training_and_validation_indices(saved, tmp_path):
    def change(arrays):
        arrays["val_idx"][0] = arrays["train_idx"][0]

    image = int(saved[1]["train_idx"][0])
    assert refusal(saved, tmp_path, arrays_change=change) == (
        f"the checkpoint's array val_idx overlaps the training split (image {image}): the training and validation "
        "splits must be disjoint")


def test_a_repeated_training_index(saved, tmp_path):
    def change(arrays):
        arrays["train_idx"][1] = arrays["train_idx"][0]

    assert "array train_idx repeats an image" in refusal(saved, tmp_path, arrays_change=change)


@pytest.mark.parametrize("where, says", [
    (lambda m: m["config"].update(epochs="10"), "config.epochs must be a whole number, found \"10\""),
    (lambda m: m["config"].update(batch_size=16.0), "config.batch_size must be a whole number, found 16.0"),
    (lambda m: m["config"].update(augment=1), "config.augment must be true or false, found 1"),
    (lambda m: m["config"].pop("seed"), "config.seed is missing"),
    (lambda m: m["config"].update(optimizer="rmsprop"), "config.optimizer is wrong: unknown optimizer 'rmsprop'"),
    (lambda m: m["optimizer"].update(name="adam"), "optimizer.name must be \"sgd\" (config.optimizer), found \"adam\""),
    (lambda m: m["optimizer"]["hyper"].update(momentum=1.5), "optimizer.hyper.momentum momentum must be from 0"),
    (lambda m: m["optimizer"]["hyper"].update(nesterov="no"), "optimizer.hyper.nesterov must be true or false"),
    (lambda m: m["optimizer"]["hyper"].update(betas=1), "optimizer.hyper.betas is not a setting of sgd"),
    (lambda m: m.update(normalizer={"mean": [1, 2, 3], "std": [1, 0, 1]}), "normalizer.std[1] must be a positive"),
    (lambda m: m["normalizer"].update(mean=[1, 2]), "normalizer.mean must be a list of 3 numbers (one per channel)"),
    (lambda m: m["normalizer"]["std"].__setitem__(2, -1), "normalizer.std[2] must be a number from 0, found -1"),
    (lambda m: m["rng"].update(shuffle={"bit_generator": "PCG64"}), "rng.shuffle is not the state of a random"),
    (lambda m: m["rng"].update(dropout=None), "rng.dropout is not the state of a random generator, found null"),
    (lambda m: m["position"].update(batch_index=99), "position.batch_index must be a whole number from 0 to 3"),
    (lambda m: m["position"]["epoch_totals"].update(images=0, correct=0), "epoch_totals.images is 0 after 2 batches"),
    (lambda m: m["position"]["epoch_totals"].update(correct=1000), "position.epoch_totals.correct must be a whole"),
    (lambda m: m["position"].update(epoch=-1), "position.epoch must be a whole number from 0 to 2, found -1"),
    (lambda m: m.update(label_names="cats"), "label_names must be a list of class names, found \"cats\""),
    (lambda m: m["history"]["loss"].__setitem__(0, "x"), "history.loss[0] must be a number, found \"x\""),
    (lambda m: m["history"].update(extra=[]), "history.extra is not a curve ConvViz keeps"),
    (lambda m: m["architecture"]["layers"].pop(), "architecture is not a network ConvViz can run"),
    (lambda m: m["architecture"].update(layers=None), "architecture is not a network ConvViz can run"),
])
def test_every_field_is_checked(saved, tmp_path, where, says):
    assert says in refusal(saved, tmp_path, meta_change=where)


def test_arrays_of_the_wrong_kind_or_with_nan(saved, tmp_path):
    def nan(arrays):
        arrays["state/0.weight"][0, 0, 0, 0] = np.nan

    assert refusal(saved, tmp_path, arrays_change=nan) == "the checkpoint's array state/0.weight holds NaN or infinite numbers"

    def text(arrays):
        arrays["train_idx"] = arrays["train_idx"].astype(str)

    assert "array train_idx holds <U" in refusal(saved, tmp_path, arrays_change=text)

    def order_of_other_images(arrays):
        arrays["order"] = np.sort(arrays["val_idx"].tolist() + arrays["train_idx"].tolist())[:48]

    assert refusal(saved, tmp_path, arrays_change=order_of_other_images) == \
        "the checkpoint's array order is not an ordering of the training split"

    def extra(arrays):
        arrays["surprise"] = np.zeros(3)

    data, path = edited(saved, tmp_path, arrays_change=extra)
    with pytest.raises(CheckpointError, match=r"not a readable checkpoint .*: array 'surprise' claims shape \(3,\) of "
                                              r"float64 \(24 bytes\), and the checkpoint's network needs no array of that"):
        Trainer.from_checkpoint(path, data)


def test_a_member_claiming_8_gib_is_refused_before_anything_large_is_read(saved, tmp_path, crafted_npz, monkeypatch):
    write_crafted, npy = crafted_npz
    data, arrays, meta = saved
    members = {}
    for name, a in {**arrays, "meta": np.array(json.dumps(meta))}.items():
        f = io.BytesIO()
        np.lib.format.write_array(f, a, allow_pickle=False)
        members[name] = (f.getvalue(), None)
    members["state/5.weight"] = (npy((2**30,), "<f8", b"\0" * 4096), 8 * 2**30 + 128)
    path = write_crafted(tmp_path / "bomb.npz", members)
    read = NpzReader.read

    def only_small(self, name):
        assert self.headers[name].nbytes < 1 << 20, f"{name} was read"
        return read(self, name)

    monkeypatch.setattr(NpzReader, "read", only_small)
    with pytest.raises(CheckpointError) as info:
        Trainer.from_checkpoint(path, data)
    assert str(info.value) == (
        f"{path} is not a readable checkpoint (damaged or another kind of file): array 'state/5.weight' claims shape "
        "(1073741824,) of float64 (8,589,934,592 bytes); the checkpoint's network needs (10, 256)")


def test_a_description_claiming_too_many_characters(saved, tmp_path, crafted_npz):
    write_crafted, npy = crafted_npz
    data = saved[0]
    path = write_crafted(tmp_path / "long.npz", {"meta": (npy((), "<U100000000", b"x" * 64), 400_000_128)})
    with pytest.raises(CheckpointError, match="the checkpoint's description claims 100,000,000 characters"):
        Trainer.from_checkpoint(path, data)


def test_an_architecture_too_large_for_the_machine_is_refused_before_its_arrays_are_read(saved, tmp_path, monkeypatch):
    from convviz.model import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 1_000_000)
    monkeypatch.setattr(NpzReader, "read", lambda self, name: (pytest.fail(name) if name != "meta" else
                                                               np.array(json.dumps(saved[2]))))
    data, path = edited(saved, tmp_path)
    with pytest.raises(CheckpointError, match=r"edited\.npz cannot be resumed here: Training at batch size 16 needs "
                                              r"about .* of memory and this machine has 977 KiB available"):
        Trainer.from_checkpoint(path, data)


# ---- Hypothesis: random edits of the description ----

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)


def paths_of(value, prefix=()):
    """Every path into a JSON value (keys and indices), the value's own () first."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths_of(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            yield from paths_of(v, prefix + (i,))


EDITS = st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["replace", "delete", "nudge"]), JSON_VALUES),
                 min_size=1, max_size=3)


def apply_edit(meta, pick: int, how: str, value):
    paths = [p for p in paths_of(meta) if p]
    path = paths[pick % len(paths)]
    parent = meta
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    if how == "delete":
        del parent[key]
    elif how == "nudge" and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        parent[key] = -parent[key] if parent[key] else 1  # a sign flipped, or a 0 made 1
    else:
        parent[key] = value


@settings(max_examples=150, deadline=None, phases=[Phase.explicit, Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
def test_random_descriptions_give_a_clear_error_or_a_run_that_works(saved, tmp_path, edits):
    """A clear CheckpointError, or a trainer that then runs to the end of the epoch (where ZeroDivisionError
    and IndexError used to wait); never another exception."""
    data, arrays, meta = saved
    meta = copy.deepcopy(meta)
    for pick, how, value in edits:
        apply_edit(meta, pick, how, value)
    path = write(tmp_path / "random.npz", arrays, meta)
    try:
        trainer = Trainer.from_checkpoint(path, data)
    except CheckpointError as e:
        assert str(e) and "\n" not in str(e)
        event("refused with a clear error")
        return
    event("loaded, and ran to the epoch's end")
    trainer.config = dataclasses.replace(trainer.config, max_steps=None, epochs=trainer.epoch + 1)
    list(trainer.run())
