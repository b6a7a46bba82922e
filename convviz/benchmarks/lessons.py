"""`convviz bench --only lessons`: sliding ConvNetJS over a 96x96 mosaic of 3x3 sample test images.
One pass of the network with its fc layer converted to a conv (9x9 positions, 8 pixels apart) against
cropping the 81 32x32 windows and running the original network on them, in one batch and one window
at a time, timed interleaved in one process. Weights are the engine's initialisation: speed does not
depend on training.
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info

from ..data import Normalizer
from ..engine import Network
from ..interpret.slide import Slider, mosaic, slide
from ..interpret.subject import Subject
from .engine import convnetjs_net
from .interpret import _test_data


def run(quick: bool = False) -> None:
    data, what = _test_data()
    arch = convnetjs_net()
    subject = Subject.copied(arch, Network(arch, seed=0).state(), Normalizer.fit(data.train_images),
                             [f"class {k}" for k in range(10)])
    image = mosaic(data.test_images[:9], 3, 3)
    reps = 5 if quick else 15
    kernels = ", ".join(f"{i['internal_api']} {i.get('architecture', '')}".strip() for i in threadpool_info()
                        if i["user_api"] == "blas")
    print(f"lessons: ConvNetJS slid over a 96x96 mosaic of 3x3 of {what}; BLAS {kernels}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; median (best) of {reps}, interleaved")
    result = slide(subject, image, repeats=1)  # the scores of both ways and their multiply-adds
    slider = Slider(subject, image.shape[2], image.shape[1])
    x = subject.normalise(image)
    windows = slider.windows(x)
    ways = {"one pass, converted net": lambda: slider.one_pass(x),
            "81 crops, one batch": lambda: slider.crops(x),
            "81 crops, one at a time": lambda: [subject.net.predict_proba(w[None]) for w in windows]}
    times = {name: [] for name in ways}
    for fn in ways.values():
        fn()  # warm-up
    for _ in range(reps):
        for name, fn in ways.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    one = statistics.median(times["one pass, converted net"])
    for name, t in times.items():
        median = statistics.median(t)
        ratio = "" if median == one else f"  {median / one:5.1f}x the one pass"
        print(f"  {name:<26} {median * 1000:8.1f} ms ({min(t) * 1000:.1f}){ratio}")
    print(f"  multiply-adds: one pass {result.macs:,}, 81 crops {result.crop_macs:,} "
          f"({result.crop_macs / result.macs:.1f}x)")
    diff = float(np.abs(result.scores - result.crops).max())
    print(f"  largest difference of a class probability between the two ways: {diff:.2g} (ConvNetJS pads its convs: "
          "a cropped window's edge sees zeros where the mosaic has neighbours)")
