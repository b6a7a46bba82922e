"""How one number is made: the explanation's numbers are the engine's, recomputed here from the
engine's kept outputs, and its regions are exactly where the neuron's gradient reaches."""
import numpy as np
import pytest

from convviz.engine import CONTAINER_TYPES, LAYER_TYPES, Network
from convviz.interpret.neuron import describe, explain_neuron
from convviz.model import Architecture, LayerSpec as L

from .nets import branching_net, sequential_net


def zoo_net() -> Architecture:
    """Every layer type and container, with groups, dilation, fit crop and fit pad (ceil) windows."""
    return Architecture((12, 12, 4), [
        L("conv", {"filters": 6, "size": 3, "dilation": 2, "pad": 2, "groups": 2}), L("batchnorm"), L("leakyrelu"),
        L("lrn", {"size": 3}),
        L("maxpool", {"size": 3, "stride": 2, "fit": "pad"}),
        L("avgpool", {"size": 3, "stride": 2, "pad": 1, "fit": "pad"}),
        L("concat", {}, [[L("conv", {"filters": 3, "size": 3, "pad": 1}), L("tanh")], [L("sigmoid")]]),
        L("conv", {"filters": 5, "size": 3, "stride": 2, "pad": 1, "fit": "crop", "bias": False}),
        L("residual", {}, [[L("conv", {"filters": 5, "size": 1}), L("dropout"), L("relu")], []]),
        L("globalavgpool"), L("fc", {"units": 4}), L("softmax")], classes=4)


def _net(arch, seed=3) -> Network:
    net = Network(arch, seed=seed)
    rng = np.random.default_rng(seed)
    for k, a in net.buffers.items():  # running statistics that are not the identity
        a[...] = rng.uniform(0.5, 1.5, a.shape) if k.endswith("var") else rng.normal(size=a.shape)
    return net


def _positions(v):
    return {(v.depth - 1, 0, 0), (0, v.height - 1, v.width - 1), (v.depth // 2, v.height // 2, v.width // 3)}


def _window(a, rows, cols, fill):
    """a (C, H, W) padded with fill by slicing (not the explanation's way), at the ranges rows and cols."""
    p = max(0, -rows.start, -cols.start, rows[-1] - a.shape[1] + 1, cols[-1] - a.shape[2] + 1)
    padded = np.pad(a.astype(np.float64), ((0, 0), (p, p), (p, p)), constant_values=fill)
    return padded[:, rows.start + p:rows.stop + p:rows.step, cols.start + p:cols.stop + p:cols.step]


def test_every_declared_type_is_explained_by_these_nets():
    types = {b.type for arch in (zoo_net(), branching_net()) for b in _blocks(arch.layers)}
    assert types == set(LAYER_TYPES) | set(CONTAINER_TYPES)


def _blocks(layers):
    for b in layers:
        yield b
        for lane in b.lanes or []:
            yield from _blocks(lane)


@pytest.mark.parametrize("make", [zoo_net, branching_net, sequential_net], ids=["zoo", "branching", "sequential"])
def test_the_numbers_are_the_engines(make):
    net = _net(make())
    v0 = net.nodes[0].volume
    x = np.random.default_rng(1).normal(size=(v0.depth, v0.height, v0.width)).astype(np.float32)
    out = net.run(x[None], stop=len(net.nodes), keep="all").outputs
    out[0] = x[None]
    for node in net.nodes[1:]:
        for k, i, j in _positions(node.volume):
            e = explain_neuron(net, x, node.key, k, i, j)
            r = e.recipe
            engine = float(out[node.id][0, k, i, j])
            assert e.value == engine
            np.testing.assert_allclose(r.result, engine, rtol=1e-5, atol=1e-6, err_msg=f"{node.key} {r.op}")
            source = out[e.sources[0]][0]
            if r.op == "dot" and node.op.has_filters:
                w = net.params[f"{node.key}.weight"]
                np.testing.assert_array_equal(r.weights, w[k])
                padded = _window(source, r.rows, r.cols, 0.0)
                np.testing.assert_array_equal(r.window, padded[r.depths.start:r.depths.stop])
                assert len(r.depths) == w.shape[1] and r.window.shape == w[k].shape
                assert (r.bias is None) == (f"{node.key}.bias" not in net.params)
            elif r.op == "dot":  # fc: the whole input volume, unit k's weights in depth-height-width order
                np.testing.assert_array_equal(r.window, source)
                np.testing.assert_array_equal(r.weights.ravel(), net.params[f"{node.key}.weight"][k])
            elif r.op in ("max", "mean") and len(r.rows) < source.shape[1]:
                fill = -np.inf if r.op == "max" else 0.0
                np.testing.assert_array_equal(r.window, _window(source, r.rows, r.cols, fill)[k:k + 1])
            if r.op == "max":
                assert r.window[r.chosen] == engine
            if r.op == "dot":
                np.testing.assert_allclose((r.window * r.weights).sum() + (r.bias or 0), engine, rtol=1e-5, atol=1e-6)
            assert describe(e, net)[-1]


def _linear_net() -> Network:
    """No activations, no maxima: a neuron's gradient reaches exactly what it depends on."""
    return Network(Architecture((25, 25, 2), [
        L("conv", {"filters": 3, "size": 3, "pad": 1}),
        L("conv", {"filters": 3, "size": 3, "stride": 2, "dilation": 2}),
        L("avgpool", {"size": 3, "stride": 2, "pad": 1}),
        L("residual", {}, [[L("conv", {"filters": 3, "size": 3, "pad": 1}), L("conv", {"filters": 3, "size": 1})], []]),
        L("concat", {}, [[L("conv", {"filters": 2, "size": 3, "pad": 1})], []]),
        L("fc", {"units": 3}), L("softmax")], classes=3), seed=4)


def test_regions_are_where_the_gradient_reaches():
    net = _linear_net()
    v0 = net.nodes[0].volume
    x = np.random.default_rng(2).normal(size=(v0.depth, v0.height, v0.width)).astype(np.float32)
    p = net.run(x[None], input_grad=True)
    for node in net.nodes[1:-2]:
        for k, i, j in _positions(node.volume):
            e = explain_neuron(net, x, node.key, k, i, j)
            seed = np.zeros((1,) + tuple(reversed(node.volume)), np.float32)
            seed[0, k, i, j] = 1
            g = net.backward(p, {node.id: seed}, input_grad=True, keep="all")
            grads = {m: a for m, a in {**g.outputs, 0: g.input}.items() if a.any()}
            assert set(e.regions) == set(grads) | {node.id}, node.key
            for m, box in e.regions.items():
                if m == node.id:
                    continue
                rows, cols = np.nonzero(np.abs(grads[m][0]).sum(axis=0))
                assert (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1) == box, (node.key, m)


def test_after_a_merge_it_says_what_each_lane_sees():
    net = _linear_net()
    residual = net.plan.node("3")
    e = explain_neuron(net, np.zeros((2, 25, 25), np.float32), "3", 0, 2, 2)
    lanes = {lane.lane: lane.box for lane in e.lanes if lane.merge == residual.id}
    # the residual's input has a receptive field of 11x11 with jump 4; the body's 3x3 conv adds a position
    # (4 pixels) on each side, its 1x1 conv nothing, the shortcut (the identity) nothing
    assert lanes["shortcut"] == (5, 5, 16, 16) and lanes["body"] == (1, 1, 20, 20) == e.regions[0]
    assert any(line.startswith("Through the merge of block 3 (Residual): body sees") for line in describe(e, net))


def test_bad_neurons_are_refused_with_a_sentence():
    net = _net(sequential_net())
    x = np.zeros((3, 16, 16), np.float32)
    with pytest.raises(ValueError, match="row 0 to 15"):
        explain_neuron(net, x, "0", 0, 16, 0)
    with pytest.raises(ValueError, match="no block '9'"):
        explain_neuron(net, x, "9", 0, 0, 0)
    with pytest.raises(ValueError, match="input image is not computed"):
        explain_neuron(net, x, "input", 0, 0, 0)
