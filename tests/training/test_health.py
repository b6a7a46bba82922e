"""Training health: a healthy ConvNetJS run on the real sample raises no hint; the same run with a learning
rate 10 times too high, and a network with a dead layer, are flagged; the numbers are right and reach
`convviz train --health FILE.csv`."""
import csv
import dataclasses
import math

import numpy as np
import pytest
from training_helpers import tiny_architecture

from convviz.cli import main
from convviz.model.io import save_architecture
from convviz.model.presets import load_preset
from convviz.model.spec import Architecture, LayerSpec
from convviz.training import HealthEvent, StepEvent, TrainConfig, Trainer
from convviz.training.health import COLUMNS, PERCENTILES, ratio_hint


def health_of(arch, data, steps, **settings):
    """Train for steps with a health sample after every step -> (the HealthEvents, the trainer)."""
    config = TrainConfig(epochs=1, batch_size=64, max_steps=steps, snapshot_rate=0, **settings)
    trainer = Trainer(arch, data, config)
    trainer.watch_health(math.inf)
    events = list(trainer.run())
    for before, after in zip(events, events[1:]):  # each follows the step it measured
        if isinstance(after, HealthEvent):
            assert isinstance(before, StepEvent) and before.step == after.step
    return [e for e in events if isinstance(e, HealthEvent)], trainer


def test_a_healthy_convnetjs_run_raises_no_hint(sample_data):
    events, trainer = health_of(load_preset("convnetjs"), sample_data, 30)  # the app's defaults: SGD lr 0.01
    assert len(events) == 30
    assert [e.hints for e in events] == [[]] * 30
    last = events[-1]
    assert [(layer.key, layer.title) for layer in last.layers] == [
        ("0", "Conv"), ("1", "ReLU"), ("3", "Conv"), ("4", "ReLU"), ("6", "Conv"), ("7", "ReLU"), ("9", "FC")]
    for layer in last.layers:
        if layer.title == "ReLU":
            assert layer.update_ratio is None and layer.never_fired < 0.5 and layer.images == 640  # 10 batches of 64
        else:
            assert 1e-4 < layer.update_ratio < 3e-2
            weights = trainer.net.params[f"{layer.key}.weight"]
            np.testing.assert_allclose(layer.weight_bands, np.percentile(weights, PERCENTILES))
            assert np.all(np.diff(layer.weight_bands) >= 0) and np.all(np.diff(layer.grad_bands) >= 0)
            assert layer.grad_bands[0] < 0 < layer.grad_bands[-1]


def test_a_learning_rate_ten_times_too_high_is_flagged(sample_data):
    events, _ = health_of(load_preset("convnetjs"), sample_data, 25, lr=0.1)
    hints = [h for e in events for h in e.hints]
    assert any("the learning rate is likely too high" in h or "far too high" in h for h in hints), hints
    assert "updates are" in hints[0] and "of the weights" in hints[0]


def test_a_dead_layer_is_flagged(sample_data):
    """A large negative bias before a ReLU: none of its units ever fires, and no gradient reaches the conv."""
    arch = Architecture(layers=[LayerSpec("conv", {"filters": 6, "size": 4, "stride": 2, "pad": 1}), LayerSpec("relu"),
                                LayerSpec("conv", {"filters": 8, "size": 4, "stride": 2, "pad": 1}), LayerSpec("relu"),
                                LayerSpec("fc", {"units": 10}), LayerSpec("softmax")])
    trainer = Trainer(arch, sample_data, TrainConfig(epochs=1, batch_size=64, max_steps=3, snapshot_rate=0))
    state = trainer.net.state()
    state["2.bias"][:] = -100.0
    trainer.net.set_state(state)
    trainer.watch_health(math.inf)
    events = [e for e in trainer.run() if isinstance(e, HealthEvent)]
    assert len(events) == 3
    layers = {layer.key: layer for layer in events[-1].layers}
    assert layers["3"].never_fired == 1.0 and layers["3"].images == 192
    assert layers["3"].hint == ("block 3 (ReLU): 100% of its units never fired on the last 192 training images; "
                                "try a lower learning rate")
    assert layers["2"].hint.startswith("block 2 (Conv): no gradient reaches its weights")
    assert layers["0"].hint.startswith("block 0 (Conv): no gradient reaches its weights")
    assert layers["1"].hint is None and layers["1"].never_fired < 0.5
    assert np.all(layers["2"].grad_bands == 0)


def test_samples_are_bounded_by_wall_time(tiny_arch, small_data, tiny_config):
    trainer = Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, max_steps=5))
    trainer.watch_health(1e-3)
    assert [e.step for e in trainer.run() if isinstance(e, HealthEvent)] == [1]
    trainer.watch_health(0)
    trainer.config.max_steps = 8
    assert not any(isinstance(e, HealthEvent) for e in trainer.run())
    with pytest.raises(ValueError, match="0 or more"):
        trainer.watch_health(-1)


@pytest.mark.parametrize("ratio, words", [
    (3e-1, "updates are 3e-1 of the weights; the learning rate is far too high"),
    (4.5e-2, "updates are 4.5e-2 of the weights; the learning rate is likely too high"),
    (1e-6, "updates are 1e-6 of the weights; the learning rate may be too low"),
    (1e-3, None), (1.5e-2, None)])
def test_ratio_hints_name_the_ratio_and_the_rule_of_thumb(ratio, words):
    hint = ratio_hint(ratio)
    assert hint == (None if words is None else f"{words} (about 1e-3 is healthy)")


def test_train_writes_the_health_table(sample_dir, tmp_path, capsys):
    net = tmp_path / "tiny.json"
    save_architecture(tiny_architecture(), net)
    table = tmp_path / "health.csv"
    status = main(["train", str(net), "--data", str(sample_dir), "--batch-size", "64", "--max-steps", "3",
                   "--health", str(table), "--health-rate", "1e9"])
    err = capsys.readouterr().err
    assert status == 0, err
    assert f"Health written to {table} (3 samples)" in err
    with open(table, newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == COLUMNS
    # tiny: conv, batchnorm (parameters) and relu and fc, per sample
    assert [(r[0], r[2], r[4]) for r in rows[1:5]] == [("1", "0", "Conv"), ("1", "1", "Batch norm"), ("1", "2", "ReLU"),
                                                      ("1", "5", "FC")]
    assert len(rows) == 1 + 3 * 4 and [r[0] for r in rows[1::4]] == ["1", "2", "3"]
    conv, relu = dict(zip(COLUMNS, rows[1])), dict(zip(COLUMNS, rows[3]))
    assert float(conv["update_ratio"]) > 0 and float(conv["weight_p5"]) < float(conv["weight_p95"])
    assert conv["never_fired"] == "" and relu["update_ratio"] == "" and 0 <= float(relu["never_fired"]) <= 1
    assert relu["images"] == "64"


def test_a_health_file_that_cannot_be_written_is_refused_first(tmp_path, sample_dir, capsys):
    net = tmp_path / "tiny.json"
    save_architecture(tiny_architecture(), net)
    status = main(["train", str(net), "--data", str(sample_dir), "--health", str(tmp_path / "missing" / "h.csv")])
    assert status == 1
    assert "--health" in capsys.readouterr().err and not (tmp_path / "missing").exists()
