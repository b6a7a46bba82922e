"""Model speed: infer() on a 100-block stack (the builder runs it on every keystroke; target < 5 ms),
valid and with errors (where fixes are searched), beside the JSON round trip
and the summary table of the biggest preset, all measured in one process."""
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


def hundred_blocks(broken: bool = False) -> Architecture:
    """32x32x3 -> 33 conv/batchnorm/relu triples (pad 1, so the volume stays 32x32) -> fc 10 -> softmax:
    100 blocks. broken: a misspelt hyperparameter in every tenth block, and the last conv a stride-2
    3x3 one on 32x32, which is not whole (so fixes are searched)."""
    layers = []
    while len(layers) < BLOCKS - 2:
        layers += [LayerSpec("conv", {"filters": 16, "size": 3, "pad": 1}), LayerSpec("batchnorm"), LayerSpec("relu")]
    layers = layers[:BLOCKS - 2] + [LayerSpec("fc", {"units": 10}), LayerSpec("softmax")]
    if broken:
        for i in range(0, BLOCKS - 2, 10):
            layers[i].params["strdie"] = 1
        last_conv = max(i for i, layer in enumerate(layers) if layer.type == "conv")
        layers[last_conv].params.update(stride=2, pad=0)
    return Architecture(Volume(32, 32, 3), layers)


def _median_ms(fn, reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def run(quick: bool = False) -> None:
    reps = 20 if quick else 200
    valid, broken = hundred_blocks(), hundred_blocks(broken=True)
    assert len(valid.layers) == len(broken.layers) == BLOCKS
    errors = len(infer(broken).errors)
    vgg = load_preset("vgg16")
    text = format_architecture(vgg)
    vgg_inference = infer(vgg)
    rows = [
        (f"infer, {BLOCKS} valid blocks", _median_ms(lambda: infer(valid), reps)),
        (f"infer, {BLOCKS} blocks, {errors} errors with fixes", _median_ms(lambda: infer(broken), reps)),
        (f"infer, vgg16 preset ({len(vgg.layers)} blocks)", _median_ms(lambda: infer(vgg), reps)),
        ("JSON parse + check, vgg16", _median_ms(lambda: parse_architecture(text), reps)),
        ("JSON format, vgg16", _median_ms(lambda: format_architecture(vgg), reps)),
        ("summary table, vgg16", _median_ms(lambda: summary_table(vgg, vgg_inference), reps)),
    ]
    print(f"model (median of {reps} runs; the builder's target is {TARGET_MS:g} ms for {BLOCKS} blocks)")
    base = rows[0][1]
    for name, ms in rows:
        print(f"  {name:<45} {ms:8.3f} ms  {ms / base:6.2f}x the valid 100-block infer")
    verdict = "meets" if base < TARGET_MS else "MISSES"
    print(f"  100-block infer {verdict} the {TARGET_MS:g} ms target "
          f"({base:.3f} ms, {base / BLOCKS * 1000:.1f} us a block)")
