"""Ready-made blocks the builder drops in one go (a basic, a bottleneck and a downsampling residual
block, an inception module), and where a dropped block lands in the tree.

A template is data: a title, a one-sentence tooltip, an icon name (resources/icons/<icon>.svg) and the
blocks it inserts, sized for the volume fed to the place it is dropped on (residual blocks keep or
double that depth, so the shortcut adds up). Qt-free: the palette and the tests read the same facts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..engine import Volume
from ..engine.tree import Path
from .inference import Inference
from .spec import LayerSpec

DEFAULT_DEPTH = 64  # the depth a template is sized for when the volume at the drop point is unknown
BOTTLENECK_SQUEEZE = 4  # a bottleneck's inner convs work at a quarter of its depth (ResNet-50)


@dataclass(frozen=True)
class Template:
    """name: its key; title and tooltip (one sentence) as the palette shows them; icon: the icon's name;
    make(depth) -> the blocks it inserts when fed a volume of that depth."""

    name: str
    title: str
    tooltip: str
    icon: str
    make: Callable[[int], list[LayerSpec]]

    def blocks(self, fed: Volume | None) -> list[LayerSpec]:
        """The blocks to insert where the volume `fed` arrives (None: unknown, sized for DEFAULT_DEPTH)."""
        return self.make(fed.depth if fed is not None else DEFAULT_DEPTH)


def _conv(filters: int, size: int, stride: int = 1, **extra) -> LayerSpec:
    """A conv without bias (batch norm follows it) that keeps the width and height at stride 1."""
    params = {"filters": filters, "size": size, "pad": size // 2, "bias": False, **extra}
    if stride != 1:
        params.update(stride=stride, fit="crop")  # (32 - 3 + 2)/2 + 1 = 16.5: rounded down, as PyTorch does
    return LayerSpec("conv", params)


def _residual(body: list[LayerSpec], shortcut: list[LayerSpec]) -> list[LayerSpec]:
    """The residual block, then the ReLU ResNets apply after the addition."""
    return [LayerSpec("residual", {}, [body, shortcut]), LayerSpec("relu")]


def _basic(depth: int) -> list[LayerSpec]:
    return _residual([_conv(depth, 3), LayerSpec("batchnorm"), LayerSpec("relu"), _conv(depth, 3),
                      LayerSpec("batchnorm")], [])


def _bottleneck(depth: int) -> list[LayerSpec]:
    inner = max(1, depth // BOTTLENECK_SQUEEZE)
    return _residual([_conv(inner, 1), LayerSpec("batchnorm"), LayerSpec("relu"), _conv(inner, 3),
                      LayerSpec("batchnorm"), LayerSpec("relu"), _conv(depth, 1), LayerSpec("batchnorm")], [])


def _downsampling(depth: int) -> list[LayerSpec]:
    wide = 2 * depth
    return _residual([_conv(wide, 3, stride=2), LayerSpec("batchnorm"), LayerSpec("relu"), _conv(wide, 3),
                      LayerSpec("batchnorm")],
                     [_conv(wide, 1, stride=2), LayerSpec("batchnorm")])


def _inception(depth: int) -> list[LayerSpec]:
    """GoogLeNet's module 3a (Szegedy et al. 2015, table 1), whatever the depth fed: 256 deep out."""
    def unit(filters: int, size: int) -> list[LayerSpec]:
        return [_conv(filters, size), LayerSpec("batchnorm"), LayerSpec("relu")]

    pool = LayerSpec("maxpool", {"size": 3, "stride": 1, "pad": 1})
    return [LayerSpec("concat", {}, [unit(64, 1), unit(96, 1) + unit(128, 3), unit(16, 1) + unit(32, 5),
                                     [pool] + unit(32, 1)])]


TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("basic-residual", "Basic residual block",
             "Two 3x3 convolutions with batch norm added to the unchanged input, then a ReLU: the block of "
             "ResNet-18 and ResNet-20 (keeps the volume).", "basic-residual", _basic),
    Template("bottleneck-residual", "Bottleneck residual block",
             "A 1x1 convolution narrows the depth to a quarter, a 3x3 works there and a 1x1 widens it back, "
             "added to the input, then a ReLU: the block of ResNet-50 (keeps the volume).",
             "bottleneck-residual", _bottleneck),
    Template("downsampling-residual", "Downsampling residual block",
             "Halves the width and height and doubles the depth with stride-2 convolutions, its shortcut a "
             "1x1 stride-2 projection with batch norm: the first block of a ResNet stage.",
             "downsampling-residual", _downsampling),
    Template("inception", "Inception module",
             "Four branches on the same input (1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pool then 1x1) "
             "stacked along depth: GoogLeNet's module 3a, 256 deep.", "inception", _inception),
)}


def volume_at(inference: Inference, point: Path) -> Volume | None:
    """The volume fed to a block inserted at point (an insertion point, engine.tree): the output of the
    block before it in its lane, else the lane's input (its container's, or the network's). None when
    it cannot be computed."""
    point = tuple(point)
    if point[-1] > 0:
        before = inference.block(point[:-1] + (point[-1] - 1,))
        return before.output if before is not None else None
    if len(point) == 1:
        first = inference.block((0,))
        return first.input if first is not None else inference.input
    container = inference.block(point[:-2])
    return container.input if container is not None else None
