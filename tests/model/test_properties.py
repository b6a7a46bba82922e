"""Hypothesis properties on random trees (stacks with nested residuals and concats): whatever inference
accepts, the engine builds and runs with exactly the inferred volumes (node by node, by key) and
parameter counts; whatever it rejects gets explained (a sentence per problem, naming its block by path)
and summarised, never an exception; the engine builds a tree or refuses it with a ValueError, never
another exception; every judged fix's verdict (valid, how many errors remain, which block then fails)
is what inferring the fixed network says; and taking the first fix of the first error again and again
reaches a valid network."""
import json

import numpy as np
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from convviz.engine import CONTAINER_TYPES, LAYER_TYPES, Network, Volume
from convviz.model import Architecture, LayerSpec, infer
from convviz.model.summary import summary_dict, summary_table

SMALL = {"filters": st.integers(1, 4), "size": st.integers(1, 5), "stride": st.integers(1, 3),
         "pad": st.integers(0, 2), "dilation": st.integers(1, 2), "units": st.integers(1, 12),
         "rate": st.floats(0, 0.9), "slope": st.floats(0, 1), "momentum": st.floats(0, 1),
         "groups": st.integers(1, 2), "bias": st.booleans(), "fit": st.sampled_from(["exact", "crop", "pad"]),
         "alpha": st.floats(0, 1), "beta": st.floats(0, 1), "k": st.floats(0, 2)}
JUNK = st.one_of(st.integers(-3, 0), st.integers(10 ** 5, 10 ** 30), st.floats(allow_nan=True, allow_infinity=True),
                 st.text(max_size=2), st.none(), st.booleans(), st.lists(st.integers(), max_size=1))
LEAVES = sorted(set(LAYER_TYPES) - {"softmax"})


def hyper_value(h):
    """A small value for a declared hyperparameter (the layers helper's new ones included)."""
    if h.name in SMALL:
        return SMALL[h.name]
    if h.kind is str:
        return st.sampled_from(h.choices)
    if h.kind is bool:
        return st.booleans()
    low = h.minimum
    if h.kind is int:
        return st.integers(int(low), int(min(h.maximum, low + 3)))
    return st.floats(low, min(h.maximum, low + 1))


@st.composite
def leaf(draw, junk: bool):
    kind = draw(st.sampled_from(LEAVES))
    params = {}
    for h in LAYER_TYPES[kind].hypers:
        if draw(st.booleans()):
            params[h.name] = draw(hyper_value(h))
    if junk and draw(st.integers(0, 9)) == 0:
        params[draw(st.sampled_from([h.name for h in LAYER_TYPES[kind].hypers] + ["bogus"]))] = draw(JUNK)
    if junk and draw(st.integers(0, 19)) == 0:
        kind = draw(st.sampled_from(["softmax", "conv2d", "", "FC", "residul"]))
    if junk and draw(st.integers(0, 29)) == 0:
        params = draw(st.one_of(st.none(), st.lists(st.integers(), max_size=2)))
    return LayerSpec(kind, params)


def lane(junk: bool, depth: int):
    return st.lists(block(junk, depth), max_size=3)


@st.composite
def block(draw, junk: bool, depth: int):
    if depth >= 2 or draw(st.integers(0, 3)) > 0:
        return draw(leaf(junk))
    kind = draw(st.sampled_from(sorted(CONTAINER_TYPES)))
    t = CONTAINER_TYPES[kind]
    count = len(t.lane_fields) or draw(st.integers(1, 3))
    if junk and draw(st.integers(0, 19)) == 0:
        count = draw(st.integers(0, 4))
    return LayerSpec(kind, {}, [draw(lane(junk, depth + 1)) for _ in range(count)])


@st.composite
def architectures(draw, junk: bool = False):
    side = st.integers(1, 12)
    body = draw(st.lists(block(junk, 0), max_size=5))
    classes = draw(st.integers(2, 5))
    tail = draw(st.sampled_from(["fc+softmax", "softmax", "none"]))
    layers = body + {"fc+softmax": [LayerSpec("fc", {"units": classes}), LayerSpec("softmax")],
                     "softmax": [LayerSpec("softmax")], "none": []}[tail]
    if junk and draw(st.integers(0, 19)) == 0:
        side, classes = JUNK, draw(JUNK)
    return Architecture(Volume(draw(side), draw(side), draw(st.integers(1, 4))), layers, classes)


def node_params(network, key):
    return sum(a.size for k, a in network.params.items() if k.rpartition(".")[0] == key)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(architectures())
def test_accepted_trees_run_in_the_engine_with_the_inferred_volumes_and_parameters(arch):
    result = infer(arch)
    if not result.valid:
        return
    network = Network(arch)
    assert network.parameter_count == result.total_params
    nodes = {n.key: n for n in network.plan.nodes}
    infos = {b.key: b for b in result.walk()}
    assert set(infos) == set(nodes) - {"input"}
    for key, b in infos.items():
        assert nodes[key].path == b.path and nodes[key].volume == b.output, b.label
        if not b.is_container:
            assert node_params(network, key) == b.params, b.label
    x = np.zeros((2, arch.input.depth, arch.input.height, arch.input.width), np.float32)
    outputs = network.run(x, keep="all").outputs
    for i, out in outputs.items():
        v = infos[network.plan.nodes[i].key].output
        assert out.shape == (2, v.depth, v.height, v.width), network.plan.nodes[i].key


@settings(max_examples=100, deadline=None)
@given(architectures(junk=True))
def test_the_engine_builds_what_inference_accepts_and_refuses_the_rest_with_a_value_error(arch):
    """Network takes unchecked architectures (the Python face): never a TypeError, ZeroDivisionError or
    IndexError from deep inside."""
    assume(all(not isinstance(n, int) or n <= 4096 for n in arch.input))  # a huge input may not fit in memory
    valid = infer(arch).valid
    try:
        Network(arch)
    except ValueError:
        assert not valid


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(architectures(junk=True))
def test_rejected_trees_are_explained_by_path(arch):
    result = infer(arch)
    assert result.valid == (not result.errors)
    assert len(result.blocks) == len(arch.layers)
    last_line = summary_table(arch, result).splitlines()[-1]  # the summary never raises either
    assert last_line == "valid" if result.valid else last_line.startswith(f"invalid: {len(result.errors)} error")
    json.dumps(summary_dict(arch, result))
    for p in result.errors + result.warnings:
        assert p.message.endswith(".") and len(p.message) > 20
        if p.path is None:
            assert p.message.startswith("The ")
            continue
        b = result.block(p.path)
        assert b is not None and p.message.startswith(f"Block {b.label} ")
        assert p in b.errors + b.warnings
        for fix in p.fixes:
            infer(fix.apply(arch))  # never raises either
    for p in result.errors:
        for fix in p.fixes:
            fixed = infer(fix.apply(arch))
            assert fix.valid == fixed.valid, fix.label
            if fix.outcome.endswith(" remain") or fix.outcome.endswith(" remains"):
                assert fix.outcome.split()[0] == str(len(fixed.errors)), fix.label
            elif fix.outcome.startswith("block "):
                failing = fix.outcome[len("block "):-len(" then fails")]
                assert any(b.label == failing and b.errors for b in fixed.walk()), fix.label
            if p.formula is not None and fix.gives and not fix.remove and "\n" not in p.formula:
                fixed = infer(fix.apply(arch)).block(p.path)  # a volume fix: the block then gives what it says
                assert fixed.output is not None and str(fixed.output).startswith(fix.gives), fix.label
    for b in result.walk():
        if b.output is None and not b.is_container:
            assert b.params == b.macs == b.memory_bytes == 0 and b.receptive_field is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(architectures(junk=True))
@example(Architecture(Volume(32, 32, 1), [LayerSpec("avgpool", {"size": 3, "pad": 1}), LayerSpec("fc", {"units": 2}),
                                          LayerSpec("softmax", {})]))  # once offered pad 2, past half the window
def test_fixing_errors_one_at_a_time_terminates(arch):
    """Taking the first fix of the first error repeatedly reaches a valid network."""
    for _ in range(40):
        result = infer(arch)
        if result.valid:
            break
        arch = result.errors[0].fixes[0].apply(arch)
    assert infer(arch).valid
