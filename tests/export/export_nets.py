"""The networks the export tests write: a sequential and a branching one that, between them, use every
declared block type with the options that change an export (groups, bias false, dilation, fit crop and
pad, even and odd lrn sizes, a projection and an identity shortcut, a concat with an empty branch), and
weights that are not the initial ones (batchnorm statistics included)."""
import numpy as np

from convviz.engine import Network, Volume
from convviz.engine.tree import walk
from convviz.model import Architecture, LayerSpec

L = LayerSpec
SEQUENTIAL = [
    L("conv", {"filters": 8, "size": 3, "pad": 1}), L("batchnorm"), L("leakyrelu", {"slope": 0.1}),
    L("lrn", {"size": 4, "alpha": 0.5}),
    L("maxpool", {"size": 3, "stride": 2, "fit": "pad"}),  # 16 -> 8 (7.5 rounded up)
    L("conv", {"filters": 8, "size": 3, "stride": 2, "pad": 1, "groups": 4, "bias": False, "fit": "crop"}),  # -> 4
    L("tanh"),
    L("avgpool", {"size": 3, "stride": 2, "pad": 1, "fit": "pad"}),  # 4 -> 3, its last window hangs over
    L("conv", {"filters": 6, "size": 2, "dilation": 2, "pad": 1}),  # -> 3
    L("dropout", {"rate": 0.3}), L("fc", {"units": 12}), L("batchnorm"), L("sigmoid"), L("fc", {"units": 10}),
    L("softmax"),
]
BRANCHING = [
    L("conv", {"filters": 8, "size": 3, "pad": 1}), L("batchnorm"), L("relu"),
    L("residual", {}, [[L("conv", {"filters": 12, "size": 3, "stride": 2, "pad": 1, "fit": "crop"}), L("batchnorm"),
                        L("relu"), L("conv", {"filters": 12, "size": 3, "pad": 1, "bias": False}), L("batchnorm")],
                       [L("conv", {"filters": 12, "size": 1, "stride": 2, "bias": False, "fit": "crop"}),
                        L("batchnorm")]]),
    L("relu"),
    L("residual", {}, [[L("conv", {"filters": 12, "size": 3, "pad": 1, "groups": 3}), L("relu")], []]),
    L("concat", {}, [[L("conv", {"filters": 4, "size": 1})],
                     [L("conv", {"filters": 3, "size": 1}), L("relu"),
                      L("conv", {"filters": 5, "size": 3, "pad": 2, "dilation": 2})],
                     [L("maxpool", {"size": 3, "stride": 1, "pad": 1}), L("conv", {"filters": 2, "size": 1})],
                     []]),
    L("lrn", {"size": 5}), L("globalavgpool"), L("dropout"), L("fc", {"units": 10}), L("softmax"),
]
NETS = {"sequential": SEQUENTIAL, "branching": BRANCHING}


def architecture(name: str, side: int = 16) -> Architecture:
    return Architecture(Volume(side, side, 3), [b.copy() for b in NETS[name]])


def block_types() -> set[str]:
    """Every block type the nets use."""
    return {site.block.type for name in NETS for site in walk(NETS[name])}


def trained_network(name: str, side: int = 16) -> Network:
    """The network with weights moved away from the initial ones: every parameter shifted, batchnorm's
    running statistics as if it had trained."""
    net = Network(architecture(name, side), seed=1)
    rng = np.random.default_rng(2)
    for key, a in net.params.items():
        a += rng.uniform(-0.2, 0.2, a.shape).astype(a.dtype)
    for key, a in net.buffers.items():
        a[...] = rng.uniform(0.5, 1.5, a.shape) if key.endswith("running_var") else rng.uniform(-0.3, 0.3, a.shape)
    return net


def images(net: Network, n: int = 5) -> np.ndarray:
    v = net.nodes[0].volume
    return np.random.default_rng(3).standard_normal((n, v.depth, v.height, v.width)).astype(np.float32)
