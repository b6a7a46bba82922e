"""Model speed: infer() on 100 blocks (the builder runs it on every keystroke; target < 5 ms), as a flat
stack and as a tree of residuals and concats, valid and broken (every error's fixes searched and judged
on the whole network: target well under 50 ms for the ConvNetJS net with a broken block), beside the
JSON round trip and the summary table, all measured in one process."""
from __future__ import annotations

import statistics
import time

from ..engine import Volume
from ..model import Architecture, LayerSpec, infer
from ..model.io import format_architecture, parse_architecture
from ..model.presets import load_preset
from ..model.summary import summary_table

BLOCKS = 100
TARGET_MS = 5.0
JUDGED_TARGET_MS = 50.0


def hundred_blocks(broken: bool = False) -> Architecture:
    """32x32x3 -> 33 conv/batchnorm/relu triples (pad 1, so the volume stays 32x32) -> fc 10 -> softmax:
    100 blocks. broken: a misspelt hyperparameter in every tenth block, and the last conv a stride-2
    3x3 one on 32x32, which is not whole (so fixes are searched)."""
    triples = range(0, BLOCKS - 2, 3)  # where each conv/batchnorm/relu triple starts
    layers = []
    for _ in triples:
        layers += [LayerSpec("conv", {"filters": 16, "size": 3, "pad": 1}), LayerSpec("batchnorm"), LayerSpec("relu")]
    layers = layers[:BLOCKS - 2] + [LayerSpec("fc", {"units": 10}), LayerSpec("softmax")]
    if broken:
        for i in range(0, BLOCKS - 2, 10):
            layers[i].params["strdie"] = 1
        layers[triples[-1]].params.update(stride=2, pad=0)  # the last triple's conv
    return Architecture(Volume(32, 32, 3), layers)


def hundred_block_tree(broken: bool = False) -> Architecture:
    """100 blocks, containers and their contents counted, on 16x16x16: a conv/batchnorm/relu stem, 12 units
    of a residual (conv, batchnorm, relu, conv, batchnorm; identity shortcut) and a relu, an inception-
    style concat (GoogLeNet's four branches), batchnorm, relu, max pool, fc 10, softmax. broken: the
    first residual's body gets a stride-2 conv (its volume no longer matches the identity shortcut: the
    projection fix is searched and judged) and one conv a misspelt hyperparameter."""
    def conv(size=3, **extra):
        return LayerSpec("conv", {"filters": 16, "size": size, "pad": size // 2, **extra})

    layers = [conv(), LayerSpec("batchnorm"), LayerSpec("relu")]
    for _ in range(12):
        body = [conv(), LayerSpec("batchnorm"), LayerSpec("relu"), conv(), LayerSpec("batchnorm")]
        layers += [LayerSpec("residual", {}, [body, []]), LayerSpec("relu")]
    branches = [[conv(1)], [conv(1), conv(3)], [conv(1), conv(5)],
                [LayerSpec("maxpool", {"size": 3, "stride": 1, "pad": 1}), conv(1)]]
    layers += [LayerSpec("concat", {}, branches), LayerSpec("batchnorm"), LayerSpec("relu"),
               LayerSpec("maxpool", {"size": 2}), LayerSpec("fc", {"units": 10}), LayerSpec("softmax")]
    arch = Architecture(Volume(16, 16, 16), layers)
    if broken:
        arch.block((3, 0, 0)).params.update(stride=2, size=2, pad=0)
        arch.block((11, 0, 3)).params["strdie"] = 1
    return arch


def count_blocks(layers: list) -> int:
    return sum(1 + sum(count_blocks(lane) for lane in (b.lanes or [])) for b in layers)


def broken_convnetjs() -> Architecture:
    """The ConvNetJS net with its second conv at stride 2 (16x16 in, 7.5 out): three fixes to judge."""
    arch = load_preset("convnetjs")
    arch.layers[3].params.update(stride=2, pad=1)
    return arch


def _median_ms(fns: list, reps: int) -> list[float]:
    """The median time of each of fns in ms, measured interleaved (one call of each per round) so that
    the ratios between them are side by side on a shared machine."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(reps):
        for fn, spent in zip(fns, times):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) * 1000 for spent in times]


def run(quick: bool = False) -> None:
    reps = 20 if quick else 200
    valid, broken = hundred_blocks(), hundred_blocks(broken=True)
    tree, broken_tree = hundred_block_tree(), hundred_block_tree(broken=True)
    assert len(valid.layers) == len(broken.layers) == count_blocks(tree.layers) == BLOCKS
    assert infer(tree).valid and infer(valid).valid
    convnetjs = broken_convnetjs()
    judged = infer(convnetjs)
    fixes = sum(len(p.fixes) for p in judged.errors)
    errors, tree_errors = len(infer(broken).errors), len(infer(broken_tree).errors)
    vgg = load_preset("vgg16")
    text = format_architecture(vgg)
    vgg_inference = infer(vgg)
    cases = [
        (f"infer, {BLOCKS} valid blocks", lambda: infer(valid)),
        (f"infer, {BLOCKS} blocks in a tree, valid", lambda: infer(tree)),
        (f"infer, {BLOCKS} blocks, {errors} errors, fixes judged", lambda: infer(broken)),
        (f"infer, {BLOCKS}-block tree, {tree_errors} errors, fixes judged", lambda: infer(broken_tree)),
        (f"infer, convnetjs broken, {fixes} fixes judged", lambda: infer(convnetjs)),
        (f"infer, vgg16 preset ({len(vgg.layers)} blocks)", lambda: infer(vgg)),
        ("JSON parse + check, vgg16", lambda: parse_architecture(text)),
        ("JSON format, vgg16", lambda: format_architecture(vgg)),
        ("summary table, vgg16", lambda: summary_table(vgg, vgg_inference)),
    ]
    rows = list(zip([name for name, _ in cases], _median_ms([fn for _, fn in cases], reps)))
    print(f"model (median of {reps} interleaved runs; the builder's target is {TARGET_MS:g} ms for {BLOCKS} blocks)")
    base = rows[0][1]
    for name, ms in rows:
        print(f"  {name:<52} {ms:8.3f} ms  {ms / base:6.2f}x the valid 100-block infer")
    for name, ms, target in ((f"{BLOCKS}-block infer", base, TARGET_MS),
                             (f"{BLOCKS}-block tree infer", rows[1][1], TARGET_MS),
                             ("judged convnetjs infer", rows[4][1], JUDGED_TARGET_MS)):
        verdict = "meets" if ms < target else "MISSES"
        print(f"  {name} {verdict} the {target:g} ms target ({ms:.3f} ms)")
