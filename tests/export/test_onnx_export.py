"""The ONNX export: the model passes onnx's full check, and onnxruntime gives the engine's logits (and
probabilities) for a sequential and a branching network; the command line writes it and says what is
wrong in one line."""
import sys

import numpy as np
import pytest
from export_nets import NETS, images, trained_network

from convviz.cli import main

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name", NETS)
def test_onnxruntime_gives_the_engines_logits(name, tmp_path):
    from convviz.export.onnx import write_onnx

    net = trained_network(name)
    path = tmp_path / f"{name}.onnx"
    write_onnx(net.arch, net.state(), path)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    assert [o.name for o in model.graph.output] == ["logits", "probabilities"]
    assert {i.name for i in model.graph.initializer} >= set(net.state())  # named like the weights file
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = images(net)
    logits, probabilities = session.run(None, {"input": x})
    ours = net.forward(x)
    assert logits.shape == ours.shape == (len(x), 10)
    np.testing.assert_allclose(logits, ours, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(probabilities, net.predict_proba(x), atol=1e-5)


def test_the_command_writes_a_model_from_a_weights_file(tmp_path, capsys):
    net = trained_network("branching")
    weights, json_file, out = tmp_path / "w.npz", tmp_path / "net.json", tmp_path / "net.onnx"
    net.save_weights(weights)
    from convviz.model.io import save_architecture

    save_architecture(net.arch, json_file)
    assert main(["export", str(json_file), "--weights", str(weights), "--to", "onnx", str(out)]) == 0
    assert "net.onnx" in capsys.readouterr().out
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = images(net, 2)
    np.testing.assert_allclose(session.run(["logits"], {"input": x})[0], net.forward(x), rtol=1e-4, atol=1e-4)


def test_weights_that_do_not_fit_are_refused_in_one_line(tmp_path, capsys):
    weights = tmp_path / "w.npz"
    trained_network("sequential").save_weights(weights)
    assert main(["export", "convnetjs", "--weights", str(weights), str(tmp_path / "net.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("convviz export: error: ") and "does not fit this architecture" in err
    assert err.count("\n") == 1 and not (tmp_path / "net.onnx").exists()


def test_without_the_onnx_package_the_message_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    weights = tmp_path / "w.npz"
    trained_network("sequential", side=16).save_weights(weights)
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    from convviz.model.io import save_architecture

    save_architecture(trained_network("sequential").arch, tmp_path / "net.json")
    assert main(["export", str(tmp_path / "net.json"), "--weights", str(weights), str(tmp_path / "n.onnx")]) == 1
    assert "pip install 'convviz[onnx]'" in capsys.readouterr().err
