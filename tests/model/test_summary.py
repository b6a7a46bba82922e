"""`convviz summary`: the table, the JSON form, and the exit status."""
import json

from convviz.cli import main
from convviz.engine import Volume
from convviz.model import Architecture, LayerSpec
from convviz.model.io import save_architecture


def test_preset_table(capsys):
    assert main(["summary", "convnetjs"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(l for l in lines if l.startswith("block"))
    for column in ("type", "output", "params", "mult-adds", "memory", "receptive field"):
        assert column in header
    conv = next(l for l in lines if l.startswith("0 "))
    assert "32x32x16" in conv and "1,216" in conv and "1,228,800" in conv and "5x5 (jump 1)" in conv
    assert "Total parameters: 22,466" in out and lines[-1] == "valid"


def test_json_matches_the_issue_schema(capsys):
    assert main(["summary", "seed", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["valid"] is True and d["errors"] == [] and d["total_params"] == 26_370
    first = d["layers"][0]
    assert set(first) >= {"index", "type", "input", "output", "params", "macs", "memory_bytes", "receptive_field"}
    assert (first["input"], first["output"], first["params"]) == ([32, 32, 3], [32, 32, 10], 760)
    assert first["receptive_field"] == [5, 1] and first["memory_bytes"] == 32 * 32 * 10 * 4
    assert d["total_macs"] == sum(layer["macs"] for layer in d["layers"])


def test_invalid_network_prints_every_error_and_exits_1(tmp_path, capsys):
    path = tmp_path / "bad.json"
    save_architecture(Architecture(Volume(10, 10, 3), [LayerSpec("conv", {"size": 3, "stride": 2}),
                                                       LayerSpec("relu"), LayerSpec("fc", {"units": 7})]), path)
    assert main(["summary", str(path)]) == 1
    out = capsys.readouterr().out
    assert "error: Block 0 (Conv) does not fit its 10x10x3 input" in out and "(10 - 3 + 0)/2 + 1 = 4.5" in out
    assert "    fix: use stride 1 (-> 8x8; 1 other error remains)" in out
    assert "error: The network has no classifier" in out and out.rstrip().endswith("invalid: 2 errors")
    assert main(["summary", str(path), "--json"]) == 1
    d = json.loads(capsys.readouterr().out)
    assert d["valid"] is False and [e["index"] for e in d["errors"]] == [0, None]
    assert d["errors"][0]["fixes"][0] == "use stride 1 (-> 8x8; 1 other error remains)"
    assert d["errors"][0]["path"] == [0] and d["layers"][1]["output"] is None


def test_unreadable_file_or_unknown_name(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text('{"input": {"width": 32, "height": 32, "depth": 3}, "layers": [{"type": "conv", "pad": -1}]}')
    assert main(["summary", str(path)]) == 1
    assert "layers[0].pad: must be from 0 to 64, got -1" in capsys.readouterr().err
    assert main(["summary", str(path), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["errors"][0]["message"] == "layers[0].pad: must be from 0 to 64, got -1"
    assert main(["summary", "resnet50"]) == 1
    assert "neither a preset nor an existing file" in capsys.readouterr().err


TREE = {"version": 2, "input": {"width": 9, "height": 9, "depth": 3}, "classes": 10,
        "layers": [{"type": "conv", "filters": 4, "size": 3, "pad": 1},
                   {"type": "residual", "body": [{"type": "conv", "filters": 4, "size": 3, "pad": 1},
                                                 {"type": "relu"}]},
                   {"type": "concat", "branches": [[{"type": "conv", "filters": 2, "size": 1}], []]},
                   {"type": "fc", "units": 10}, {"type": "softmax"}]}


def test_tree_table_indents_lanes_and_shows_merges_and_totals(tmp_path, capsys):
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(TREE))
    assert main(["summary", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [l.split() for l in lines]
    first = [r[0] for r in rows if r]
    start = first.index("1")
    assert first[start:start + 9] == ["1", "1.body[0]", "1.body[1]", "1.shortcut", "+", "2", "2.branches[0][0]",
                                      "2.branches[1]", "concat"]
    body = lines[start + 1]
    assert body.startswith("  1.body[0] ") and "9x9x4" in body and "148" in body  # 4*4*9 + 4 parameters
    assert rows[start][:3] == ["1", "residual", "9x9x4"] and rows[start][3] == "148"  # the container's total
    assert rows[start + 3][:3] == ["1.shortcut", "identity", "9x9x4"]
    assert rows[start + 4][:3] == ["+", "merge", "9x9x4"] and rows[start + 8][:3] == ["concat", "merge", "9x9x6"]
    assert "Total parameters: 5,140" in lines  # convs 112 + 148 + 10, fc 9*9*6*10 + 10
    assert lines[-1] == "valid"


def test_tree_json_has_paths_and_nested_lanes(tmp_path, capsys):
    path = tmp_path / "tree.json"
    path.write_text(json.dumps(TREE))
    assert main(["summary", str(path), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [l["path"] for l in d["layers"]] == [[0], [1], [1, 0, 0], [1, 0, 1], [2], [2, 0, 0], [3], [4]]
    assert [l["index"] for l in d["layers"]] == [0, 1, 1, 1, 2, 2, 3, 4]
    res = d["layers"][1]
    assert [[c["label"] for c in lane] for lane in res["lanes"]] == [["1.body[0]", "1.body[1]"], []]
    assert res["merge_inputs"] == [[9, 9, 4], [9, 9, 4]] and res["output"] == [9, 9, 4]
    assert res["lanes"][0][0] == d["layers"][2]
    assert d["total_params"] == sum(l["params"] for l in d["layers"] if "lanes" not in l)


def test_memory_is_in_binary_units(capsys):
    assert main(["summary", "convnetjs"]) == 0
    out = capsys.readouterr().out
    assert "Activation memory per image (float32): 200 KiB" in out and " KB" not in out
