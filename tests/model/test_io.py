"""Architecture JSON: every problem with its path, line and column for malformed JSON, version,
atomic saving, and a lossless round trip."""
import json
import os

import pytest

import convviz
from convviz.engine import Volume
from convviz.model import Architecture, LayerSpec
from convviz.model.io import ArchitectureFileError, load_architecture, parse_architecture, save_architecture


def problems_of(text):
    with pytest.raises(ArchitectureFileError) as info:
        parse_architecture(text, "net.json")
    assert isinstance(info.value, ValueError)
    for p in info.value.problems:
        assert p in str(info.value)
    return info.value.problems


def doc(**changes):
    d = {"version": 1, "input": {"width": 32, "height": 32, "depth": 3}, "classes": 10,
         "layers": [{"type": "conv", "filters": 8, "size": 3, "pad": 1}, {"type": "relu"},
                    {"type": "maxpool"}, {"type": "fc", "units": 10}, {"type": "softmax"}]}
    d.update(changes)
    return json.dumps(d)


def test_valid_document():
    a = parse_architecture(doc(), "net.json")
    assert a.input == Volume(32, 32, 3) and a.classes == 10
    assert [l.type for l in a.layers] == ["conv", "relu", "maxpool", "fc", "softmax"]
    assert a.layers[0].params == {"filters": 8, "size": 3, "pad": 1}


def test_optional_fields_default():
    a = parse_architecture('{"input": {"width": 8, "height": 8, "depth": 1}, "layers": []}')
    assert (a.classes, a.description, a.layers) == (10, "", [])


@pytest.mark.parametrize("text, line, column", [
    ('{\n  "input": {"width": 32,,}\n}', 2, 25),
    ('{"layers": [1, 2', 1, 17),
    ('', 1, 1),
])
def test_malformed_json_reports_line_and_column(text, line, column):
    [problem] = problems_of(text)
    assert problem.startswith(f"line {line}, column {column}: malformed JSON")


def test_every_problem_with_its_path():
    text = json.dumps({
        "version": 1, "input": {"width": 32, "height": "32"}, "colour": "red", "classes": 0,
        "layers": [{"type": "conv", "filters": 8}, {"type": "relu"}, {"type": "maxpool", "size": 2},
                   {"type": "conv", "stride": "2"}, {"type": "conv", "filtres": 3}, {"type": "nope"}, 7,
                   {"type": "dropout", "rate": 1.5}]})
    problems = problems_of(text)
    assert problems == [
        "colour: unknown key (allowed: version, input, classes, description, layers)",
        "input.height: must be a whole number from 1 to 4096, got \"32\"",
        "input.depth: missing (a whole number from 1 to 4096)",
        "classes: must be from 2 to 65536, got 0",
        "layers[3].stride: must be a whole number from 1 to 64, got \"2\"",
        "layers[4].filtres: conv has no such hyperparameter (it takes filters, size, stride, pad, dilation, groups, bias, fit)",
        "layers[5].type: must be one of conv, maxpool, avgpool, globalavgpool, relu, leakyrelu, tanh, sigmoid, "
        "dropout, batchnorm, lrn, fc, softmax, got \"nope\"",
        "layers[6]: must be an object with a \"type\", got 7",
        "layers[7].rate: must be from 0 to 0.95, got 1.5",
    ]


@pytest.mark.parametrize("text, expected", [
    ('[]', "document: must be a JSON object"),
    ('{"input": {"width": 1, "height": 1, "depth": 1}}', "layers: must be a list"),
    ('{"input": {"width": NaN, "height": 1, "depth": 1}, "layers": []}', "NaN is not allowed"),
    ('{"input": {"width": 1e400, "height": 1, "depth": 1}, "layers": []}', "input.width: must be a whole number"),
    ('{"version": 3, "input": {"width": 1, "height": 1, "depth": 1}, "layers": []}', "uses format 3"),
    ('{"version": "1", "input": {"width": 1, "height": 1, "depth": 1}, "layers": []}', "version: must be"),
    ('[' * 100000 + ']' * 100000, "nested too deeply"),
    ('{"input": {"width": 2, "height": 2, "depth": 1}, "layers": [{"type": "fc", "units": 1e999}]}',
     "layers[0].units: must be a whole number"),
])
def test_hostile_or_odd_documents(text, expected):
    assert any(expected in p for p in problems_of(text))


def test_duplicate_keys_are_reported_with_their_path():
    text = ('{"input": {"width": 3, "height": 3, "depth": 1, "width": 4},'
            ' "layers": [{"type": "conv", "pad": 1, "pad": 2}]}')
    assert problems_of(text) == ["input.width: given more than once (only the last would count)",
                                 "layers[0].pad: given more than once (only the last would count)"]


def test_many_problems_are_all_kept_and_the_message_stays_short():
    text = '{"input": {' + ", ".join(f'"k{i}": 1' for i in range(1000)) + '}, "layers": []}'
    with pytest.raises(ArchitectureFileError) as info:
        parse_architecture(text)
    assert len(info.value.problems) == 1003  # 1000 unknown keys, 3 missing sizes
    assert str(info.value).endswith("... and 953 more") and "input.k49:" in str(info.value)


def test_load_file_errors(tmp_path):
    with pytest.raises(ArchitectureFileError, match="cannot read the file"):
        load_architecture(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"input": "\xff"}')
    with pytest.raises(ArchitectureFileError, match="not UTF-8"):
        load_architecture(bad)
    with pytest.raises(ArchitectureFileError, match="cannot read the file"):
        load_architecture(tmp_path)


def test_round_trip_is_lossless(tmp_path):
    a = Architecture(Volume(31, 17, 2), [
        LayerSpec("conv", {"filters": 5, "size": 3, "stride": 2, "pad": 0, "dilation": 1}),
        LayerSpec("leakyrelu", {"slope": 0.1}), LayerSpec("dropout", {"rate": 0}), LayerSpec("maxpool", {"size": 1}),
        LayerSpec("batchnorm", {"momentum": 0.05}), LayerSpec("fc", {"units": 3}), LayerSpec("softmax")],
        classes=3, description='A "quoted" note, ünïcode.')
    path = tmp_path / "net.json"
    save_architecture(a, path)
    b = convviz.load_architecture(path)
    assert b == a and type(b.layers[2].params["rate"]) is int
    save_architecture(b, tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == path.read_text()
    assert json.loads(path.read_text())["version"] == 1


def test_invalid_but_well_formed_network_loads(tmp_path):
    """Whether volumes fit is infer()'s business: a half-edited network must still load."""
    a = parse_architecture(doc(layers=[{"type": "conv", "size": 3, "stride": 2}]))
    assert a.layers[0].params == {"size": 3, "stride": 2}


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "net.json"
    path.write_text("old contents")
    unsaveable = Architecture(layers=[LayerSpec("conv", {"filters": object()})])
    with pytest.raises(TypeError):
        save_architecture(unsaveable, path)

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        save_architecture(Architecture(), path)
    assert path.read_text() == "old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json"]


def test_saved_file_gets_the_permissions_of_a_plain_write(tmp_path):
    """Not the owner-only 0o600 of a temporary file: a saved network can be shared like any file."""
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    save_architecture(Architecture(), tmp_path / "net.json")
    assert (tmp_path / "net.json").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
