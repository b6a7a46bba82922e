"""Small networks the interpret tests share: a sequential one and a branching one (residual + concat)."""
from convviz.model import Architecture, LayerSpec as L
from convviz.engine import Volume


def sequential_net(size: int = 16) -> Architecture:
    return Architecture(Volume(size, size, 3), [
        L("conv", {"filters": 6, "size": 3, "pad": 1}), L("relu"), L("maxpool", {"size": 2}),
        L("conv", {"filters": 8, "size": 3, "pad": 1}), L("relu"), L("maxpool", {"size": 2}),
        L("fc", {"units": 10}), L("softmax")])


def branching_net(size: int = 16) -> Architecture:
    """conv, a residual (body conv-bn-relu-conv, identity shortcut), a concat of a 1x1 conv and a
    3x3 conv branch, pool, fc: Grad-CAM layers inside a body and a branch."""
    return Architecture(Volume(size, size, 3), [
        L("conv", {"filters": 6, "size": 3, "pad": 1}), L("relu"),
        L("residual", {}, [[L("conv", {"filters": 6, "size": 3, "pad": 1}), L("batchnorm"), L("relu"),
                            L("conv", {"filters": 6, "size": 3, "pad": 1})], []]),
        L("concat", {}, [[L("conv", {"filters": 4, "size": 1})],
                         [L("conv", {"filters": 4, "size": 3, "pad": 1}), L("relu")]]),
        L("maxpool", {"size": 2}), L("fc", {"units": 10}), L("softmax")])
