"""Architecture JSON: every problem with its path (nested blocks too), line and column for malformed
JSON, versions 1 and 2, bounded nesting and size, atomic saving, and a byte-exact round trip."""
import json
import os

import pytest

import convviz
from convviz.engine import BLOCK_TYPES, LAYER_TYPES, Volume
from convviz.model import Architecture, LayerSpec
from convviz.model.io import ArchitectureFileError, load_architecture, parse_architecture, save_architecture


TYPES = ", ".join(BLOCK_TYPES)  # conv, maxpool, ..., residual, concat
CONV_HYPERS = ", ".join(h.name for h in LAYER_TYPES["conv"].hypers)  # filters, size, stride, pad, ...


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
        "colour: unknown key (allowed: version, input, classes, description, group, layers)",
        "input.height: must be a whole number from 1 to 4096, got \"32\"",
        "input.depth: missing (a whole number from 1 to 4096)",
        "classes: must be from 2 to 65536, got 0",
        "layers[3].stride: must be a whole number from 1 to 64, got \"2\"",
        f"layers[4].filtres: conv has no such hyperparameter (it takes {CONV_HYPERS})",
        f"layers[5].type: must be one of {TYPES}, got \"nope\"",
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
    ('{"input": {"width": 1, "height": 1, "depth": 1}, "layers": [' + '{"type": "residual", "body": [' * 100000
     + ']}' * 100000 + ']}', "nested too deeply"),
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


V2 = {"version": 2, "input": {"width": 32, "height": 32, "depth": 3}, "classes": 10,
      "layers": [
          {"type": "conv", "filters": 16, "size": 3, "pad": 1}, {"type": "batchnorm"}, {"type": "relu"},
          {"type": "residual",
           "body": [{"type": "conv", "filters": 32, "size": 3, "stride": 2, "pad": 1}, {"type": "batchnorm"},
                    {"type": "relu"}, {"type": "conv", "filters": 32, "size": 3, "pad": 1}, {"type": "batchnorm"}],
           "shortcut": [{"type": "conv", "filters": 32, "size": 1, "stride": 2}, {"type": "batchnorm"}]},
          {"type": "relu"},
          {"type": "concat", "branches": [[{"type": "conv", "filters": 8, "size": 1}],
                                          [{"type": "conv", "filters": 8, "size": 3, "pad": 1}],
                                          [{"type": "maxpool", "size": 3, "stride": 1, "pad": 1}], []]},
          {"type": "residual", "body": [{"type": "relu"}]},
          {"type": "fc", "units": 10}, {"type": "softmax"}]}


def test_version_2_document_loads_as_a_tree():
    a = parse_architecture(json.dumps(V2))
    res, cat, identity = a.layers[3], a.layers[5], a.layers[6]
    assert [[b.type for b in lane] for lane in res.lanes] == [["conv", "batchnorm", "relu", "conv", "batchnorm"],
                                                               ["conv", "batchnorm"]]
    assert res.params == {} and a.block((3, 0, 0)).params == {"filters": 32, "size": 3, "stride": 2, "pad": 1}
    assert [[b.type for b in lane] for lane in cat.lanes] == [["conv"], ["conv"], ["maxpool"], []]
    assert identity.lanes == [[LayerSpec("relu")], []]  # a missing shortcut is the identity


def test_version_2_round_trip_is_byte_exact_and_readable(tmp_path):
    a = parse_architecture(json.dumps(V2))
    path = tmp_path / "net.json"
    save_architecture(a, path)
    text = path.read_text()
    assert convviz.load_architecture(path) == a
    save_architecture(convviz.load_architecture(path), tmp_path / "again.json")
    assert (tmp_path / "again.json").read_text() == text
    lines = text.splitlines()
    assert json.loads(text)["version"] == 2
    assert '    {"type": "conv", "filters": 16, "size": 3, "pad": 1},' in lines  # one line per leaf
    assert '        {"type": "conv", "filters": 32, "size": 3, "stride": 2, "pad": 1},' in lines  # a lane, indented
    assert '      "type": "residual",' in lines and '      "shortcut": [' in lines
    assert '          {"type": "maxpool", "size": 3, "stride": 1, "pad": 1}' in lines  # concat: a list per branch
    assert '        []' in lines  # the empty branch


def test_version_1_files_stay_version_1_byte_for_byte(tmp_path):
    """Every version-1 preset re-saved is the same file (the presets are written by save_architecture)."""
    from convviz.model.presets import PRESET_DIR
    for path in sorted(PRESET_DIR.glob("*.json")):
        text = path.read_text()
        if json.loads(text)["version"] != 1:
            continue
        save_architecture(load_architecture(path), tmp_path / path.name)
        assert (tmp_path / path.name).read_text() == text, path.name


def test_problems_inside_containers_carry_their_full_path():
    d = json.loads(json.dumps(V2))
    d["layers"][3]["body"][0]["stride"] = 0
    d["layers"][3]["colour"] = "red"
    d["layers"][3]["shortcut"] = {"type": "conv"}
    d["layers"][5]["branches"][1] = [{"type": "maxpol", "size": 3}]
    d["layers"][5]["branches"][2] = "pool"
    d["layers"][6]["body"][0]["slope"] = 1
    assert problems_of(json.dumps(d)) == [
        "layers[3].colour: unknown key (a residual block takes body, shortcut)",
        "layers[3].body[0].stride: must be from 1 to 64, got 0",
        "layers[3].shortcut: must be a list of blocks, got an object",
        f"layers[5].branches[1][0].type: must be one of {TYPES}, got \"maxpol\" (did you mean \"maxpool\"?)",
        "layers[5].branches[2]: must be a list of blocks, got \"pool\"",
        "layers[6].body[0].slope: relu has no such hyperparameter (it takes none)",
    ]


@pytest.mark.parametrize("branches, expected", [
    ([], "layers[0].branches: a concat block takes 1 to 16 lanes, got 0"),
    ([[]] * 17, "layers[0].branches: a concat block takes 1 to 16 lanes, got 17"),
    (None, "layers[0].branches: must be a list of lanes, each a list of blocks, got nothing"),
    (3, "layers[0].branches: must be a list of lanes, each a list of blocks, got 3"),
])
def test_lane_counts_follow_the_declaration(branches, expected):
    block = {"type": "concat"} if branches is None else {"type": "concat", "branches": branches}
    text = json.dumps({"input": {"width": 4, "height": 4, "depth": 1}, "layers": [block]})
    assert problems_of(text) == [expected]


def test_a_container_needs_version_2():
    text = json.dumps({"version": 1, "input": {"width": 4, "height": 4, "depth": 1},
                       "layers": [{"type": "residual", "body": []}]})
    assert problems_of(text) == ['layers[0]: a residual block needs format version 2; the file says "version": 1']


def test_nesting_past_the_bound_is_one_problem_not_a_crash():
    from convviz.model.spec import MAX_NESTING
    block = {"type": "relu"}
    for _ in range(MAX_NESTING + 5):
        block = {"type": "residual", "body": [block]}
    text = json.dumps({"input": {"width": 4, "height": 4, "depth": 1}, "layers": [block]})
    [problem] = problems_of(text)
    assert problem == "layers[0]" + ".body[0]" * MAX_NESTING + f": containers nest more than {MAX_NESTING} deep"


def test_the_number_of_blocks_is_bounded():
    from convviz.model.io import MAX_BLOCKS
    text = json.dumps({"input": {"width": 4, "height": 4, "depth": 1},
                       "layers": [{"type": "concat", "branches": [[{"type": "relu"}] * (MAX_BLOCKS + 10)]}]})
    assert problems_of(text) == [f"layers[0].branches[0][{MAX_BLOCKS - 1}]: the network has more than "
                                 f"{MAX_BLOCKS:,} blocks; ConvViz reads at most {MAX_BLOCKS:,}"]


def test_group_is_checked_and_kept():
    text = doc(group="train")
    assert parse_architecture(text).group == "train"
    assert problems_of(doc(group="toy")) == ['group: must be one of train, reference, got "toy"']
    assert problems_of(doc(group=["train"])) == ["group: must be one of train, reference, got a list"]
