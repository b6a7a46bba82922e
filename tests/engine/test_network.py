"""Network: gradients vs finite differences, weights files (round trip and clear errors), optimisers."""
import pickle

import numpy as np
import pytest

from convviz.engine import LAYER_TYPES, Hyper, Network, Volume, VolumeError, WeightsError, formula, make_optimizer, spatial_out
from convviz.model import Architecture, LayerSpec

from .gradcheck import backward, forward
from .test_gradients import assert_close, numeric_gradient


def arch(layers, input=(7, 7, 2)):
    return Architecture(Volume(*input), [LayerSpec(t, dict(p)) for t, p in layers])


TINY = [("conv", {"filters": 3, "size": 3, "stride": 2, "pad": 1}), ("relu", {}),
        ("maxpool", {"size": 2, "stride": 1}), ("batchnorm", {}), ("conv", {"filters": 2, "size": 2, "dilation": 1}),
        ("tanh", {}), ("fc", {"units": 4}), ("batchnorm", {}), ("leakyrelu", {"slope": 0.2}),
        ("fc", {"units": 3}), ("softmax", {})]


def test_loss_and_gradients_match_finite_differences():
    net = Network(arch(TINY), seed=1, dtype=np.float64)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 2, 7, 7)), np.array([0, 2, 1, 2, 0])
    loss, grads = net.loss_and_gradients(x, y)
    assert set(grads) == set(net.params)
    assert loss == pytest.approx(net.loss_and_gradients(x, y)[0])
    for key, p in net.params.items():
        assert grads[key].dtype == np.float64
        assert_close(grads[key], numeric_gradient(lambda: net.loss_and_gradients(x, y)[0], p), key)


def test_float32_throughout():
    net = Network(arch(TINY), seed=0)
    x = np.random.default_rng(0).standard_normal((4, 2, 7, 7)).astype(np.float32)
    outs, douts = net.trace(x, np.array([0, 1, 2, 0]))
    assert all(o.dtype == np.float32 for o in outs.values()) and all(d.dtype == np.float32 for d in douts.values())
    assert list(outs) == list(douts) == [n.key for n in net.nodes[1:]]
    assert [o.shape[1:] for o in outs.values()] == [(n.volume.depth, n.volume.height, n.volume.width)
                                                    for n in net.nodes[1:]]
    _, grads = net.loss_and_gradients(x, np.array([0, 1, 2, 0]))
    assert all(g.dtype == np.float32 for g in grads.values())
    np.testing.assert_allclose(outs["10"].reshape(4, 3).sum(axis=1), 1, rtol=1e-5)


def test_forward_rejects_the_wrong_input_shape():
    net = Network(arch(TINY))
    with pytest.raises(ValueError, match=r"input must be \(N, 2, 7, 7\)"):
        net.forward(np.zeros((1, 3, 7, 7), np.float32))


def test_network_needs_a_final_softmax_and_known_types():
    with pytest.raises(ValueError, match="softmax"):
        Network(arch([("fc", {"units": 3})]))
    with pytest.raises(ValueError, match="unknown layer type 'bogus'"):
        Network(arch([("bogus", {}), ("softmax", {})]))


def test_public_declarations():
    assert {"conv", "maxpool", "avgpool", "globalavgpool", "relu", "leakyrelu", "tanh", "sigmoid", "dropout", "batchnorm",
            "lrn", "fc", "softmax"} == set(LAYER_TYPES)
    assert all(isinstance(h, Hyper) for t in LAYER_TYPES.values() for h in t.hypers)
    assert spatial_out("width", 32, 5, 1, 2) == 32
    assert formula(10, 3, 2, 0) == "(10 - 3 + 0)/2 + 1"
    with pytest.raises(VolumeError, match=r"\(10 - 3 \+ 0\)/2 \+ 1 = 4.5"):
        spatial_out("width", 10, 3, 2, 0)


def test_parameter_count_is_the_declared_shapes():
    net = Network(arch(TINY))
    # conv 3*2*9+3, bn 3+3, conv 2*3*4+2, fc 4*2*2*2+4, bn 4+4, fc 3*4+3
    assert net.parameter_count == 57 + 6 + 26 + 36 + 8 + 15


def test_weights_round_trip(tmp_path):
    a, b = Network(arch(TINY), seed=0), Network(arch(TINY), seed=5)
    x = np.random.default_rng(0).standard_normal((4, 2, 7, 7)).astype(np.float32)
    a.loss_and_gradients(x, np.array([0, 1, 2, 0]))  # moves the batchnorm running statistics
    path = tmp_path / "w.npz"
    a.save_weights(path)
    assert sorted(np.load(path).files) == sorted(a.state())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]  # no temporary file left
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777  # not a temporary file's 0o600
    plain.unlink()
    b.load_weights(path)
    for k, v in a.state().items():
        np.testing.assert_array_equal(b.state()[k], v)
    np.testing.assert_array_equal(a.forward(x), b.forward(x))


@pytest.fixture
def saved(tmp_path):
    net = Network(arch(TINY), seed=0)
    return net, dict(net.state()), tmp_path


def assert_unchanged(net, before):
    for k, v in before.items():
        np.testing.assert_array_equal(net.state()[k], v)


def test_load_reports_a_missing_key(saved):
    net, state, tmp = saved
    other = Network(arch(TINY), seed=3).state()
    del other["4.weight"]
    np.savez(tmp / "w.npz", **other)
    before = {k: v.copy() for k, v in state.items()}
    with pytest.raises(WeightsError, match=r"missing 4\.weight"):
        net.load_weights(tmp / "w.npz")
    assert_unchanged(net, before)


def test_load_reports_a_wrong_shape(saved):
    net, state, tmp = saved
    other = dict(Network(arch(TINY), seed=3).state())
    other["0.weight"] = np.zeros((4, 2, 3, 3), np.float32)
    np.savez(tmp / "w.npz", **other)
    with pytest.raises(WeightsError, match=r"'0\.weight' claims shape \(4, 2, 3, 3\) .*the network needs \(3, 2, 3, 3\)"):
        net.load_weights(tmp / "w.npz")


def test_load_reports_unexpected_keys_and_non_numeric_arrays(saved):
    net, state, tmp = saved
    np.savez(tmp / "w.npz", **state, **{"99.weight": np.zeros(2)})
    with pytest.raises(WeightsError, match=r"unexpected 99\.weight"):
        net.load_weights(tmp / "w.npz")
    np.savez(tmp / "s.npz", **{**state, "0.bias": np.array(["a", "b", "c"])})
    with pytest.raises(WeightsError, match=r"0\.bias.*not numbers"):
        net.load_weights(tmp / "s.npz")


def test_load_accepts_pytorch_num_batches_tracked(saved):
    net, state, tmp = saved
    np.savez(tmp / "w.npz", **state, **{"3.num_batches_tracked": np.array(4)})
    net.load_weights(tmp / "w.npz")


@pytest.mark.parametrize("content", [b"not a weights file", b"PK\x03\x04broken zip", "npy", "pickle", "missing"])
def test_load_rejects_files_that_are_not_npz(saved, content):
    net, state, tmp = saved
    path = tmp / "bad.npz"
    if content == "npy":
        np.save(tmp / "bad.npy", np.zeros(3))
        path = tmp / "bad.npy"
    elif content == "pickle":
        path.write_bytes(pickle.dumps({"0.weight": np.zeros(3)}))
    elif content != "missing":
        path.write_bytes(content)
    with pytest.raises(WeightsError, match=r"cannot read weights file .*bad\.np"):
        net.load_weights(path)


def test_initialisation_is_pytorchs_default():
    """Weights and biases uniform in +-1/sqrt(fan_in), as the mirrored torch.nn modules start; batchnorm 1 and 0."""
    net = Network(arch([("conv", {"filters": 64, "size": 3, "pad": 1}), ("batchnorm", {}), ("relu", {}),
                        ("fc", {"units": 10}), ("softmax", {})], input=(8, 8, 16)), seed=0)
    for key, fan_in in (("0.weight", 16 * 9), ("0.bias", 16 * 9), ("3.weight", 64 * 64), ("3.bias", 64 * 64)):
        a = net.params[key]
        assert a.dtype == np.float32
        assert np.abs(a).max() <= 1 / np.sqrt(fan_in)
        assert np.std(a) == pytest.approx(1 / np.sqrt(3 * fan_in), rel=0.1 if a.size > 100 else 0.5)
    assert np.all(net.params["1.weight"] == 1) and np.all(net.params["1.bias"] == 0)
    assert np.all(net.buffers["1.running_var"] == 1) and np.all(net.buffers["1.running_mean"] == 0)


# Optimisers: the update rules written out independently (PyTorch's documented algorithms).

def run_optimizer(name, steps=3, **hyper):
    params = {"0.weight": np.array([[1.0, -2.0], [0.5, 3.0]]), "0.bias": np.array([0.5, -0.5])}
    grads = [{k: np.full_like(v, 0.1 * (i + 1)) + v * 0.01 for k, v in params.items()} for i in range(steps)]
    opt = make_optimizer(name, params, **hyper)
    start = {k: v.copy() for k, v in params.items()}
    for g in grads:
        opt.step(g)
    return start, grads, params, opt


def sgd_expected(p, grads, key, lr, momentum, wd, nesterov):
    buf = None
    for g in grads:
        g = g[key] + (wd * p if key.endswith("weight") else 0)
        buf = g.copy() if buf is None else momentum * buf + g
        p = p - lr * (g + momentum * buf if nesterov else buf)
    return p


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd(nesterov):
    start, grads, params, _ = run_optimizer("sgd", lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=nesterov)
    for k in params:
        np.testing.assert_allclose(params[k], sgd_expected(start[k], grads, k, 0.1, 0.9, 0.01, nesterov))


def test_adam():
    start, grads, params, _ = run_optimizer("adam", lr=0.01, weight_decay=0.1)
    for k in params:
        p, m, v = start[k], 0, 0
        for t, g in enumerate(grads, 1):
            g = g[k] + (0.1 * p if k.endswith("weight") else 0)
            m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
            p = p - 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        np.testing.assert_allclose(params[k], p)


def test_adadelta():
    start, grads, params, _ = run_optimizer("adadelta", lr=1.0, weight_decay=0.0)
    for k in params:
        p, sq, acc = start[k], 0, 0
        for g in grads:
            sq = 0.95 * sq + 0.05 * g[k] ** 2
            delta = np.sqrt(acc + 1e-6) / np.sqrt(sq + 1e-6) * g[k]
            acc = 0.95 * acc + 0.05 * delta ** 2
            p = p - delta
        np.testing.assert_allclose(params[k], p)


def test_optimizer_state_round_trip_continues_identically():
    _, grads, params, opt = run_optimizer("adam", steps=2, lr=0.01)
    twin = {k: v.copy() for k, v in params.items()}
    copy = make_optimizer("adam", twin, lr=0.5)
    copy.load_state_dict(opt.state_dict())
    assert copy.lr == 0.01
    opt.step(grads[0])
    copy.step(grads[0])
    for k in params:
        np.testing.assert_array_equal(params[k], twin[k])


@pytest.mark.parametrize("change, message", [
    (lambda st: st["hyper"].update(params={}), r"unknown hyperparameter 'params'"),
    (lambda st: st["slots"]["m"].update({"0.bias": np.zeros(3)}), r"m for 0\.bias: shape \(3,\), the parameter's is \(2,\)"),
    (lambda st: st["slots"]["v"].update({"9.weight": np.zeros(2)}), r"v for unknown parameter 9\.weight"),
])
def test_optimizer_state_that_does_not_fit_is_refused_before_anything_changes(change, message):
    """A damaged checkpoint is refused when it is loaded, not with a broadcasting error steps later."""
    _, grads, params, opt = run_optimizer("adam", steps=2, lr=0.01)
    state = opt.state_dict()
    change(state)
    fresh = make_optimizer("adam", {k: v.copy() for k, v in params.items()}, lr=0.5)
    with pytest.raises(ValueError, match=message):
        fresh.load_state_dict(state)
    assert fresh.lr == 0.5 and fresh.steps == 0 and fresh.slots == {}


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="choose one of sgd, adam, adadelta"):
        make_optimizer("rmsprop", {})


def test_batch_split_across_threads_gives_the_single_chunk_results(monkeypatch):
    """Network runs each batch chunk in its own thread between batch-coupled layers (batchnorm while
    training): splitting the batch in three must not change the loss, gradients, statistics or trace."""
    import convviz.engine.network as network_module

    layers = [("conv", {"filters": 3, "size": 3, "pad": 1}), ("relu", {}), ("batchnorm", {}),
              ("maxpool", {"size": 2, "stride": 2}), ("conv", {"filters": 4, "size": 2, "stride": 2}), ("fc", {"units": 5}),
              ("batchnorm", {}), ("sigmoid", {}), ("fc", {"units": 3}), ("softmax", {})]
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 2, 8, 8)), rng.integers(0, 3, 16)
    results = []
    for parts in (1, 3):
        monkeypatch.setattr(network_module, "batch_chunks",
                            lambda n, most=None, parts=parts: [slice(n * k // parts, n * (k + 1) // parts)
                                                               for k in range(parts)])
        net = Network(arch(layers, input=(8, 8, 2)), seed=0, dtype=np.float64)
        loss, grads, probs = net.backprop(x, y)
        outs, douts = net.trace(x[:7], y[:7])
        results.append((loss, grads, probs, dict(net.buffers), list(outs.values()), list(douts.values()), net.forward(x)))
    (l1, g1, p1, b1, o1, d1, f1), (l2, g2, p2, b2, o2, d2, f2) = results
    assert l1 == pytest.approx(l2, rel=1e-12)
    np.testing.assert_allclose(p1, p2, rtol=1e-10)
    np.testing.assert_allclose(f1, f2, rtol=1e-10)
    for k in g1:
        np.testing.assert_allclose(g1[k], g2[k], rtol=1e-9, atol=1e-12, err_msg=k)
    for k in b1:
        np.testing.assert_allclose(b1[k], b2[k], rtol=1e-10, err_msg=k)
    for a, b in zip(o1 + d1, o2 + d2):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_first_conv_skips_its_input_gradient():
    net = Network(arch(TINY), seed=0)
    x = np.zeros((2, 2, 7, 7), np.float32)
    net.loss_and_gradients(x, np.array([0, 1]))  # would fail if the skipped dx were used
    from convviz.engine.layers import Context
    t = LAYER_TYPES["conv"]
    hp = t.resolve({"filters": 2, "size": 3})
    params = {"weight": np.ones((2, 2, 3, 3)), "bias": np.zeros(2)}
    out, cache = forward(t, hp, params, {}, np.ones((1, 2, 5, 5)), Context(train=True, input_grad=False))
    dx, grads = backward(t, hp, params, np.ones_like(out), cache)
    assert dx is None and grads["weight"].shape == (2, 2, 3, 3)


@pytest.mark.parametrize("name", ["sgd", "adam", "adadelta"])
def test_optimizers_keep_float32(name):
    net = Network(arch(TINY), seed=0)
    x = np.random.default_rng(0).standard_normal((4, 2, 7, 7)).astype(np.float32)
    opt = make_optimizer(name, net.params, weight_decay=1e-3)
    before = {k: v.copy() for k, v in net.params.items()}
    for _ in range(2):
        opt.step(net.loss_and_gradients(x, np.array([0, 1, 2, 0]))[1])
    assert all(p.dtype == np.float32 for p in net.params.values())
    assert all(a.dtype == np.float32 for t in opt.slots.values() for a in t.values())
    assert any(not np.array_equal(before[k], net.params[k]) for k in before)


@pytest.mark.parametrize("labels", [[0, 3], [0, -1], [0.0, 1.0], [0]])
def test_bad_labels_get_a_clear_message(labels):
    net = Network(arch(TINY), seed=0)
    with pytest.raises(ValueError, match="labels must be 2 whole numbers from 0 to 2"):
        net.loss_and_gradients(np.zeros((2, 2, 7, 7), np.float32), np.array(labels))


def test_dropout_masks_follow_the_seed_across_batch_chunks():
    layers = [("conv", {"filters": 3, "size": 3, "pad": 1}), ("dropout", {"rate": 0.5}), ("fc", {"units": 3}),
              ("softmax", {})]
    x = np.random.default_rng(0).standard_normal((16, 2, 7, 7)).astype(np.float32)
    y = np.arange(16) % 3
    runs = [Network(arch(layers), seed=4).backprop(x, y) for _ in range(2)]
    np.testing.assert_array_equal(runs[0][2], runs[1][2])
    other = Network(arch(layers), seed=5).backprop(x, y)
    assert not np.array_equal(runs[0][2], other[2])
    evaluated = Network(arch(layers), seed=4)
    np.testing.assert_array_equal(evaluated.forward(x), evaluated.forward(x))


@pytest.mark.parametrize("kind", ["maxpool", "avgpool"])
def test_pool_padding_over_half_the_window_is_refused(kind):
    assert LAYER_TYPES[kind].problem(LAYER_TYPES[kind].resolve({"size": 3, "pad": 1})) is None
    with pytest.raises(ValueError, match=rf"block 0 \({kind}\): pad 2 is more than half the window size 3.*: use pad 1"):
        Network(arch([(kind, {"size": 3, "stride": 1, "pad": 2}), ("fc", {"units": 2}), ("softmax", {})]))


@pytest.mark.parametrize("layers, message", [
    ([("conv", {"stride": 0}), ("fc", {}), ("softmax", {})], r"block 0 \(conv\): stride must be from 1 to 64, got 0"),
    ([("conv", {"filters": "4"}), ("fc", {}), ("softmax", {})], r"block 0 \(conv\): filters must be a whole number"),
    ([("conv", {"stides": 2}), ("fc", {}), ("softmax", {})], r"block 0 \(conv\): no hyperparameter 'stides'"),
    ([("dropout", {"rate": 1.0}), ("fc", {}), ("softmax", {})], r"block 0 \(dropout\): rate must be from 0 to 0.95"),
    ([("relu", None), ("fc", {}), ("softmax", {})], r"block 0 \(relu\): hyperparameters must be a mapping"),
    ([("conv", {"size": 2, "stride": 2}), ("fc", {}), ("softmax", {})],
     r"block 0 \(conv\) does not fit its 7x7x2 input: the output width \(7 - 2 \+ 0\)/2 \+ 1 = 3.5 is not a whole number"),
    ([("conv", {"filters": 4}), ("softmax", {})], r"softmax needs a 1x1xC volume .* block 0 gives 5x5x4"),
    ([("softmax", {})], r"softmax needs a 1x1xC volume .* the input is 7x7x2"),
    ([("fc", {}), ("softmax", {}), ("fc", {}), ("softmax", {})], r"block 2 comes after the classifier \(softmax, block 1\)"),
])
def test_network_refuses_what_inference_rejects_with_the_layer_named(layers, message):
    """The Python face takes unchecked architectures (Architecture.from_dict): no crash deep inside,
    no silently ignored misspelt key, no logits over a whole volume."""
    a = Architecture(Volume(7, 7, 2), [LayerSpec(t, p) for t, p in layers])
    with pytest.raises(ValueError, match=message):
        Network(a)


def test_network_refuses_a_bad_input_volume():
    with pytest.raises(ValueError, match=r"input volume must be three whole numbers from 1, got 0x7x2"):
        Network(arch([("fc", {}), ("softmax", {})], input=(0, 7, 2)))


def test_an_empty_batch():
    """Forward of no images gives no logits (a reshape with -1 cannot do that); training and the loss
    refuse clearly, before batchnorm's running statistics become NaN."""
    net = Network(arch(TINY))
    before = {k: v.copy() for k, v in net.state().items()}
    empty = np.zeros((0, 2, 7, 7), np.float32)
    assert net.forward(empty).shape == (0, 3) and net.predict_proba(empty).shape == (0, 3)
    for run in (lambda: net.loss_and_gradients(empty, np.zeros(0, np.int64)), lambda: net.forward(empty, train=True),
                lambda: net.trace(empty, np.zeros(0, np.int64))):
        with pytest.raises(ValueError, match="at least one image"):
            run()
    assert_unchanged(net, before)


def test_interrupt_stops_a_pass_between_nodes():
    """A long step can be stopped within a layer's time: the executor asks Network.interrupt between nodes."""
    from convviz.engine import Interrupted

    net = Network(arch(TINY), seed=0)
    x = np.random.default_rng(0).standard_normal((16, 2, 7, 7)).astype(np.float32)
    y = np.arange(16) % 3
    calls = []
    net.interrupt = lambda: calls.append(1) or len(calls) > 3
    with pytest.raises(Interrupted):
        net.backprop(x, y)
    assert 3 < len(calls) < 2 * len(net.nodes)  # stopped early, not after the whole pass
    net.interrupt = lambda: False
    loss, _, _ = net.backprop(x, y)
    assert np.isfinite(loss)


def test_groups_that_do_not_divide_the_input_depth_are_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"block 0 \(conv\): the input depth 2 is not divisible by groups 4.*use groups"):
        Network(arch([("conv", {"filters": 4, "size": 3, "groups": 4}), ("fc", {"units": 2}), ("softmax", {})]))


def test_fused_layers_give_the_numbers_of_the_layers_run_one_by_one():
    """Where the value between two layers is read by nothing else, the engine fuses them: a ReLU runs in
    place on the output of the conv, batchnorm, fc or residual before it, or after the max pool that
    reads it (on a quarter of the numbers: windows all at or below 0 tie there, where ReLU's gradient is
    0), and at inference batchnorm folds into the conv or fc before it and a residual adds its shortcut
    into its body's output. Asking for every output (keep="all") runs the layers one by one."""
    L = LayerSpec
    block = L("residual", {}, [[L("conv", {"filters": 4, "size": 3, "pad": 1}), L("batchnorm"), L("relu"),
                                L("conv", {"filters": 4, "size": 3, "pad": 1, "bias": False}), L("batchnorm")], []])
    layers = [L("conv", {"filters": 4, "size": 3, "pad": 1}), L("batchnorm"), L("relu"), block, L("relu"),
              L("conv", {"filters": 4, "size": 3, "pad": 1}), L("relu"), L("maxpool", {"size": 2, "stride": 1}),
              L("conv", {"filters": 3, "size": 3, "stride": 2, "fit": "crop", "bias": False}), L("batchnorm"),
              L("relu"), L("fc", {"units": 5}), L("batchnorm"), L("relu"), L("fc", {"units": 3}), L("relu"),
              L("fc", {"units": 3}), L("softmax")]
    net = Network(Architecture(Volume(7, 7, 2), layers), seed=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    for node in net.nodes:  # batchnorm away from its initial ones and zeros
        for key in (f"{node.key}.{k}" for k in ("weight", "bias", "running_mean", "running_var")):
            if node.op is not None and node.op.couples_batch and key in net.state():
                net.state()[key] += rng.uniform(0.1, 0.5, net.state()[key].shape)
    x, y = rng.standard_normal((8, 2, 7, 7)), rng.integers(0, 3, 8)
    fusions = net._fusions(net.plan.logits + 1, frozenset(), fold=True)
    chains = fusions.chains
    folded = net._folded(chains)
    named = {net.nodes[h].key: [net.nodes[j].op.name for j in c] for h, c in chains.items()}
    assert named == {"0": ["batchnorm", "relu"], "3.body.0": ["batchnorm", "relu"], "3.body.3": ["batchnorm"],
                     "3": ["relu"], "8": ["batchnorm", "relu"], "11": ["batchnorm", "relu"], "14": ["relu"]}
    assert {net.nodes[m].key: net.nodes[r].key for m, r in fusions.moved.items()} == {"7": "6"}
    assert sorted(folded) == sorted(h for h, c in chains.items() if net.nodes[c[0]].op.name == "batchnorm")
    body_end = net.plan.node("3.body.4").id  # the residual adds into its body's output, at evaluation only
    assert [net.nodes[m].key for m in fusions.reuse] == ["3"]
    assert not net._fusions(net.plan.logits + 1, frozenset(), fold=False).reuse
    assert not net._fusions(net.plan.logits + 1, frozenset({body_end}), fold=True).reuse
    kept = net.run(x, keep={body_end}, record=False).outputs[body_end]
    np.testing.assert_allclose(kept, net.run(x, keep="all").outputs[body_end], rtol=1e-12)
    relu = net.plan.node("6").id
    pooled = net.run(x, keep={relu}).outputs[relu]  # the ReLU before the max pool: windows all 0 (ties) exist
    assert (pooled[:, :, :-1, :-1] + pooled[:, :, 1:, :-1] + pooled[:, :, :-1, 1:] + pooled[:, :, 1:, 1:] == 0).sum() > 10
    plain = net.run(x, keep="all").output
    np.testing.assert_allclose(net.forward(x), plain.reshape(8, 3), rtol=1e-12)
    np.testing.assert_allclose(net.run(x).output, plain, rtol=1e-12)
    for train in (True, False):
        fused, unfused = net.run(x, train), net.run(x, train, keep="all")
        np.testing.assert_allclose(fused.output, unfused.output, rtol=1e-12)
        _, dlogits, _ = net.loss(fused.output, y)
        a, b = net.backward(fused, {net.plan.logits: dlogits}), net.backward(unfused, {net.plan.logits: dlogits})
        for k in a.params:
            np.testing.assert_allclose(a.params[k], b.params[k], rtol=1e-10, atol=1e-12, err_msg=k)


def test_a_score_map_network_gives_class_scores_per_position():
    """A fully convolutional net built for 4x4 inputs, run on 6x6 with score_map=True, gives at each of its
    3x3 positions the scores the 4x4 net gives for the window there (the notes' FC-to-CONV sliding)."""
    layers = [("conv", {"filters": 3, "size": 3}), ("relu", {}), ("conv", {"filters": 5, "size": 2}), ("softmax", {})]
    small = Network(arch(layers, input=(4, 4, 2)), seed=0)
    big = Network(arch(layers, input=(6, 6, 2)), seed=0, score_map=True)
    big.set_state(small.state())
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 6)).astype(np.float32)
    scores = big.forward(x)
    assert scores.shape == (2, 5, 3, 3)
    for i in range(3):
        for j in range(3):
            np.testing.assert_allclose(scores[:, :, i, j], small.forward(x[:, :, i:i + 4, j:j + 4]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(big.predict_proba(x).sum(axis=1), 1, rtol=1e-5)
    with pytest.raises(ValueError, match="1x1xC"):
        Network(arch(layers, input=(6, 6, 2)))


def test_batches_split_into_chunks_no_larger_than_asked_and_a_multiple_of_the_threads(monkeypatch):
    from convviz.engine import threads

    monkeypatch.setattr(threads, "WORKERS", 2)
    assert [s.stop - s.start for s in threads.batch_chunks(128)] == [64, 64]
    assert [s.stop - s.start for s in threads.batch_chunks(128, most=32)] == [32] * 4
    assert [s.stop - s.start for s in threads.batch_chunks(100, most=32)] == [25] * 4
    assert [s.stop - s.start for s in threads.batch_chunks(10, most=2)] == [5, 5]  # at least MIN_CHUNK = 4 each
    assert [s.stop - s.start for s in threads.batch_chunks(3, most=2)] == [3]
    assert threads.run_chunks(lambda c: c * 10, list(range(5))) == [0, 10, 20, 30, 40]


def test_an_engine_thread_gets_the_gil_back_quickly_while_another_thread_runs_python():
    """Between two NumPy calls a training thread needs the GIL for a moment; while another thread runs
    Python (the app's GUI thread redrawing), the engine makes that wait well under Python's default 5 ms."""
    import statistics
    import sys
    import threading
    import time

    from convviz.engine import threads

    def waits_while_busy() -> list[float]:
        """How long each of a worker's 100 GIL hand-backs took while this thread ran pure Python."""
        waits, done = [], threading.Event()

        def worker():
            for _ in range(100):
                started = time.perf_counter()
                time.sleep(1e-5)  # releases the GIL, then must take it back
                waits.append(time.perf_counter() - started)
            done.set()

        thread = threading.Thread(target=worker)
        thread.start()
        deadline = time.perf_counter() + 10
        while not done.is_set() and time.perf_counter() < deadline:
            sum(range(100))  # the GUI thread's Python
        thread.join()
        return waits

    assert sys.getswitchinterval() == threads.GIL_SWITCH_SECONDS  # importing the engine set it
    assert statistics.median(waits_while_busy()) < 2e-3
