"""`convviz bench --only interpret`: how long each Explain method takes on the ConvNetJS net and one
32x32 image (targets: saliency and Grad-CAM under 50 ms, occlusion at stride 2 under 1 s, a class
model of 200 steps under 5 s), and over the sample's 1,017 test images (accuracy against 6 epsilons
under 15 s; top images, the t-SNE embedding). Then the same jobs run in the Explain tab's worker while
a 10 ms timer ticks on the GUI thread (convviz/ui/explain/bench.py): the gaps between ticks say whether
the GUI thread ever blocks. Weights are the engine's initialisation: speed does not depend on training.
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

from ..data import Cifar10, Normalizer, load_cifar10
from ..interpret.methods import ImageSet, Options, explain
from ..interpret.subject import Subject
from ..paths import SAMPLE
from .engine import convnetjs_net
from .training import synthetic_cifar

TARGETS = {"saliency": 0.05, "gradcam": 0.05, "occlusion": 1.0, "class-model": 5.0, "epsilon-curve": 15.0}
ONE_IMAGE = ("saliency", "smoothgrad", "gradcam", "occlusion", "fgsm", "targeted", "deepdream", "class-model")
WHOLE_SET = ("epsilon-curve", "top-images", "embedding")


def _test_data() -> tuple[Cifar10, str]:
    """The sample, or as many random images when the sample is not beside the project."""
    try:
        data = load_cifar10(SAMPLE)
        return data, f"the sample's {len(data.test_labels):,} test images"
    except (OSError, ValueError):
        return synthetic_cifar(1000, 1017), "1,017 random images (the sample was not found)"


def _subject(images: np.ndarray) -> Subject:
    from ..engine import Network

    net = Network(convnetjs_net(), seed=0)
    return Subject.copied(convnetjs_net(), net.state(), Normalizer.fit(images), [f"class {k}" for k in range(10)])


def _seconds(fn, reps: int) -> tuple[float, float]:
    """(median, best) seconds of fn over reps runs after one warm-up."""
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def _verdict(name: str, median: float) -> str:
    target = TARGETS.get(name)
    if target is None:
        return ""
    return f"  (target < {target * 1000:.0f} ms: {'met' if median < target else 'MISSED'})" if target < 1 else \
        f"  (target < {target:.0f} s: {'met' if median < target else 'MISSED'})"


def run(quick: bool = False) -> None:
    data, what = _test_data()
    subject = _subject(data.train_images)
    test = ImageSet(data.test_images, data.test_labels)
    image = data.test_images[0]
    print(f"interpret: ConvNetJS net, one 32x32 image; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name in ONE_IMAGE:
        reps = 1 if name in ("class-model",) else (5 if quick else 21) if name in ("saliency", "gradcam", "fgsm") else 3
        median, best = _seconds(lambda: explain(subject, name, image, Options(), test), reps)
        print(f"  {name:<14} median {median * 1000:8.1f} ms, best {best * 1000:8.1f} ms over {reps}{_verdict(name, median)}")
    print(f"interpret: over {what}")
    for name in WHOLE_SET:
        start = time.perf_counter()
        explain(subject, name, image, Options(), test, cache={})
        seconds = time.perf_counter() - start
        print(f"  {name:<14} {seconds:8.2f} s{_verdict(name, seconds)}")
    from ..ui.explain.bench import gui_bench  # Qt lives in convviz/ui only

    gui_bench(subject, data, ONE_IMAGE + WHOLE_SET)
