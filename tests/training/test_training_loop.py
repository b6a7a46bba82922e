"""The training loop: events in order, controls honoured between steps, divergence, evaluation."""
import dataclasses
import threading
import time

import numpy as np
import pytest

from convviz.model.spec import Architecture, LayerSpec
from convviz.training import (DivergedEvent, EpochEvent, FinishedEvent, SnapshotEvent, StepEvent, TrainConfig,
                              Trainer)
from convviz.training.config import lr_factor


def test_events_come_in_order_with_copies_of_the_right_shapes(tiny_arch, small_data, tiny_config):
    config = dataclasses.replace(tiny_config, snapshot_rate=1e9)  # a snapshot after every step
    trainer = Trainer(tiny_arch, small_data, config)
    events = list(trainer.run())
    kinds = [type(e).__name__ for e in events]
    per_epoch = ["StepEvent", "SnapshotEvent"] * 7 + ["EpochEvent"]
    assert kinds == per_epoch * 2 + ["FinishedEvent"]
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [e.step for e in steps] == list(range(1, 15))
    assert [(e.epoch, e.batch_index) for e in steps] == [(k, b) for k in range(2) for b in range(7)]
    assert all(e.batches_per_epoch == 7 and e.lr == 0.05 and e.images_per_second > 0 for e in steps)
    assert events[-1] == FinishedEvent("completed", 14, 2)

    epoch = next(e for e in events if isinstance(e, EpochEvent))
    assert epoch.confusion.shape == (10, 10) and epoch.confusion.sum() == 64
    assert np.trace(epoch.confusion) / 64 == pytest.approx(epoch.test_accuracy)
    assert epoch.test_probabilities.shape == (64, 10) and epoch.test_probabilities.dtype == np.float32
    np.testing.assert_allclose(epoch.test_probabilities.sum(axis=1), 1, rtol=1e-5)
    assert epoch.per_class_accuracy.shape == (10,)
    assert 0 <= epoch.val_accuracy <= 1 and epoch.val_loss > 0 and epoch.seconds > 0

    snap = next(e for e in events if isinstance(e, SnapshotEvent))
    nodes = trainer.net.nodes[1:]
    assert list(snap.activations) == list(snap.gradients) == [n.key for n in nodes]
    assert [a.shape for a in snap.activations.values()] == [(n.volume.depth, n.volume.height, n.volume.width)
                                                            for n in nodes]
    assert [g.shape for g in snap.gradients.values()] == [a.shape for a in snap.activations.values()]
    assert snap.probe_index is None and snap.probe_image.shape == (3, 32, 32) and snap.probe_image.dtype == np.uint8
    assert snap.probabilities.shape == (10,) and snap.probabilities.sum() == pytest.approx(1, rel=1e-5)
    assert list(snap.filters) == ["0"] and snap.filters["0"].shape == (4, 3, 4, 4)
    # a copy, taken after step 1: training went on without touching it
    assert not np.shares_memory(snap.filters["0"], trainer.net.params["0.weight"])
    assert not np.array_equal(snap.filters["0"], trainer.net.params["0.weight"])


def test_snapshots_are_bounded_by_wall_time(tiny_arch, small_data, tiny_config):
    slow = list(Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, snapshot_rate=1e-3)).run())
    assert [e.step for e in slow if isinstance(e, SnapshotEvent)] == [1]
    none = list(Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, snapshot_rate=0)).run())
    assert not any(isinstance(e, SnapshotEvent) for e in none)


def test_snapshots_without_the_probe_carry_the_filters_only(tiny_arch, small_data, tiny_config):
    trainer = Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, max_steps=4))
    trainer.watch_snapshots(1e9, probe=False)
    snaps = []
    for event in trainer.run():
        if isinstance(event, SnapshotEvent):
            snaps.append(event)
            if event.step == 2:
                trainer.watch_snapshots(1e9)                       # the probe again from the next step
    assert [(s.step, s.has_probe) for s in snaps] == [(1, False), (2, False), (3, True), (4, True)]
    plain = snaps[0]
    assert plain.probe_image is None and plain.activations == plain.gradients == {} and plain.probabilities is None
    assert list(plain.filters) == ["0"] and not np.array_equal(plain.filters["0"], snaps[1].filters["0"])
    assert list(snaps[2].activations) == [n.key for n in trainer.net.nodes[1:]]


def test_probe_can_be_a_test_image(tiny_arch, small_data, tiny_config):
    trainer = Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, snapshot_rate=1e9, max_steps=2))
    trainer.set_probe(5)
    snap = next(e for e in trainer.run() if isinstance(e, SnapshotEvent))
    assert snap.probe_index == 5 and snap.probe_label == small_data.test_labels[5]
    np.testing.assert_array_equal(snap.probe_image, small_data.test_images[5])
    with pytest.raises(ValueError, match="not in the test set"):
        trainer.set_probe(64)


def test_stop_is_honoured_after_the_current_step(tiny_arch, small_data, tiny_config):
    trainer = Trainer(tiny_arch, small_data, tiny_config)
    seen = []
    for event in trainer.run():
        seen.append(event)
        if isinstance(event, StepEvent) and event.step == 3:
            trainer.stop()
    assert [e.step for e in seen if isinstance(e, StepEvent)] == [1, 2, 3]
    assert seen[-1] == FinishedEvent("stopped", 3, 0)
    # a stop asked before run() starts is honoured at once; run() can continue afterwards
    trainer.stop()
    assert list(trainer.run()) == [FinishedEvent("stopped", 3, 0)]
    trainer.config.max_steps = 5
    assert list(trainer.run())[-1] == FinishedEvent("max_steps", 5, 0)


def test_pause_blocks_between_steps_and_still_answers_stop(tiny_arch, small_data, tiny_config):
    trainer = Trainer(tiny_arch, small_data, tiny_config)
    events = []

    def consume():
        for event in trainer.run():
            events.append(event)
            if isinstance(event, StepEvent) and event.step in (2, 4):
                trainer.pause()

    def steps():
        return [e.step for e in list(events) if isinstance(e, StepEvent)]

    def wait_for_steps(n):
        deadline = time.monotonic() + 10
        while len(steps()) < n:
            assert time.monotonic() < deadline, f"only {steps()} after 10 s"
            time.sleep(0.01)

    worker = threading.Thread(target=consume)
    worker.start()
    wait_for_steps(2)
    time.sleep(0.3)
    assert steps() == [1, 2]  # no step while paused
    assert trainer.paused and worker.is_alive()
    trainer.resume()
    wait_for_steps(4)
    time.sleep(0.2)
    assert steps() == [1, 2, 3, 4] and worker.is_alive()
    trainer.stop()  # while paused
    worker.join(5)
    assert not worker.is_alive()
    assert events[-1] == FinishedEvent("stopped", 4, 0)


def test_live_learning_rate_change_takes_effect_on_the_next_step(tiny_arch, small_data, tiny_config):
    trainer = Trainer(tiny_arch, small_data, tiny_config)
    lrs = []
    for event in trainer.run():
        if isinstance(event, StepEvent):
            lrs.append(event.lr)
            if event.step == 2:
                trainer.set_hyper(lr=0.2, momentum=0.5, weight_decay=0.0)
                assert trainer.optimizer.lr == 0.05  # not before the next step
            if event.step == 4:
                trainer.stop()
    assert lrs == [0.05, 0.05, 0.2, 0.2]
    assert (trainer.optimizer.momentum, trainer.optimizer.weight_decay) == (0.5, 0.0)
    with pytest.raises(ValueError, match="learning rate|lr"):
        trainer.set_hyper(lr=-1)


def test_a_changed_rate_changes_the_update(tiny_arch, small_data, tiny_config):
    """The step after set_hyper really uses the new rate: with momentum 0, the update scales with it."""
    config = dataclasses.replace(tiny_config, momentum=0.0, weight_decay=0.0, max_steps=1)
    updates = []
    for lr in (0.05, 0.5):
        trainer = Trainer(tiny_arch, small_data, config)
        trainer.set_hyper(lr=lr)
        before = trainer.net.params["5.weight"].copy()
        list(trainer.run())
        updates.append(trainer.net.params["5.weight"] - before)
    np.testing.assert_allclose(updates[1], 10 * updates[0], rtol=1e-3, atol=1e-7)


def test_schedules_multiply_the_base_rate(tiny_arch, small_data, tiny_config):
    assert [lr_factor("step", p) for p in (0, 0.49, 0.5, 0.8)] == [1, 1, 0.1, 0.01]
    assert lr_factor("cosine", 0) == 1 and lr_factor("cosine", 0.5) == pytest.approx(0.5)
    assert lr_factor("constant", 0.9) == 1
    trainer = Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, schedule="cosine"))
    lrs = [e.lr for e in trainer.run() if isinstance(e, StepEvent)]
    assert lrs[0] == 0.05 and all(a > b for a, b in zip(lrs, lrs[1:]))
    assert lrs[7] == pytest.approx(0.05 * lr_factor("cosine", 0.5))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point (engine worker threads warn)
def test_nan_loss_stops_with_the_last_good_weights(small_data, tiny_config):
    arch = Architecture(layers=[LayerSpec("conv", {"filters": 4, "size": 4, "stride": 2, "pad": 1}),
                                LayerSpec("relu"), LayerSpec("fc", {"units": 10}), LayerSpec("softmax")])
    trainer = Trainer(arch, small_data, tiny_config)
    states = [{k: a.copy() for k, a in trainer.net.state().items()}]  # states[k]: after step k
    events = []
    for event in trainer.run():
        events.append(event)
        if isinstance(event, StepEvent):
            states.append({k: a.copy() for k, a in trainer.net.state().items()})
            if event.step == 2:
                trainer.set_hyper(lr=1e38)  # step 3 blows the weights up; step 4's loss is not finite
    diverged = events[-2]
    assert isinstance(diverged, DivergedEvent) and not np.isfinite(diverged.loss)
    assert "lower learning rate" in diverged.message
    assert events[-1] == FinishedEvent("diverged", diverged.step - 1, 0)
    good = states[diverged.step - 2]  # the weights that gave the last finite loss
    for k, a in trainer.net.state().items():
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, good[k])
    # training can go on from there at a lower rate
    trainer.set_hyper(lr=0.01)
    trainer.config.max_steps = diverged.step + 1
    assert list(trainer.run())[-1] == FinishedEvent("max_steps", diverged.step + 1, 0)
    assert all(np.isfinite(a).all() for a in trainer.net.state().values())


def test_evaluation_changes_nothing_in_the_model(tiny_arch, small_data, tiny_config):
    trainer = Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, max_steps=3))
    list(trainer.run())
    before = {k: a.copy() for k, a in trainer.net.state().items()}
    rng_before = trainer.net.rng.bit_generator.state
    loss, accuracy, probs = trainer.evaluate(small_data.test_images, small_data.test_labels)
    again = trainer.evaluate(small_data.test_images, small_data.test_labels)
    assert loss == again[0] and accuracy == again[1]  # dropout off: deterministic
    assert trainer.net.rng.bit_generator.state == rng_before
    for k, a in trainer.net.state().items():
        np.testing.assert_array_equal(a, before[k])
    assert probs.shape == (64, 10) and accuracy == (probs.argmax(axis=1) == small_data.test_labels).mean()


def test_bad_settings_are_refused_with_the_reason(tiny_arch, small_data):
    with pytest.raises(ValueError, match="batch size"):
        Trainer(tiny_arch, small_data, TrainConfig(batch_size=0))
    with pytest.raises(ValueError, match="validation split"):
        Trainer(tiny_arch, small_data, TrainConfig(val_split=256))
    with pytest.raises(ValueError, match="unknown optimizer"):
        Trainer(tiny_arch, small_data, TrainConfig(optimizer="rmsprop"))


def test_other_optimizers_take_their_default_rate(tiny_arch, small_data, tiny_config):
    for name, default in (("adam", 0.001), ("adadelta", 1.0)):
        trainer = Trainer(tiny_arch, small_data, dataclasses.replace(tiny_config, optimizer=name, lr=None, max_steps=2))
        events = list(trainer.run())
        assert [e.lr for e in events if isinstance(e, StepEvent)] == [default, default]
        assert np.isfinite(trainer.net.params["0.weight"]).all()


def test_without_validation_or_test_evaluation(tiny_arch, small_data, tiny_config):
    config = dataclasses.replace(tiny_config, val_split=0, evaluate_test=False, epochs=1)
    epoch = next(e for e in Trainer(tiny_arch, small_data, config).run() if isinstance(e, EpochEvent))
    assert epoch.val_loss is epoch.test_accuracy is epoch.test_probabilities is None
    assert epoch.train_loss > 0 and epoch.confusion.sum() == 0
    config = dataclasses.replace(tiny_config, evaluate_test=False, epochs=1)
    epoch = next(e for e in Trainer(tiny_arch, small_data, config).run() if isinstance(e, EpochEvent))
    assert epoch.test_accuracy is None and epoch.confusion.sum() == 32  # the validation set's
    assert np.trace(epoch.confusion) / 32 == pytest.approx(epoch.val_accuracy)
