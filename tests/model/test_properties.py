"""Hypothesis properties: whatever stack inference accepts, the engine's forward on zeros gives exactly
the inferred shapes and its initialised arrays hold exactly the inferred parameter count; whatever it
rejects gets explained (a sentence per problem, the right block), never an exception; the engine builds
a stack or refuses it with a ValueError, never another exception, and builds every stack inference
accepts; and every volume fix it offers does remove that block's volume error."""
import numpy as np
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from convviz.engine import LAYER_TYPES, Network, Volume
from convviz.model import Architecture, LayerSpec, infer

SMALL = {"filters": st.integers(1, 4), "size": st.integers(1, 5), "stride": st.integers(1, 3),
         "pad": st.integers(0, 2), "dilation": st.integers(1, 2), "units": st.integers(1, 12),
         "rate": st.floats(0, 0.9), "slope": st.floats(0, 1), "momentum": st.floats(0, 1), "groups": st.integers(1, 2),
         "alpha": st.floats(0, 1e-2), "beta": st.floats(0, 1), "k": st.floats(0.5, 2)}
JUNK = st.one_of(st.integers(-3, 0), st.integers(10 ** 5, 10 ** 30), st.floats(allow_nan=True, allow_infinity=True),
                 st.text(max_size=2), st.none(), st.booleans(), st.lists(st.integers(), max_size=1))


@st.composite
def blocks(draw, junk: bool):
    kind = draw(st.sampled_from(sorted(set(LAYER_TYPES) - {"softmax"})))
    params = {}
    for h in LAYER_TYPES[kind].hypers:
        if draw(st.booleans()):
            params[h.name] = draw(st.booleans() if h.kind is bool else st.sampled_from(h.choices) if h.kind is str
                                  else SMALL[h.name])
    if junk and draw(st.integers(0, 9)) == 0:
        params[draw(st.sampled_from([h.name for h in LAYER_TYPES[kind].hypers] + ["bogus"]))] = draw(JUNK)
    if junk and draw(st.integers(0, 19)) == 0:
        kind = draw(st.sampled_from(["softmax", "conv2d", "", "FC"]))
    if junk and draw(st.integers(0, 29)) == 0:
        params = draw(st.one_of(st.none(), st.lists(st.integers(), max_size=2)))
    return LayerSpec(kind, params)


@st.composite
def architectures(draw, junk: bool = False):
    side = st.integers(1, 12)
    body = draw(st.lists(blocks(junk), max_size=6))
    classes = draw(st.integers(2, 5))
    tail = draw(st.sampled_from(["fc+softmax", "softmax", "none"]))
    layers = body + {"fc+softmax": [LayerSpec("fc", {"units": classes}), LayerSpec("softmax")],
                     "softmax": [LayerSpec("softmax")], "none": []}[tail]
    if junk and draw(st.integers(0, 19)) == 0:
        side, classes = JUNK, draw(JUNK)
    return Architecture(Volume(draw(side), draw(side), draw(st.integers(1, 4))), layers, classes)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(architectures())
def test_accepted_stacks_run_in_the_engine_with_the_inferred_shapes(arch):
    result = infer(arch)
    if not result.valid:
        return
    net = Network(arch)
    assert net.parameter_count == result.total_params
    x = np.zeros((2, arch.input.depth, arch.input.height, arch.input.width), np.float32)
    outs, grads = net.trace(x, np.zeros(2, dtype=np.int64))
    assert len(outs) == len(result.blocks)
    for out, grad, block in zip(outs.values(), grads.values(), result.blocks):
        v = block.output
        assert out.shape == (2, v.depth, v.height, v.width), (block.index, block.type)
        assert grad.shape == out.shape


@settings(max_examples=150, deadline=None)
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


@settings(max_examples=300, deadline=None)
@given(architectures(junk=True))
def test_rejected_stacks_are_explained(arch):
    result = infer(arch)
    assert result.valid == (not result.errors)
    assert len(result.blocks) == len(arch.layers)
    for p in result.errors + result.warnings:
        assert p.message.endswith(".") and len(p.message) > 20
        if p.index is None:
            assert p.message.startswith("The ")
        else:
            assert p.message.startswith(f"Block {p.index} ")
            assert p in result.blocks[p.index].errors + result.blocks[p.index].warnings
        for fix in p.fixes:
            infer(fix.apply(arch))  # never raises either
        if p.formula is not None:
            block = p.index
            for fix in p.fixes:
                if fix.remove:
                    continue
                fixed = infer(fix.apply(arch)).blocks[block]
                assert fixed.output is not None, fix.label
                assert fix.label.endswith(f"(-> {fixed.output.width}x{fixed.output.height})")
    for b in result.blocks:
        if b.output is None:
            assert b.params == b.macs == b.memory_bytes == 0 and b.receptive_field is None


@settings(max_examples=100, deadline=None)
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
