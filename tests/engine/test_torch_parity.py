"""PyTorch parity: for the same weights, logits, probabilities, every gradient, the batchnorm running
statistics and optimiser steps equal PyTorch's, for sequential and branching nets; a weights file
loads straight into the mirroring torch module (the README recipe)."""
import numpy as np
import pytest

from convviz.engine import Network, Volume, make_optimizer
from convviz.engine.optim import decays
from convviz.export.torch import logits as torch_logits
from convviz.export.torch import torch_module
from convviz.model import Architecture, LayerSpec

torch = pytest.importorskip("torch")

CONVNETJS_LIKE = [("conv", {"filters": 8, "size": 5, "stride": 1, "pad": 2}), ("relu", {}),
                  ("maxpool", {"size": 2, "stride": 2}), ("conv", {"filters": 10, "size": 5, "pad": 2}),
                  ("relu", {}), ("maxpool", {"size": 2, "stride": 2}), ("fc", {"units": 10}), ("softmax", {})]
MIXED = [("conv", {"filters": 6, "size": 3, "pad": 2, "dilation": 2}), ("batchnorm", {"momentum": 0.2}),
         ("leakyrelu", {"slope": 0.05}), ("avgpool", {"size": 3, "stride": 2, "pad": 1}),
         ("conv", {"filters": 8, "size": 3, "stride": 2, "pad": 1}), ("tanh", {}),
         ("maxpool", {"size": 3, "stride": 1, "pad": 1}), ("fc", {"units": 12}), ("batchnorm", {}),
         ("sigmoid", {}), ("dropout", {"rate": 0.0}), ("fc", {"units": 5}), ("softmax", {})]
L = LayerSpec
BRANCHING = [L("conv", {"filters": 6, "size": 3, "pad": 1}), L("batchnorm"), L("relu"),
             L("residual", {}, [[L("conv", {"filters": 8, "size": 3, "stride": 2, "pad": 1}), L("batchnorm"), L("relu"),
                                 L("conv", {"filters": 8, "size": 3, "pad": 1}), L("batchnorm")],
                                [L("conv", {"filters": 8, "size": 3, "stride": 2, "pad": 1}), L("batchnorm")]]),
             L("relu"),
             L("residual", {}, [[L("conv", {"filters": 8, "size": 3, "pad": 1}), L("relu")], []]),
             L("concat", {}, [[L("conv", {"filters": 4, "size": 1})],
                              [L("conv", {"filters": 3, "size": 1}), L("relu"), L("conv", {"filters": 5, "size": 3, "pad": 1})],
                              [L("maxpool", {"size": 3, "stride": 1, "pad": 1}), L("conv", {"filters": 2, "size": 1})],
                              []]),
             L("avgpool", {"size": 9}), L("fc", {"units": 7}), L("softmax")]
NETS = {"convnetjs-like": (CONVNETJS_LIKE, 16), "mixed": (MIXED, 17), "branching": (BRANCHING, 17)}  # blocks, input side


def architecture(name):
    layers, side = NETS[name]
    blocks = [b.copy() if isinstance(b, LayerSpec) else LayerSpec(b[0], dict(b[1])) for b in layers]
    return Architecture(Volume(side, side, 3), blocks)


def build(name):
    arch = architecture(name)
    net = Network(arch, seed=0)
    model = torch_module(arch)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in net.state().items()})
    return net, model


def data(net, n=6):
    rng = np.random.default_rng(1)
    v = net.nodes[0].volume
    return rng.standard_normal((n, 3, v.height, v.width)).astype(np.float32), rng.integers(0, net.classes, n)


def close(ours, theirs, what):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    assert ours.shape == theirs.shape, what
    # the floor covers gradients that are zero in exact arithmetic (a bias just before batchnorm)
    err = np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-2)
    assert err < 1e-4, f"{what}: relative error {err:.1e}"


@pytest.mark.parametrize("name", NETS)
def test_logits_probabilities_gradients_and_running_statistics(name):
    net, model = build(name)
    x, y = data(net)
    loss, grads, probs = net.backprop(x, y)
    model.train()
    logits = torch_logits(model, torch.from_numpy(x))
    tloss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y))
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-5)
    close(probs, model[-1](logits), "training probabilities")
    tgrads = {k: p.grad for k, p in model.named_parameters()}
    assert set(grads) == set(tgrads)
    for k, g in grads.items():
        close(g, tgrads[k], f"gradient {k}")
    for k, b in net.buffers.items():
        close(b, model.state_dict()[k], f"buffer {k}")
    model.eval()
    with torch.no_grad():
        close(net.forward(x), torch_logits(model, torch.from_numpy(x)), "evaluation logits")


def torch_optimizer(name, model, **hyper):
    """PyTorch's optimiser with ConvViz's decay rule: only conv and fc weights decay."""
    wd = hyper.pop("weight_decay")
    named = list(model.named_parameters())
    params = dict(model.named_parameters())
    groups = [{"params": [p for k, p in named if decays(k, params)], "weight_decay": wd},
              {"params": [p for k, p in named if not decays(k, params)], "weight_decay": 0.0}]
    if name == "sgd":
        return torch.optim.SGD(groups, **hyper)
    if name == "adam":
        b1, b2 = hyper.pop("beta1", 0.9), hyper.pop("beta2", 0.999)
        return torch.optim.Adam(groups, betas=(b1, b2), **hyper)
    return torch.optim.Adadelta(groups, **hyper)


OPTIMIZER_CASES = [
    ("sgd", {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-3}),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-3}),
    ("adam", {"lr": 0.01, "weight_decay": 5e-3}),
    ("adadelta", {"lr": 1.0, "rho": 0.95, "eps": 1e-6, "weight_decay": 5e-3}),
]


@pytest.mark.parametrize("net_name, name, hyper", [("convnetjs-like", *case) for case in OPTIMIZER_CASES] +
                         [("branching", *case) for case in OPTIMIZER_CASES if case[0] != "adam"])
def test_optimizer_steps_give_the_same_weights(net_name, name, hyper):
    """Adam only on the net without batchnorm: a bias just before batchnorm has a zero gradient, whose
    float noise Adam would blow up to a full step."""
    net, model = build(net_name)
    opt = make_optimizer(name, net.params, **hyper)
    topt = torch_optimizer(name, model, **dict(hyper))
    model.train()
    for step in range(2):
        x, y = data(net)
        x = x + step
        _, grads = net.loss_and_gradients(x, y)
        opt.step(grads)
        topt.zero_grad()
        torch.nn.functional.cross_entropy(torch_logits(model, torch.from_numpy(x)), torch.from_numpy(y)).backward()
        topt.step()
    state = model.state_dict()
    for k, p in net.params.items():
        close(p, state[k], f"{name} weights {k}")


def test_weights_file_loads_into_torch_with_the_readme_recipe(tmp_path):
    """README: torch_module(arch).load_state_dict({k: torch.from_numpy(v) for k, v in np.load(path).items()})."""
    arch = architecture("branching")
    net = Network(arch, seed=3)
    x, y = data(net)
    net.loss_and_gradients(x, y)  # running statistics away from 0 and 1
    net.save_weights(tmp_path / "w.npz")
    model = torch_module(arch)
    result = model.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(tmp_path / "w.npz").items()})
    assert not result.missing_keys and not result.unexpected_keys
    model.eval()
    with torch.no_grad():
        close(net.predict_proba(x), model(torch.from_numpy(x)), "probabilities")
    back = Network(arch, seed=9)
    back.set_state({k: v.numpy() for k, v in model.state_dict().items()})
    np.testing.assert_array_equal(back.forward(x), net.forward(x))
