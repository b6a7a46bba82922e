"""The contract every declared leaf type keeps, so a type cannot be half-added: a sample configuration
here, a title and a one-sentence summary, hyperparameters with help and usable defaults, an icon,
gradients that agree with centred finite differences, and the PyTorch module it names (built as
convviz.export.torch builds it) giving the same outputs, input gradients, parameter gradients and
running statistics, with the same parameter shapes and fan-in; and the ONNX operators it declares reading
its parameters and giving the same evaluation-mode outputs in onnxruntime."""
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from convviz.engine import CONTAINER_TYPES, LAYER_TYPES, Volume
from convviz.engine.layers import Context
from convviz.paths import RESOURCES

from .gradcheck import backward, check_layer, distinct_values, forward

KINDS = {"conv", "pool", "activation", "regularizer", "dense", "classifier"}

# Each type's configurations: (given hyperparameters, input shape (N, D, H, W)). A new type needs one.
SAMPLES = {
    "conv": [({"filters": 3, "size": 3, "pad": 1}, (2, 2, 5, 5)),
             ({"filters": 4, "size": 3, "stride": 2, "pad": 1, "groups": 2, "bias": False, "fit": "crop"}, (2, 4, 6, 6)),
             ({"filters": 6, "size": 3, "stride": 1, "pad": 2, "dilation": 2, "groups": 3}, (2, 3, 5, 5))],
    "maxpool": [({"size": 3, "stride": 2, "pad": 1}, (2, 2, 5, 5)),
                ({"size": 2, "fit": "crop"}, (2, 2, 5, 7)),
                ({"size": 3, "stride": 2, "pad": 1, "fit": "pad"}, (2, 2, 6, 8))],
    "avgpool": [({"size": 3, "stride": 2, "pad": 1}, (2, 2, 5, 5)),
                ({"size": 2, "fit": "crop"}, (2, 2, 5, 7)),
                ({"size": 3, "stride": 2, "pad": 1, "fit": "pad"}, (2, 2, 6, 8)),
                ({"size": 3, "stride": 3, "pad": 1, "fit": "pad"}, (1, 2, 5, 7))],
    "globalavgpool": [({}, (2, 3, 4, 5))],
    "relu": [({}, (2, 3, 3, 4))],
    "leakyrelu": [({"slope": 0.1}, (2, 3, 3, 4))],
    "tanh": [({}, (2, 3, 3, 4))],
    "sigmoid": [({}, (2, 3, 3, 4))],
    "dropout": [({"rate": 0.4}, (2, 3, 3, 4))],
    "batchnorm": [({}, (4, 3, 3, 2)), ({}, (5, 6, 1, 1))],
    "lrn": [({"size": 3, "alpha": 0.5, "beta": 0.75, "k": 1.5}, (2, 5, 2, 3)), ({"size": 4}, (2, 6, 2, 2)),
            ({"size": 13, "alpha": 0.9}, (2, 3, 2, 2))],
    "fc": [({"units": 4}, (3, 2, 3, 2))],
    "softmax": [({}, (3, 4, 1, 1))],
}
RANDOM_WHILE_TRAINING = {"dropout"}  # compared with PyTorch in evaluation only


def samples(name):
    assert name in SAMPLES, f"{name} has no sample configuration in tests/engine/test_contract.py"
    return SAMPLES[name]


@pytest.mark.parametrize("name", LAYER_TYPES)
def test_declared_text_kind_hyperparameters_and_icon(name):
    t = LAYER_TYPES[name]
    assert t.name == name and t.title.strip() and t.kind in KINDS
    assert t.summary.strip().endswith(".") and t.summary.count(". ") == 0, "one sentence"
    for h in t.hypers:
        assert h.help.strip(), f"{name}.{h.name} has no help"
        assert h.check(t.resolve({})[h.name]) is None, f"{name}.{h.name}: the default is not acceptable"
        assert (h.kind is str) == bool(h.choices)
    icon = RESOURCES / "icons" / f"{name}.svg"
    assert icon.is_file(), f"missing icon {icon}"
    assert ET.parse(icon).getroot().tag.endswith("svg")
    samples(name)


@pytest.mark.parametrize("name", CONTAINER_TYPES)
def test_containers_have_text_and_an_icon(name):
    t = CONTAINER_TYPES[name]
    assert t.title.strip() and t.summary.strip().endswith(".") and t.merge_title
    assert ET.parse(RESOURCES / "icons" / f"{name}.svg").getroot().tag.endswith("svg")
    op_type, attributes = t.onnx_merge()
    assert op_type and isinstance(attributes, dict) and t.torch_module()


@pytest.mark.parametrize("name", LAYER_TYPES)
def test_gradients_agree_with_finite_differences(name):
    for given, shape in samples(name):
        check_layer(name, given, shape, x=distinct_values(np.random.default_rng(2), shape), rng_seed=7)


def torch_leaf(name, given, vol):
    """The torch module convviz.export.torch.torch_module builds for this leaf (block 0 of a network that
    adds what a classifier needs after it), in float64."""
    from convviz.export.torch import torch_module
    from convviz.model import Architecture, LayerSpec

    t = LAYER_TYPES[name]
    layers = [LayerSpec(name, dict(given))]
    if t.kind != "classifier":
        out = t.output_volume(t.resolve(given), vol)
        layers += [LayerSpec("softmax")] if (out.width, out.height) == (1, 1) else [LayerSpec("fc", {"units": 2}),
                                                                                 LayerSpec("softmax")]
    return torch_module(Architecture(vol, layers)).double()[0]


@pytest.mark.parametrize("name", LAYER_TYPES)
def test_pytorch_module_gives_the_same_numbers(name):
    torch = pytest.importorskip("torch")
    t = LAYER_TYPES[name]
    for given, shape in samples(name):
        hp, vol = t.resolve(given), Volume(shape[3], shape[2], shape[1])
        for train in (False,) if name in RANDOM_WHILE_TRAINING else (False, True):
            rng = np.random.default_rng(3)
            module = torch_leaf(name, given, vol)
            params = t.init_params(hp, vol, rng, np.float64)
            buffers = t.initial_buffers(hp, vol, np.float64)
            for key, p in params.items():
                params[key] = p + rng.uniform(-0.5, 0.5, p.shape)  # not the initial values (batchnorm: ones, zeros)
            module.load_state_dict({k: torch.tensor(v) for k, v in {**params, **buffers}.items()}, strict=False)
            state = module.state_dict()
            assert {k for k in state if not k.endswith("num_batches_tracked")} == {*params, *buffers}
            for key, p in params.items():
                if p.ndim >= 2:
                    assert torch.nn.init._calculate_fan_in_and_fan_out(state[key])[0] == t.fan_in(hp, vol)
            x = distinct_values(rng, shape)
            out, cache = forward(t, hp, params, buffers, x.copy(), Context(train=train))
            xt = torch.tensor(x, requires_grad=True)
            module.train(train)
            yt = module(xt)
            where = f"{name} {given} train={train}"
            # the softmax's module gives (N, classes) where the engine keeps (N, classes, 1, 1)
            assert yt.shape == out.shape or (t.kind == "classifier" and yt.shape == out.shape[:2]), where
            np.testing.assert_allclose(out.reshape(yt.shape), yt.detach().numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"{where}: output")
            g = rng.standard_normal(out.shape)
            dx, grads = backward(t, hp, params, g, cache)
            yt.backward(torch.tensor(g).reshape(yt.shape))
            np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=f"{where}: input gradient")
            named = dict(module.named_parameters())
            assert set(grads) == set(named)
            for key, grad in grads.items():
                np.testing.assert_allclose(grad, named[key].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=f"{where}: {key}")
            for key, b in buffers.items():
                np.testing.assert_allclose(b, module.state_dict()[key].numpy(), rtol=1e-10, err_msg=f"{where}: {key}")


@pytest.mark.parametrize("name", LAYER_TYPES)
def test_onnx_mapping_reads_every_parameter_and_only_names_it_has(name):
    t = LAYER_TYPES[name]
    for given, shape in samples(name):
        hp, vol = t.resolve(given), Volume(shape[3], shape[2], shape[1])
        mapping = t.onnx_mapping(hp, vol)
        stored = {*t.param_shapes(hp, vol), *t.buffer_shapes(hp, vol)}
        known = {"x", *stored, *mapping.constants}
        assert mapping.nodes, name
        for node in mapping.nodes:
            assert set(node.inputs) <= known, f"{name} {given}: {node.op_type} reads {set(node.inputs) - known}"
            known.add(node.output)
        read = {i for node in mapping.nodes for i in node.inputs}
        assert stored | set(mapping.constants) <= read, f"{name} {given}: unused {stored - read}"


@pytest.mark.parametrize("name", LAYER_TYPES)
def test_onnx_mapping_gives_the_same_numbers(name):
    """The leaf's output in an exported model (block 0, as torch_leaf builds it), run by onnxruntime,
    equals the engine's evaluation-mode forward."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    from convviz.engine import Network
    from convviz.export.onnx import onnx_model
    from convviz.model import Architecture, LayerSpec

    t = LAYER_TYPES[name]
    for given, shape in samples(name):
        vol = Volume(shape[3], shape[2], shape[1])
        layers = [LayerSpec(name, dict(given))]
        if t.kind != "classifier":
            layers += [LayerSpec("fc", {"units": 2}), LayerSpec("softmax")]
        net = Network(Architecture(vol, layers), dtype=np.float64)
        rng = np.random.default_rng(5)
        for a in net.state().values():  # not the initial values (batchnorm: ones and zeros)
            a += rng.uniform(0.2, 0.7, a.shape)
        model = onnx_model(net.arch, net.state())
        leaf = "probabilities" if t.kind == "classifier" else "0"
        if leaf == "0":
            model.graph.output.append(helper.make_tensor_value_info("0", TensorProto.FLOAT, None))
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        x = distinct_values(rng, shape)
        (ours,) = net.run(x, stop=2, keep=[1]).outputs.values()
        (theirs,) = session.run([leaf], {"input": x.astype(np.float32)})
        np.testing.assert_allclose(theirs, ours.reshape(theirs.shape), rtol=1e-4, atol=1e-5, err_msg=f"{name} {given}")
