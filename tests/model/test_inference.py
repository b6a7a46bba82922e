"""Shape inference on stacks: tables with expected volumes and counts, every kind of error with its
formula and fixes, warnings, receptive fields, and agreement with the engine's initialised arrays.
Trees (containers, paths, merges, whole-network fix judgement): test_tree.py."""
import pytest

from convviz.engine import Network, Volume
from convviz.model import Architecture, LayerSpec, infer


def L(kind, **params):
    return LayerSpec(kind, params)


def numeric(fixes):
    """The fixes that change a number (not the "fit" of a volume that is not whole: test_tree.py)."""
    return [f for f in fixes if "fit" not in f.params]


def node_params(net, key):
    """The number of parameters the engine gave the node with this key."""
    return sum(a.size for k, a in net.params.items() if k.rpartition(".")[0] == key)


def arch(w, h, d, *layers, classes=10):
    return Architecture(Volume(w, h, d), list(layers), classes)


@pytest.mark.parametrize("w, layer, expected", [
    (32, L("conv", filters=5, size=5), (28, 28, 5)),                 # the seed: 32x32x3, 5x5, pad 0 -> 28x28
    (32, L("conv", filters=10, size=5, pad=2), (32, 32, 10)),
    (7, L("conv", filters=1, size=3, stride=1), (5, 5, 1)),           # the seed: 7x7, 3x3 -> 5x5 at stride 1
    (7, L("conv", filters=1, size=3, stride=2), (3, 3, 1)),           # ... and 3x3 at stride 2
    (7, L("conv", filters=2, size=3, dilation=2), (3, 3, 2)),         # dilated 3x3 spans 5
    (32, L("maxpool"), (16, 16, 3)),                                 # stride defaults to the size
    (32, L("avgpool", size=3, stride=1, pad=1), (32, 32, 3)),
    (5, L("fc", units=7), (1, 1, 7)),
    (5, L("batchnorm"), (5, 5, 3)),
])
def test_output_volumes(w, layer, expected):
    block = infer(arch(w, w, 3, layer)).blocks[0]
    assert block.output == Volume(*expected)
    assert block.errors == []


@pytest.mark.parametrize("layer, params, macs", [
    (L("conv", filters=10, size=5, pad=2), 10 * 3 * 25 + 10, 32 * 32 * 10 * 3 * 25),
    (L("fc", units=10), 32 * 32 * 3 * 10 + 10, 32 * 32 * 3 * 10),
    (L("batchnorm"), 2 * 3, 2 * 32 * 32 * 3),
    (L("maxpool"), 0, 16 * 16 * 3 * 4),
    (L("relu"), 0, 0),
])
def test_params_and_macs(layer, params, macs):
    block = infer(arch(32, 32, 3, layer)).blocks[0]
    assert (block.params, block.macs, block.memory_bytes) == (params, macs, block.output.size * 4)


def test_seed_example_w10_f3_s2_p0_is_invalid_with_formula_and_fixes():
    a = arch(10, 10, 3, L("conv", filters=4, size=3, stride=2), L("relu"), L("fc", units=10), L("softmax"))
    result = infer(a)
    assert not result.valid
    [problem] = result.errors
    assert problem.path == (0,) and "Block 0 (Conv)" in problem.message
    assert problem.formula == "(10 - 3 + 0)/2 + 1 = 4.5"
    assert "not a whole number" in problem.message
    labels = [f.label for f in numeric(problem.fixes)]
    assert labels == ["use stride 1 (-> 8x8; the network is valid)", "use size 2 (-> 5x5; the network is valid)",
                      "use size 4 (-> 4x4; the network is valid)"]
    # no pad makes (7 + 2P)/2 whole, so none is offered; later blocks get no volume and no cascade of errors
    assert [b.output for b in result.blocks] == [None] * 4
    for fix in problem.fixes:
        fixed = infer(fix.apply(a))
        assert fixed.valid and fix.valid, fixed.errors
        assert str(fixed.blocks[0].output).startswith(fix.gives)
    assert a.layers[0].params == {"filters": 4, "size": 3, "stride": 2}  # apply makes a copy


def test_pad_fix_is_offered_when_it_works():
    a = arch(8, 8, 3, L("conv", filters=4, size=3, stride=3), L("fc"), L("softmax"))
    [problem] = infer(a).errors
    assert problem.path == (0,) and problem.formula == "(8 - 3 + 0)/3 + 1 = 2.66667"
    assert [(f.action, f.gives) for f in numeric(problem.fixes)] == [
        ("use pad 2", "4x4"), ("use stride 1", "6x6"), ("use stride 5", "2x2"), ("use size 2", "3x3")]


def test_pool_fix_follows_the_default_stride():
    a = arch(7, 7, 3, L("maxpool", size=2), L("fc"), L("softmax"))
    [problem] = infer(a).errors            # (7 - 2 + 0)/2 + 1 = 3.5; the stride follows the size
    assert problem.formula == "(7 - 2 + 0)/2 + 1 = 3.5"
    assert [(f.action, f.gives) for f in numeric(problem.fixes)] == [("use stride 1", "6x6"), ("use size 1", "7x7")]


def test_filter_larger_than_padded_input():
    a = arch(4, 4, 3, L("conv", size=7), L("fc"), L("softmax"))
    [problem] = infer(a).errors
    assert "larger than the padded input" in problem.message and "below 1" in problem.message
    assert problem.formula == "(4 - 7 + 0)/1 + 1 = -2"
    assert all(infer(f.apply(a)).valid for f in problem.fixes) and problem.fixes


def test_all_errors_at_once_and_structure_checked_past_a_bad_block():
    a = arch(10, 10, 3, L("conv", size=3, stride=2), L("relu"), L("conv", filters=0), L("softmax"), L("fc"))
    result = infer(a)
    by_block = {}
    for p in result.errors:
        by_block.setdefault(p.path, []).append(p.message)
    assert set(by_block) == {(0,), (2,), (4,)}
    assert "filters must be" in by_block[(2,)][0]
    assert "comes after the classifier" in by_block[(4,)][0]
    assert result.blocks[2].output is None
    assert result.blocks[2].errors[0].fixes[0].action == "use filters 16 (the default)"


@pytest.mark.parametrize("value", [0, -3, 2.5, "2", None, True, [1]])
def test_bad_hyperparameter_values(value):
    a = arch(8, 8, 3, L("conv", filters=4, stride=value), L("fc"), L("softmax"))
    result = infer(a)
    [problem] = result.errors
    assert problem.param == "stride" and "Block 0 (Conv): stride must be" in problem.message
    assert repr(value) in problem.message
    assert infer(problem.fixes[0].apply(a)).valid


def test_referenced_default_fix_removes_the_key():
    a = arch(8, 8, 3, L("maxpool", stride=0), L("fc"), L("softmax"))
    [problem] = infer(a).errors
    fixed = problem.fixes[0].apply(a)
    assert fixed.layers[0].params == {} and infer(fixed).valid


def test_unknown_type_and_hyperparameter():
    a = arch(8, 8, 3, L("covn", filters=4), L("conv", filtres=4), L("fc"), L("softmax"))
    result = infer(a)
    unknown, misspelt = result.errors
    assert unknown.path == (0,) and "unknown layer type 'covn' (did you mean conv?)" in unknown.message
    assert [f.action for f in unknown.fixes] == ["change to conv", "remove block 0"]
    assert misspelt.path == (1,) and "no hyperparameter 'filtres'" in misspelt.message
    assert misspelt.fixes[0].action == "rename 'filtres' to 'filters'"
    assert infer(unknown.fixes[-1].apply(misspelt.fixes[0].apply(a))).errors == []  # rename, then remove block 0


def test_missing_softmax_and_last_volume():
    a = arch(8, 8, 3, L("conv", filters=4))
    [problem] = infer(a).errors
    assert problem.path is None and "no classifier" in problem.message
    assert [f.label for f in problem.fixes] == ["add fc 10 and softmax at the end (the network is valid)",
                                                "add softmax at the end (block 1 then fails)"]
    assert infer(problem.fixes[0].apply(a)).valid
    b = arch(8, 8, 3, L("conv", filters=4), L("softmax"))
    [problem] = infer(b).errors
    assert problem.path == (1,) and "6x6x4" in problem.message
    assert "needs a 1x1x10 volume (10 classes)" in problem.message
    assert problem.fixes[-1].action == "add fc 10 before softmax" and infer(problem.fixes[-1].apply(b)).valid
    c = arch(8, 8, 3, L("fc", units=7), L("softmax"), classes=10)
    [problem] = infer(c).errors
    assert problem.fixes[0].label == "set block 0's units to 10 (-> 1x1x10; the network is valid)"
    assert infer(problem.fixes[0].apply(c)).valid
    assert infer(arch(8, 8, 3, L("fc", units=7), L("softmax"), classes=7)).valid


def test_softmax_not_last():
    a = arch(8, 8, 3, L("fc"), L("softmax"), L("relu"), L("fc"))
    result = infer(a)
    assert [p.path for p in result.errors] == [(2,), (3,)]
    move, remove = result.errors[0].fixes  # the fix that leaves the network valid first
    assert move.label == "move the softmax (block 1) to the end (the network is valid)"
    assert remove.label == "remove block 2 (1 other error remains)"
    assert [l.type for l in move.apply(a).layers] == ["fc", "relu", "fc", "softmax"]


def test_bad_input_block():
    result = infer(Architecture(Volume(0, 32, "3"), [L("fc"), L("softmax")]))
    assert [p.param for p in result.errors] == ["width", "depth"]
    assert all(p.path is None for p in result.errors)
    assert all(b.output is None for b in result.blocks)
    assert infer(result.errors[0].fixes[0].apply(Architecture(Volume(0, 32, "3"), [L("fc"), L("softmax")]))).valid


def test_warnings():
    big = infer(arch(64, 64, 64, L("fc", units=4096), L("relu"), L("relu"), L("fc"), L("softmax")))
    assert big.valid
    assert [p.path for p in big.warnings] == [(0,), (2,)]
    assert "more than 10 million" in big.warnings[0].message and "follows another activation" in big.warnings[1].message
    early = infer(arch(8, 8, 3, L("conv", size=8), L("conv", size=1), L("maxpool", size=1), L("fc"), L("softmax")))
    assert early.valid and [p.path for p in early.warnings] == [(1,)]
    assert "reached 1x1 at block 0" in early.warnings[0].message


def test_receptive_field():
    a = arch(32, 32, 3, L("conv", size=3, pad=1), L("conv", size=3, pad=1), L("maxpool"), L("conv", size=3, pad=1),
             L("conv", size=3, dilation=2, pad=2), L("relu"))
    rfs = [b.receptive_field for b in infer(a).blocks]
    assert rfs == [(3, 1, False), (5, 1, False), (6, 2, False), (10, 2, False), (18, 2, False), (18, 2, False)]
    assert infer(a).last_conv_receptive_field == (18, 2, False)
    assert str(rfs[-1]) == "18x18 (jump 2)"


def test_params_equal_engine_arrays():
    a = arch(16, 16, 3, L("conv", filters=6, size=3, pad=1), L("batchnorm"), L("relu"), L("maxpool"),
             L("conv", filters=8, size=4, stride=2, pad=1), L("leakyrelu"), L("dropout"), L("fc", units=12),
             L("batchnorm"), L("tanh"), L("fc"), L("softmax"))
    result = infer(a)
    assert result.valid
    net = Network(a)
    assert result.total_params == net.parameter_count
    assert [b.params for b in result.blocks] == [node_params(net, b.key) for b in result.blocks]
    assert [b.output for b in result.blocks] == [n.volume for n in net.plan.nodes[1:]]
    assert result.total_memory_bytes == 4 * sum(n.volume.size for n in net.plan.nodes[1:])


def test_bad_value_in_an_element_wise_block_does_not_stop_inference():
    a = arch(8, 8, 3, L("conv", size=3), L("dropout", rate=2), L("maxpool"), L("fc"), L("softmax"))
    result = infer(a)
    assert [p.path for p in result.errors] == [(1,)]
    assert result.blocks[1].output == Volume(6, 6, 16) and result.blocks[1].receptive_field == (3, 1, False)
    assert result.blocks[2].output == Volume(3, 3, 16) and result.blocks[2].receptive_field == (4, 2, False)


def test_fixes_apply_to_blocks_with_junk_params():
    a = Architecture(Volume(8, 0, 3), [LayerSpec("fc", None), L("softmax")])
    input_fix, params_fix = (p.fixes[0] for p in infer(a).errors)
    assert input_fix.apply(a).layers[0].params is None
    assert infer(params_fix.apply(input_fix.apply(a))).valid


def test_never_raises_on_junk():
    junk = [LayerSpec(None, {}), LayerSpec("conv", None), LayerSpec("conv", {"size": 10 ** 400}),
            LayerSpec("dropout", {"rate": 10 ** 400}), LayerSpec("dropout", {"rate": float("nan")}),
            LayerSpec(["fc"], {}), LayerSpec("fc", {1: 2})]
    result = infer(Architecture(Volume(8, 8, 3), junk, classes="ten"))
    assert not result.valid and len(result.errors) >= len(junk)
    assert all(isinstance(p.message, str) and p.message.endswith(".") for p in result.errors)
