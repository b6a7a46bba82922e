"""Parameter sharing in the notes' terms: the original AlexNet's first layer."""
import json

from convviz.cli import main
from convviz.engine import Volume
from convviz.model import Architecture, LayerSpec as L, infer
from convviz.model.sharing import parameter_sharing


def alexnet_first_layer() -> Architecture:
    """A 227x227x3 input, 96 filters of 11x11x3 at stride 4 (the original AlexNet's first layer)."""
    return Architecture(Volume(227, 227, 3), [L("conv", {"filters": 96, "size": 11, "stride": 4}), L("relu"),
                                        L("globalavgpool"), L("fc", {"units": 1000}), L("softmax")], classes=1000)


def test_alexnet_first_layer_as_the_notes_count_it():
    inference = infer(alexnet_first_layer())
    conv = inference.blocks[0]
    s = parameter_sharing(conv)
    assert conv.output == (55, 55, 96)
    assert (s.neurons, s.weights, s.biases, s.filter) == (290_400, 363, 1, "11x11x3")
    assert (s.unshared, s.shared) == (105_705_600, 34_944) and s.shared == conv.params
    text = " ".join(s.sentences())
    assert "55x55x96 = 290,400 neurons" in text and "11x11x3 = 363 weights and 1 bias" in text
    assert "105,705,600 parameters" in text and "96 x 364 = 34,944" in text
    assert [parameter_sharing(b) for b in inference.blocks[1:]] == [None] * 4  # no filters slid, nothing shared


def test_groups_and_no_bias_share_per_group():
    conv = L("conv", {"filters": 6, "size": 3, "pad": 1, "groups": 2, "bias": False})
    inference = infer(Architecture(Volume(8, 8, 4), [conv, L("fc", {"units": 10}), L("softmax")]))
    s = parameter_sharing(inference.blocks[0])
    assert (s.weights, s.biases, s.filter, s.shared, s.unshared) == (18, 0, "3x3x2", 108, 64 * 6 * 18)


def test_summary_has_the_column(tmp_path, capsys):
    path = tmp_path / "alexnet1.json"
    path.write_text(json.dumps(alexnet_first_layer().to_dict()))
    assert main(["summary", str(path)]) == 0
    table = capsys.readouterr().out
    header, conv = table.splitlines()[0], table.splitlines()[3]
    assert "without sharing" in header and "34,944" in conv and "105,705,600" in conv
    assert main(["summary", str(path), "--json"]) == 0
    layers = json.loads(capsys.readouterr().out)["layers"]
    assert [b["params_without_sharing"] for b in layers] == [105_705_600, None, None, None, None]
