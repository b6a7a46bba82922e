"""Inference on trees: BlockInfos mirror the tree (paths, labels, keys, lanes, merges, totals), messages
name nested blocks by path, residual and concat mismatches name each lane's volume with its formula and
offer fixes that really fix, every error's fixes are judged on the whole network, fixes edit the tree at
a path, receptive fields go through branches and never exceed the input, and nothing nests without end."""
import numpy as np
import pytest

from convviz.engine import LAYER_TYPES, Hyper, Network, Volume
from convviz.model import Architecture, LayerSpec, infer
from convviz.model.inference import Fix
from convviz.model.spec import MAX_NESTING


def L(kind, **params):
    return LayerSpec(kind, params)


def residual(body, shortcut=()):
    return LayerSpec("residual", {}, [list(body), list(shortcut)])


def concat(*branches):
    return LayerSpec("concat", {}, [list(b) for b in branches])


def net(w, *layers, depth=3, classes=10):
    return Architecture(Volume(w, w, depth), list(layers), classes)


def head(classes=10):
    return [L("fc", units=classes), L("softmax")]


def node_params(network, key):
    return sum(a.size for k, a in network.params.items() if k.rpartition(".")[0] == key)


def agrees_with_the_engine(arch):
    """Every BlockInfo's output volume and parameter count equal the engine's plan node with its key."""
    result = infer(arch)
    assert result.valid, [p.message for p in result.errors]
    network = Network(arch)
    nodes = {n.key: n for n in network.plan.nodes}
    infos = list(result.walk())
    assert sorted(b.key for b in infos) == sorted(k for k in nodes if k != "input")
    for b in infos:
        assert b.output == nodes[b.key].volume, b.label
        if not b.is_container:
            assert b.params == node_params(network, b.key), b.label
    assert result.total_params == network.parameter_count
    assert result.total_memory_bytes == 4 * sum(n.volume.size for n in network.plan.nodes[1:])
    return result


def small_resnet():
    """33x33x8 -> a residual with an identity shortcut, one that downsamples with a projection, a concat."""
    return net(33, L("conv", filters=8, size=3, pad=1), L("relu"),
               residual([L("conv", filters=8, size=3, pad=1), L("batchnorm"), L("relu")]),
               residual([L("conv", filters=16, size=3, stride=2, pad=1), L("batchnorm")],
                        [L("conv", filters=16, size=1, stride=2), L("batchnorm")]),
               L("relu"),
               concat([L("conv", filters=4, size=1)], [L("conv", filters=4, size=3, pad=1)],
                      [L("maxpool", size=3, stride=1, pad=1)], []),
               *head())


def test_block_infos_mirror_the_tree():
    result = agrees_with_the_engine(small_resnet())
    assert [b.type for b in result.blocks] == ["conv", "relu", "residual", "residual", "relu", "concat", "fc",
                                               "softmax"]
    down = result.blocks[3]
    assert down.is_container and down.path == (3,) and down.key == "3" and down.label == "3"
    assert [[b.label for b in lane] for lane in down.lanes] == [["3.body[0]", "3.body[1]"],
                                                                 ["3.shortcut[0]", "3.shortcut[1]"]]
    assert down.lanes[1][0].key == "3.shortcut.0" and down.lanes[1][0].path == (3, 1, 0)
    assert down.merge_inputs == [Volume(17, 17, 16)] * 2 and down.output == Volume(17, 17, 16)
    contents = [b for lane in down.lanes for b in lane]
    assert down.params == sum(b.params for b in contents) > 0
    assert down.macs == sum(b.macs for b in contents)
    assert down.memory_bytes == sum(b.memory_bytes for b in contents) + 4 * 17 * 17 * 16
    cat = result.blocks[5]
    assert cat.merge_inputs == [Volume(17, 17, 4), Volume(17, 17, 4), Volume(17, 17, 16), Volume(17, 17, 16)]
    assert cat.output == Volume(17, 17, 40) and cat.lanes[3] == []
    assert result.block((5, 2, 0)).label == "5.branches[2][0]" and result.block((5, 2, 0)).key == "5.branches.2.0"
    assert result.block((5, 3, 0)) is None and result.block((5, 4)) is None and result.block((9,)) is None
    order = [b.path for b in result.walk()]
    assert order[:6] == [(0,), (1,), (2,), (2, 0, 0), (2, 0, 1), (2, 0, 2)] and order[-2:] == [(6,), (7,)]


def test_receptive_field_through_branches_is_the_largest_lane():
    a = net(32, concat([L("conv", size=5, pad=2)], [L("conv", size=3, pad=1), L("conv", size=3, pad=1),
                                                     L("conv", size=3, pad=1)]), *head())
    result = infer(a)
    cat = result.blocks[0]
    assert [lane[-1].receptive_field for lane in cat.lanes] == [(5, 1, False), (7, 1, False)]
    assert cat.receptive_field == (7, 1, False) and result.last_conv_receptive_field == (7, 1, False)


def test_receptive_fields_never_exceed_the_input():
    result = infer(net(32, L("fc", units=10), L("softmax")))
    assert result.blocks[0].receptive_field == (32, 1, True)
    assert str(result.blocks[0].receptive_field) == "whole input (32x32, jump 1)"
    deep = infer(net(8, *[L("conv", size=3, pad=1)] * 5, *head()))
    assert [b.receptive_field.size for b in deep.blocks[:5]] == [3, 5, 7, 8, 8]
    assert [b.receptive_field.whole for b in deep.blocks[:5]] == [False, False, False, True, True]


def test_messages_name_nested_blocks_by_path():
    a = net(8, residual([L("conv", filters=3, size=3, pad=1), L("conv", filters=3, pad=1, strdie=1)]), *head())
    [problem] = infer(a).errors
    assert problem.path == (0, 0, 1) and problem.param == "strdie"
    assert problem.message.startswith("Block 0.body[1] (Conv) has no hyperparameter 'strdie'")
    fixed = problem.fixes[0].apply(a)
    assert fixed.block((0, 0, 1)).params == {"filters": 3, "pad": 1, "stride": 1} and infer(fixed).valid
    assert a.block((0, 0, 1)).params == {"filters": 3, "pad": 1, "strdie": 1}  # apply edits a copy


def test_residual_mismatch_names_both_volumes_with_formulas_and_the_projection_fixes_it():
    a = net(33, L("conv", filters=16, size=3, pad=1), L("batchnorm"), L("relu"),
            residual([L("conv", filters=32, size=3, stride=2, pad=1), L("batchnorm"), L("relu"),
                      L("conv", filters=32, size=3, pad=1), L("batchnorm")]), L("relu"), *head())
    [problem] = infer(a).errors
    assert problem.path == (3,)
    assert problem.message == ("Block 3 (Residual): the body gives 17x17x32 but the shortcut gives 33x33x16; "
                               "they must be equal to be added.")
    assert problem.formula.splitlines() == ["body: 3.body[0] (33 - 3 + 2)/2 + 1 = 17, depth 32 -> 17x17x32",
                                            "shortcut: the identity -> 33x33x16"]
    projection = problem.fixes[0]
    assert projection.label == ("project the shortcut with a 1x1 conv: 32 filters, stride 2, then batch norm "
                                "(-> 17x17x32; the network is valid)")
    fixed = projection.apply(a)
    conv, norm = fixed.block((3,)).lanes[1]
    assert (conv.type, conv.params["filters"], conv.params["size"], conv.params["stride"]) == ("conv", 32, 1, 2)
    assert norm.type == "batchnorm" and conv.params.get("bias", False) is False
    agrees_with_the_engine(fixed)


def test_residual_fix_without_normalisation_and_a_depth_only_mismatch():
    a = net(8, residual([L("conv", filters=6, size=3, pad=1), L("relu"), L("conv", filters=6, size=3, pad=1)]),
            *head())
    [problem] = infer(a).errors
    labels = [f.label for f in problem.fixes]
    assert labels[0] == "project the shortcut with a 1x1 conv: 6 filters, stride 1 (-> 8x8x6; the network is valid)"
    assert "use filters 3 in block 0.body[2] (-> 8x8x3; the network is valid)" in labels
    for fix in problem.fixes:
        assert fix.valid and infer(fix.apply(a)).valid
    agrees_with_the_engine(problem.fixes[0].apply(a))


def test_concat_mismatch_names_every_branch_and_one_padding_fixes_it():
    a = net(16, concat([L("conv", filters=4, size=1)], [L("conv", filters=4, size=3)],
                       [L("maxpool", size=3, stride=1, pad=1)]), *head())
    [problem] = infer(a).errors
    assert problem.message == ("Block 0 (Concat): the branches' widths and heights must agree to be stacked along "
                               "depth: branch 0 gives 16x16x4, branch 1 gives 14x14x4, branch 2 gives 16x16x3.")
    assert problem.formula.splitlines()[1] == ("branches[1]: 0.branches[1][0] (16 - 3 + 0)/1 + 1 = 14, depth 4 "
                                               "-> 14x14x4")
    pad = problem.fixes[0]
    assert pad.label == "use pad 1 in block 0.branches[1][0] (-> 16x16x11; the network is valid)"
    assert pad.path == (0, 1, 0)
    agrees_with_the_engine(pad.apply(a))
    for fix in problem.fixes:
        assert infer(fix.apply(a)).valid == fix.valid


def test_concat_identity_branch_gets_a_projection():
    a = net(9, concat([L("conv", filters=4, size=3, stride=2, pad=1)], []), *head())
    [problem] = infer(a).errors
    projection = next(f for f in problem.fixes if f.replace_lane)
    assert projection.action == "project the branches[1] with a 1x1 conv: 4 filters, stride 2"
    assert projection.valid
    agrees_with_the_engine(projection.apply(a))


def test_a_fix_that_breaks_a_later_block_says_so_and_comes_last():
    """The issue's case: 'use stride 1' repaired its block and broke a pool two blocks later."""
    a = net(10, L("conv", filters=4, size=3, stride=2), L("relu"), L("maxpool", size=2), *head())
    [problem] = infer(a).errors
    fixes = [f for f in problem.fixes if "fit" not in f.params]  # fit fixes: test_a_crop_fit_is_offered
    assert [f.label for f in fixes] == ["use stride 1 (-> 8x8; the network is valid)",
                                        "use size 4 (-> 4x4; the network is valid)",
                                        "use size 2 (-> 5x5; block 2 then fails)"]
    assert [f.valid for f in fixes] == [True, True, False]
    assert problem.fixes[-1] is fixes[-1]
    assert "No single fix" not in problem.message
    broken = infer(problem.fixes[-1].apply(a))
    assert [p.path for p in broken.errors] == [(2,)]


def test_where_no_single_fix_makes_the_network_valid_the_problem_says_so():
    a = net(10, L("conv", filters=4, size=3, stride=2), L("maxpool", size=3), *head())
    [problem] = infer(a).errors
    assert all(f.outcome == "block 1 then fails" and f.valid is False for f in problem.fixes)
    assert problem.message.endswith("No single fix makes the whole network valid.")


def test_independent_errors_leave_each_other_standing_and_removal_shifts_the_paths():
    """Removing block 0 moves the misspelt conv from block 2 to block 1: that is not a new failure."""
    a = net(8, L("covn"), L("relu"), L("conv", size=3, pad=1, strdie=2), *head())
    unknown, volume = infer(a).errors
    assert (unknown.path, volume.path) == ((0,), (2,))
    remove = next(f for f in unknown.fixes if f.remove)
    assert remove.label == "remove block 0 (1 other error remains)"
    change = next(f for f in unknown.fixes if f.type)
    assert change.label == "change to conv (1 other error remains)"


def test_insertions_shift_the_paths_too():
    a = net(8, L("conv", filters=4), L("softmax"))
    [problem] = infer(a).errors
    assert problem.fixes[-1].label == "add fc 10 before softmax (the network is valid)"
    assert problem.fixes[-1].path == (1,)


@pytest.mark.parametrize("fix, expected", [
    (Fix("insert", (1, 0, 1), insert=(L("relu"),)), [["conv", "relu", "tanh"], []]),
    (Fix("insert at the end", (1, 1, 0), insert=(L("relu"),)), [["conv", "tanh"], ["relu"]]),
    (Fix("remove", (1, 0, 0), remove=True), [["tanh"], []]),
    (Fix("replace", (1,), replace_lane=(1, (L("conv", size=1), L("batchnorm")))),
     [["conv", "tanh"], ["conv", "batchnorm"]]),
    (Fix("retype", (1, 0, 1), type="sigmoid"), [["conv", "sigmoid"], []]),
])
def test_fixes_edit_the_tree_at_a_path(fix, expected):
    a = net(8, L("relu"), residual([L("conv", filters=3, pad=1), L("tanh")]), *head())
    fixed = fix.apply(a)
    assert [[b.type for b in lane] for lane in fixed.block((1,)).lanes] == expected
    assert [[b.type for b in lane] for lane in a.block((1,)).lanes] == [["conv", "tanh"], []]


def test_a_softmax_inside_a_container_is_moved_out_by_its_fix():
    a = net(8, L("conv", filters=2), residual([L("softmax")]), L("fc"))
    result = infer(a)
    inside = next(p for p in result.errors if p.path == (1, 0, 0))
    assert inside.message.startswith("Block 1.body[0] is a softmax inside a container")
    move = next(f for f in inside.fixes if f.move_to_end)
    fixed = move.apply(a)
    assert [b.type for b in fixed.layers] == ["conv", "residual", "fc", "softmax"] and infer(fixed).valid
    assert move.valid


def test_retyping_a_leaf_into_a_container_gives_it_lanes_and_back():
    a = net(8, LayerSpec("resdiual", {}, [[L("relu")], []]), *head())
    [problem] = infer(a).errors
    assert "did you mean residual?" in problem.message
    fixed = problem.fixes[0].apply(a)
    assert fixed.layers[0].type == "residual" and infer(fixed).valid
    leaf = Fix("to relu", (0,), type="relu").apply(fixed)
    assert leaf.layers[0].lanes is None and infer(leaf).valid
    back = Fix("to concat", (0,), type="concat").apply(leaf)
    assert back.layers[0].lanes == [[], []] and infer(back).valid


def test_bad_containers_are_reported_not_raised():
    for bad in (LayerSpec("residual", {}, [[], [], []]), LayerSpec("concat", {}, []), LayerSpec("residual", {}, 5),
                LayerSpec("residual", {}, [5, []]), LayerSpec("residual", {"x": 1}, [[], []]),
                LayerSpec("concat", None, [[L("relu")]]), LayerSpec("concat", {}, [[5, L("softmax")]])):
        result = infer(net(8, bad, *head()))
        assert not result.valid
        [p] = [p for p in result.errors if p.path and p.path[0] == 0][:1]
        assert p.message.startswith("Block 0") and p.message.endswith(".")
        for problem in result.errors:
            for fix in problem.fixes:
                infer(fix.apply(net(8, bad, *head())))


def test_empty_lanes_warn():
    result = infer(net(8, residual([]), *head()))
    assert result.valid and "all its lanes are empty" in result.warnings[0].message


def test_nesting_is_bounded_and_a_depth_bomb_is_refused_not_raised():
    block = L("relu")
    for _ in range(5_000):  # far past Python's recursion limit
        block = residual([block])
    result = infer(net(8, block, *head()))
    [problem] = result.errors
    assert problem.path == (0,) + (0, 0) * MAX_NESTING
    assert problem.message.endswith(f"containers nest at most {MAX_NESTING} deep.")
    ok = L("relu")
    for _ in range(MAX_NESTING):
        ok = residual([ok])
    assert infer(net(8, ok, *head())).valid


def test_declaration_warnings_and_refusals_become_block_problems(monkeypatch):
    conv = LAYER_TYPES["conv"]
    monkeypatch.setattr(conv, "warnings", lambda hp, vol: [f"rows {vol.height - 1} is never seen"])
    result = infer(net(8, residual([L("conv", filters=3, size=3, pad=1)]), *head()))
    assert [(p.path, p.message) for p in result.warnings] == [
        ((0, 0, 0), "Block 0.body[0] (Conv): rows 7 is never seen.")]

    def refuse(hp, vol):  # the interface of engine's volume_problem (conv groups that do not divide the depth)
        return (f"the input depth {vol.depth} is not divisible by groups 2", {"groups": 1}) if vol.depth == 3 else None

    monkeypatch.setattr(conv, "volume_problem", refuse, raising=False)
    a = net(8, L("conv", filters=2), L("conv", filters=4), *head())
    [problem] = infer(a).errors
    assert problem.path == (0,) and problem.param == "groups"
    assert problem.message.startswith("Block 0 (Conv): the input depth 3 is not divisible by groups 2; use groups 1.")
    assert infer(a).blocks[0].output == Volume(6, 6, 2) and infer(a).blocks[1].params == 4 * 2 * 9 + 4


def test_a_tree_runs_in_the_engine_with_the_inferred_shapes():
    a = small_resnet()
    network = Network(a)
    out = network.run(np.zeros((2, 3, 33, 33), np.float32), keep="all").outputs
    shapes = {network.plan.nodes[i].key: x.shape for i, x in out.items()}
    inferred = {b.key: (2, b.output.depth, b.output.height, b.output.width) for b in infer(a).walk()}
    assert shapes == {k: v for k, v in inferred.items() if k != "7"}  # all but the softmax (run stops at the logits)


@pytest.fixture
def crop_fit(monkeypatch):
    """conv's "fit": "crop" (round a non-whole volume down, as PyTorch): the declaration's own when it has
    one, else a stand-in with the same interface (Hyper "fit" with choices, output_volume floors)."""
    conv = LAYER_TYPES["conv"]
    if any(h.name == "fit" for h in conv.hypers):
        return
    exact = conv.output_volume

    def output_volume(hp, vol):
        if hp["fit"] != "crop":
            return exact(hp, vol)
        span = hp["dilation"] * (hp["size"] - 1) + 1
        side = [(n - span + 2 * hp["pad"]) // hp["stride"] + 1 for n in (vol.width, vol.height)]
        return Volume(side[0], side[1], hp["filters"])

    monkeypatch.setattr(conv, "hypers", conv.hypers + (Hyper("fit", str, "exact", 0, 0, "", ("exact", "crop")),))
    monkeypatch.setattr(conv, "output_volume", output_volume)


def test_the_projection_uses_a_crop_fit_where_only_rounding_down_matches(crop_fit):
    """The issue's ResNet downsampling block on 32x32: the body crops 16.5 to 16, so must the shortcut."""
    a = net(32, L("conv", filters=16, size=3, pad=1), L("batchnorm"), L("relu"),
            residual([L("conv", filters=32, size=3, stride=2, pad=1, fit="crop"), L("batchnorm"), L("relu"),
                      L("conv", filters=32, size=3, pad=1), L("batchnorm")]), L("relu"), *head())
    [problem] = infer(a).errors
    assert problem.formula.splitlines() == [
        "body: 3.body[0] (32 - 3 + 2)/2 + 1 = 16.5 -> 16 (fit crop), depth 32 -> 16x16x32",
        "shortcut: the identity -> 32x32x16"]
    projection = problem.fixes[0]
    assert projection.label == ("project the shortcut with a 1x1 conv: 32 filters, stride 2, fit crop: (32 - 1)/2 + 1 "
                                "= 16.5 rounded down, then batch norm (-> 16x16x32; the network is valid)")
    conv = projection.apply(a).block((3, 1, 0))
    assert conv.params["fit"] == "crop" and conv.params["stride"] == 2


def test_a_crop_fit_is_offered_for_a_volume_that_is_not_whole(crop_fit):
    a = net(10, L("conv", filters=4, size=3, stride=2), L("relu"), L("maxpool", size=2), *head())
    [problem] = infer(a).errors
    crop = next(f for f in problem.fixes if f.params == {"fit": "crop"})
    assert crop.label == "use fit crop (-> 4x4; the network is valid)"
    assert "or use fit crop (-> 4x4)." in problem.message
    assert infer(crop.apply(a)).blocks[0].output == Volume(4, 4, 4)
