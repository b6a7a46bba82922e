"""Saliency and Grad-CAM equal what PyTorch's autograd gives on the mirrored module with the same weights."""
import numpy as np
import pytest

from convviz.engine import Network
from convviz.interpret.gradients import grad_cam, saliency, score_gradients
from convviz.interpret.subject import conv_nodes

from .nets import branching_net, sequential_net

torch = pytest.importorskip("torch")
from convviz.export.torch import logits as torch_logits  # noqa: E402
from convviz.export.torch import torch_module  # noqa: E402


def _twins(arch, seed=3):
    net = Network(arch, seed=seed)
    rng = np.random.default_rng(seed)
    for k, a in net.buffers.items():  # batchnorm statistics other than 0 and 1, so eval mode matters
        a[...] = rng.uniform(0.5, 1.5, a.shape) if k.endswith("running_var") else rng.normal(0, 0.2, a.shape)
    model = torch_module(arch).double().eval()
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in net.state().items()}, strict=False)
    x = rng.normal(0, 1, (3, arch.input.height, arch.input.width)).astype(np.float32)
    return net, model, x


def _submodule(model, key: str):
    m = model
    for part in key.split("."):
        m = m[int(part)] if part.isdigit() else getattr(m, part)
    return m


@pytest.mark.parametrize("make", [sequential_net, branching_net], ids=["sequential", "branching"])
def test_saliency_is_the_input_gradient(make):
    net, model, x = _twins(make())
    cls = 4
    ours = saliency(net, x, cls)
    t = torch.from_numpy(x[None].astype(np.float64)).requires_grad_(True)
    torch_logits(model, t)[0, cls].backward()
    expected = t.grad[0].abs().amax(dim=0).numpy()
    assert ours.shape == x.shape[1:]
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=1e-4)
    full = score_gradients(net, x[None], cls).input[0]  # the signed gradient too, not only its reduction
    np.testing.assert_allclose(full, t.grad[0].numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("make", [sequential_net, branching_net], ids=["sequential", "branching"])
def test_grad_cam_is_the_formula_with_autograd(make):
    net, model, x = _twins(make())
    nodes = conv_nodes(net)
    assert len(nodes) >= 2
    for node in nodes:
        cls = 7
        ours = grad_cam(net, x, cls, node.id)
        kept = {}
        handle = _submodule(model, node.key).register_forward_hook(lambda m, i, o: kept.setdefault("a", o))
        t = torch.from_numpy(x[None].astype(np.float64))
        score = torch_logits(model, t)[0, cls]
        handle.remove()
        a = kept["a"]
        (da,) = torch.autograd.grad(score, a)
        weights = da[0].mean(dim=(1, 2))
        expected = torch.relu((weights[:, None, None] * a[0]).sum(dim=0)).detach().numpy()
        assert ours.shape == (node.volume.height, node.volume.width)
        assert expected.max() > 0, "a map of zeros would prove nothing"
        np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=1e-4, err_msg=node.key)
