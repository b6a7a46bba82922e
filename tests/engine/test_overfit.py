"""The engine learns: a small ConvNet overfits 64 real CIFAR-10 images to 100% training accuracy."""
import numpy as np

from convviz.data import load_cifar10
from convviz.engine import Network, Volume, make_optimizer
from convviz.model import Architecture, LayerSpec


def test_overfits_64_real_images(sample_dir):
    data = load_cifar10(sample_dir / "cifar-10-batches-py")
    x = data.train_images[:64].astype(np.float32) / 255
    x = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / x.std(axis=(0, 2, 3), keepdims=True)
    y = data.train_labels[:64]
    layers = [("conv", {"filters": 16, "size": 4, "stride": 2, "pad": 1}), ("relu", {}),
              ("maxpool", {"size": 2, "stride": 2}), ("conv", {"filters": 20, "size": 3, "pad": 1}), ("relu", {}),
              ("maxpool", {"size": 2, "stride": 2}), ("fc", {"units": 10}), ("softmax", {})]
    net = Network(Architecture(Volume(32, 32, 3), [LayerSpec(t, p) for t, p in layers]), seed=0)
    opt = make_optimizer("adam", net.params, lr=0.01)
    first = None
    for step in range(150):
        loss, grads, probs = net.backprop(x, y)
        first = loss if first is None else first
        opt.step(grads)
        if (probs.argmax(axis=1) == y).all() and loss < 0.05:
            break
    accuracy = (net.forward(x).argmax(axis=1) == y).mean()
    assert len(set(y.tolist())) == 10 and first > 2.0
    assert accuracy == 1.0, f"training accuracy {accuracy:.0%} after {step + 1} steps (loss {first:.2f} -> {loss:.3f})"
