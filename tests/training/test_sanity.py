"""The three sanity checks on the real sample: a sound network passes them, and each can fail (a wrong
gradient, an initialisation far from ln C, a bound too tight to overfit), with its numbers; `convviz check`."""
import json
import math

import numpy as np
import pytest
from training_helpers import tiny_architecture

from convviz.cli import main
from convviz.engine import LAYER_TYPES, Interrupted, Network
from convviz.model.io import save_architecture
from convviz.model.presets import load_preset
from convviz.training import sanity
from convviz.training.sanity import SanityChecks


def test_convnetjs_passes_all_three(sample_data):
    initial, overfit, gradients = SanityChecks(load_preset("convnetjs"), sample_data).run()
    assert initial.passed and abs(initial.numbers["loss"] - math.log(10)) < 0.1 * math.log(10)
    assert initial.line.startswith(f"{initial.numbers['loss']:.3f} against ln 10 = 2.303")
    assert overfit.passed and overfit.numbers["accuracy"] == 1.0 and overfit.numbers["steps"] <= sanity.OVERFIT_STEPS
    assert f"after {overfit.numbers['steps']} steps (at most 200; Adam lr 0.001" in overfit.line
    assert gradients.passed and [(label, title) for label, title, _ in gradients.layers] == [
        ("0", "Conv"), ("3", "Conv"), ("6", "Conv"), ("9", "FC")]
    assert all(0 <= error < 1e-6 for _, _, error in gradients.layers)
    assert str(gradients).startswith("gradient check: pass  largest relative error")


def test_batchnorm_and_dropout_pass_the_gradient_check_of_trained_weights(sample_data):
    """Training mode with one dropout mask for every pass; the weights given are checked, not the untrained ones."""
    checks = SanityChecks(tiny_architecture(), sample_data, seed=3)
    net = Network(tiny_architecture(), seed=5)
    state = {k: a * 1.5 for k, a in net.state().items()}
    result = checks.gradient_check(state)
    assert result.passed, result.line
    assert [label for label, _, _ in result.layers] == ["0", "1", "5"] and "the current weights" in result.line


def test_a_wrong_gradient_fails_the_check_naming_its_layer(sample_data, monkeypatch):
    conv = type(LAYER_TYPES["conv"])
    backward = conv.backward

    def one_percent_off(self, hp, params, dout, cache):
        dx, grads = backward(self, hp, params, dout, cache)
        return dx, {**grads, "weight": grads["weight"] * 1.01}

    monkeypatch.setattr(conv, "backward", one_percent_off)
    result = SanityChecks(tiny_architecture(), sample_data).gradient_check()
    assert not result.passed
    errors = {label: error for label, _, error in result.layers}
    assert errors["0"] == pytest.approx(0.01 / 1.01, rel=0.05) and errors["5"] < 1e-6
    assert str(result).startswith("gradient check: FAIL  largest relative error 9.9e-03 (block 0, Conv;")


def test_an_initial_loss_far_from_ln_c_fails(sample_data, monkeypatch):
    fc = type(LAYER_TYPES["fc"])
    init = fc.init_params
    monkeypatch.setattr(fc, "init_params", lambda self, *a: {k: v * 30 for k, v in init(self, *a).items()})
    result = SanityChecks(tiny_architecture(), sample_data).initial_loss()
    assert not result.passed and result.numbers["loss"] > 1.1 * math.log(10)
    assert f"({result.numbers['relative']:+.1%}; within 10% passes)" in result.line


def test_overfitting_beyond_the_bound_fails(sample_data, monkeypatch):
    monkeypatch.setattr(sanity, "OVERFIT_STEPS", 2)
    result = SanityChecks(tiny_architecture(), sample_data).overfit()
    assert not result.passed and result.numbers["accuracy"] < 1
    assert result.line.startswith(f"{result.numbers['accuracy']:.0%} of 20 images after 2 steps, loss ")


def test_stop_interrupts_a_check(sample_data):
    checks = SanityChecks(tiny_architecture(), sample_data)
    checks.stop()
    with pytest.raises(Interrupted):
        checks.run()


def test_a_network_that_does_not_fit_the_data_is_refused(sample_data):
    arch = tiny_architecture()
    arch.layers[-2].params["units"] = 7
    arch.classes = 7
    with pytest.raises(ValueError, match="7 classes"):
        SanityChecks(arch, sample_data)


def test_check_command_prints_a_line_per_check_and_exits_by_the_verdict(tmp_path, sample_dir, capsys, monkeypatch):
    net = tmp_path / "tiny.json"
    save_architecture(tiny_architecture(), net)
    weights = tmp_path / "w.npz"
    Network(tiny_architecture(), seed=1).save_weights(weights)
    assert main(["check", str(net), "--data", str(sample_dir), "--weights", str(weights), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["initial loss", "overfit", "gradient check"]
    assert all(": pass  " in line for line in lines[:3]) and "the current weights" in lines[2]
    assert [line.split(":")[0] for line in lines[3:6]] == [
        "  block 0 (Conv)", "  block 1 (Batch norm)", "  block 5 (FC)"]
    result = json.loads(lines[-1])
    assert [r["passed"] for r in result.values()] == [True] * 3
    assert set(result["gradient check"]["layers"]) == {"0", "1", "5"}

    monkeypatch.setattr(sanity, "OVERFIT_STEPS", 1)
    assert main(["check", str(net), "--data", str(sample_dir)]) == 1
    assert "overfit: FAIL  " in capsys.readouterr().out

    np.savez(tmp_path / "other.npz", nothing=np.zeros(3))
    assert main(["check", str(net), "--data", str(sample_dir), "--weights", str(tmp_path / "other.npz")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("convviz check: error: ") and "does not fit this architecture" in err
