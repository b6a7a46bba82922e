"""model.memory: the estimate of what training takes, the refusal with a batch size that fits, the
warning near the limit, `convviz summary --batch`, and the trainer refusing before it builds anything.
(Estimate against measured peak memory: `convviz bench --only memory`.)"""
import json
import tracemalloc

import numpy as np
import pytest

from convviz.cli import main
from convviz.engine import Network, Volume
from convviz.engine.plan import compile_plan
from convviz.model import memory
from convviz.model.memory import available_memory, estimate, largest_batch, memory_problem, state_shapes
from convviz.model.presets import load_preset
from convviz.units import size_bytes
from convviz.model.spec import Architecture, LayerSpec

MB = 1_000_000


def residual_net() -> Architecture:
    body = [LayerSpec("conv", {"filters": 8, "size": 3, "pad": 1}), LayerSpec("batchnorm"), LayerSpec("relu")]
    return Architecture(Volume(16, 16, 8), [LayerSpec("residual", {}, [body, []]), LayerSpec("maxpool", {"size": 2}),
                                            LayerSpec("fc", {"units": 10}), LayerSpec("softmax")])


@pytest.mark.parametrize("arch", [load_preset("convnetjs"), residual_net()], ids=["convnetjs", "residual"])
def test_state_shapes_are_the_networks_without_building_it(arch):
    net = Network(arch)
    params, buffers = state_shapes(compile_plan(arch))
    assert params == {k: a.shape for k, a in net.params.items()}
    assert buffers == {k: a.shape for k, a in net.buffers.items()}


def test_the_estimate_adds_up_and_grows_with_the_batch():
    arch = load_preset("vgg-cifar")
    p = sum(a.nbytes for a in Network(arch).params.values())
    small, big = estimate(arch, 8), estimate(arch, 256)
    assert small.parameters >= p and small.kept_state == small.parameters and small.optimizer == p
    assert big.activations > 20 * small.activations and big.total > small.total
    assert big.total == sum(getattr(big, k) for k in ("parameters", "kept_state", "optimizer", "gradients",
                                                      "activations", "workspace"))
    assert estimate(arch, 64, "sgd", momentum=0).optimizer == 0 and estimate(arch, 64, "adam").optimizer == 2 * p
    assert big.lines()[-1].startswith("total: ") and "end of backward" in big.lines()[-1]


def test_a_network_whose_update_dominates_says_so():
    e = estimate(load_preset("vgg16"), 1)
    assert e.moment == "the optimiser's update" and e.activations == 0 and e.workspace > 0


def test_refused_with_the_figures_and_a_batch_size_that_fits():
    arch = load_preset("vgg-cifar")
    available = estimate(arch, 64).total  # 64 images fill the machine: more is refused
    refusal, warning = memory_problem(arch, 256, available=available)
    assert warning is None and refusal.startswith("Training at batch size 256 needs about ")
    assert f"this machine has {size_bytes(available)} available: a batch size of " in refusal
    fits = int(refusal.split("a batch size of ")[1].split()[0])
    assert 1 <= fits < 64 and estimate(arch, fits).total <= memory.WARN_FRACTION * available
    assert estimate(arch, fits + 1).total > memory.WARN_FRACTION * available
    assert largest_batch(compile_plan(arch), available, 1000) == 64


def test_near_the_limit_is_a_warning_and_far_below_it_nothing():
    arch = load_preset("vgg-cifar")
    need = estimate(arch, 64).total
    refusal, warning = memory_problem(arch, 64, available=int(need / 0.9))
    assert refusal is None and "may slow down" in warning and "a batch size of" in warning
    assert memory_problem(arch, 64, available=10 * need) == (None, None)


def test_no_batch_size_fits_names_the_parameters():
    refusal, _ = memory_problem(load_preset("vgg16"), 4, available=100 * MB)
    assert "use a smaller network (its parameters alone take 528 MiB" in refusal


def test_the_machine_says_what_it_has():
    available = available_memory()
    assert available is None or available > 0


def test_the_trainer_refuses_before_it_builds_anything(monkeypatch, sample_dir):
    from convviz.data import load_cifar10
    from convviz.training import TrainConfig, Trainer, trainer

    data = load_cifar10(sample_dir)
    monkeypatch.setattr(memory, "available_memory", lambda: 100 * MB)
    monkeypatch.setattr(trainer, "Network", lambda *a, **k: pytest.fail("a network was built"))
    with pytest.raises(ValueError, match=r"needs about .* available: a batch size of \d+ needs about"):
        Trainer(load_preset("vgg-cifar"), data, TrainConfig(batch_size=512))


def test_summary_prints_the_estimate(capsys, monkeypatch):
    assert main(["summary", "vgg-cifar", "--batch", "64"]) == 0
    out = capsys.readouterr().out
    assert "Memory to train at batch size 64 (SGD with momentum)" in out and "total: " in out
    monkeypatch.setattr(memory, "available_memory", lambda: 50 * MB)
    assert main(["summary", "vgg-cifar", "--batch", "256", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["memory"]
    assert report["batch"] == 256 and not report["fits"] and report["available"] == 50 * MB
    assert report["bytes"] == estimate(load_preset("vgg-cifar"), 256).total and "a batch size of" in report["message"]
    assert main(["summary", "vgg-cifar", "--batch", "0"]) == 1


def test_building_a_65536_unit_fc_does_not_peak_far_above_its_weights():
    arch = Architecture(Volume(8, 8, 3), [LayerSpec("fc", {"units": 65536}), LayerSpec("fc", {"units": 10}),
                                          LayerSpec("softmax")])
    tracemalloc.start()
    try:
        net = Network(arch)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    weights = sum(a.nbytes for a in net.params.values())
    assert weights > 50 * MB and peak < 1.1 * weights
    assert all(a.dtype == np.float32 for a in net.params.values())
