"""FC layers as convolutions: the converted network gives the same class scores with the weights carried over."""
import numpy as np
import pytest

from convviz.cli import main
from convviz.data import Normalizer, load_cifar10
from convviz.engine import Network, Volume
from convviz.model import Architecture, LayerSpec as L
from convviz.model.convert import convert_fc
from convviz.model.io import load_architecture
from convviz.model.presets import load_preset


def _converted(arch, seed=0):
    net = Network(arch, seed=seed)
    rng = np.random.default_rng(seed)
    for k, a in net.buffers.items():
        a[...] = rng.uniform(0.5, 1.5, a.shape) if k.endswith("var") else rng.normal(size=a.shape)
    conversion = convert_fc(arch)
    new = Network(conversion.arch)
    new.set_state(conversion.weights(net.state()))
    return net, new, conversion


def test_convnetjs_gives_the_same_class_scores_on_every_sample_test_image(sample_dir):
    data = load_cifar10(sample_dir)
    net, new, conversion = _converted(load_preset("convnetjs"))
    assert [(c.label, c.after) for c in conversion.changes] == [("9", "Conv 10 filters of 4x4x20")]
    assert not any(n.op.name == "fc" for n in new.nodes[1:]) and new.parameter_count == net.parameter_count
    x = Normalizer.fit(data.train_images, np.arange(len(data.train_labels))).apply(data.test_images)
    before, after = net.predict_proba(x), new.predict_proba(x)
    assert len(x) == len(data.test_labels) == 1017
    np.testing.assert_allclose(after, before, atol=1e-5)


def test_fc_chains_and_fcs_inside_lanes_convert():
    """AlexNet's head (fc, batchnorm, relu, dropout, fc) and an fc inside a residual's body."""
    arch = Architecture(Volume(10, 10, 3), [
        L("conv", {"filters": 4, "size": 3}), L("maxpool", {"size": 2}),
        L("fc", {"units": 12}), L("batchnorm"), L("relu"), L("dropout"),
        L("residual", {}, [[L("fc", {"units": 12}), L("tanh")], []]),
        L("fc", {"units": 5}), L("softmax")], classes=5)
    net, new, conversion = _converted(arch, seed=1)
    assert [c.after for c in conversion.changes] == ["Conv 12 filters of 4x4x4", "Conv 12 filters of 1x1x12",
                                                     "Conv 5 filters of 1x1x12"]
    assert new.params["6.body.0.weight"].shape == (12, 12, 1, 1) and new.params["2.weight"].shape == (12, 4, 4, 4)
    x = np.random.default_rng(2).normal(size=(7, 3, 10, 10)).astype(np.float32)
    np.testing.assert_allclose(new.predict_proba(x), net.predict_proba(x), atol=1e-5)
    assert convert_fc(conversion.arch).changes == []  # nothing left to convert


def test_a_volume_that_is_not_square_is_refused_with_the_fix():
    arch = Architecture(Volume(8, 6, 3), [L("conv", {"filters": 4, "size": 3, "pad": 1}), L("fc", {"units": 10}),
                                          L("softmax")])
    with pytest.raises(ValueError, match=r"Block 1 \(FC\): it sees a 8x6x4 volume.*pool or crop it to 6x6"):
        convert_fc(arch)
    with pytest.raises(ValueError, match="not valid"):
        convert_fc(Architecture(Volume(8, 8, 3), [L("fc", {"units": 10})]))


def test_the_command_writes_the_network_and_its_weights(tmp_path, capsys):
    net = Network(load_preset("convnetjs"), seed=3)
    net.save_weights(tmp_path / "w.npz")
    out, out_weights = tmp_path / "c.json", tmp_path / "c.npz"
    assert main(["convert", "convnetjs", "--weights", str(tmp_path / "w.npz"), "--out", str(out),
                 "--out-weights", str(out_weights)]) == 0
    assert "block 9: FC 10 on a 4x4x20 volume -> Conv 10 filters of 4x4x20" in capsys.readouterr().out
    new = Network(load_architecture(out))
    new.load_weights(out_weights)
    x = np.random.default_rng(4).normal(size=(5, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(new.predict_proba(x), net.predict_proba(x), atol=1e-5)
    assert main(["convert", "convnetjs", "--weights", str(out_weights), "--out", str(tmp_path / "x.json"),
                 "--out-weights", str(tmp_path / "x.npz")]) == 1
    assert "9.weight: shape (10, 20, 4, 4), the network needs (10, 320)" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
    assert main(["convert", "convnetjs", "--weights", str(out_weights), "--out", str(tmp_path / "x.json")]) == 1
    assert "--weights and --out-weights go together" in capsys.readouterr().err
