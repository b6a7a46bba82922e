"""`convviz bench --only interpret`: how long each Explain method takes on the ConvNetJS net and one
32x32 image (targets: saliency and Grad-CAM under 50 ms, occlusion at stride 2 under 1 s, a class
model of 200 steps under 5 s), and over the sample's 1,017 test images (accuracy against 6 epsilons
under 15 s; top images, the t-SNE embedding). Then, when Qt is there, the same jobs run in the Explain
tab's worker while a 10 ms timer ticks on the GUI thread: the longest gap between ticks says whether
the GUI thread ever blocks. Weights are the engine's initialisation: speed does not depend on training.
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

from ..data import Normalizer, load_cifar10
from ..interpret.methods import ImageSet, Options, explain
from ..interpret.subject import Subject
from ..paths import SAMPLE
from .engine import convnetjs_net

TARGETS = {"saliency": 0.05, "gradcam": 0.05, "occlusion": 1.0, "class-model": 5.0, "epsilon-curve": 15.0}
ONE_IMAGE = ("saliency", "smoothgrad", "gradcam", "occlusion", "fgsm", "targeted", "deepdream", "class-model")
WHOLE_SET = ("epsilon-curve", "top-images", "embedding")


def _test_images() -> tuple[np.ndarray, np.ndarray, str]:
    """The sample's test images, or as many random ones when the sample is not beside the project."""
    try:
        data = load_cifar10(SAMPLE)
        return data.test_images, data.test_labels, f"the sample's {len(data.test_labels):,} test images"
    except (OSError, ValueError):
        rng = np.random.default_rng(0)
        return (rng.integers(0, 256, (1017, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 1017),
                "1,017 random images (the sample was not found)")


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
    images, labels, what = _test_images()
    subject = _subject(images)
    test = ImageSet(images, labels)
    image = images[0]
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
    try:
        import PySide6  # noqa: F401
    except ImportError:
        return
    _gui_bench(subject, test)


def _gui_bench(subject: Subject, test: ImageSet) -> None:
    """Each method in the Explain tab's worker while a 10 ms timer ticks on the GUI thread."""
    if "QT_QPA_PLATFORM" not in os.environ and not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    from ..ui.app import make_application
    from ..ui.explain import ExplainTab

    app = make_application(["convviz-bench"])
    tab = ExplainTab()
    tab.show_error = lambda title, text: print(f"  error: {title}: {text}")
    tab.resize(1200, 760)
    tab.show()
    tab.set_subject(subject, "the benchmark's network")
    data = type("Data", (), {"test_images": test.images, "test_labels": test.labels,
                             "label_names": subject.label_names})()
    tab.set_data(data)
    clock, gaps = QElapsedTimer(), []
    timer = QTimer()
    timer.setInterval(10)

    def tick():
        gaps.append(clock.restart())

    timer.timeout.connect(tick)

    def settle():
        loop = QEventLoop()
        while tab.busy():
            loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    settle()
    print("interpret in the Explain tab: gaps between 10 ms timer ticks on the GUI thread while each job runs in "
          "the worker and its result is drawn (the GUI thread never waits for a job; it shares 2 cores and the "
          f"GIL with it; load average {os.getloadavg()[0]:.1f})")
    for name in ONE_IMAGE + WHOLE_SET:
        tab.cache.clear()
        tab.method.setCurrentIndex(tab.method.findData(name))
        settle()
        gaps.clear()
        clock.start()
        timer.start()
        started = time.perf_counter()
        tab.run()
        settle()
        timer.stop()
        seconds = time.perf_counter() - started
        late = sorted(gaps[1:]) or [0]
        print(f"  {name:<14} job {seconds:6.2f} s, {len(gaps):5d} ticks, gap p99 {late[int(0.99 * (len(late) - 1))]:4d} ms, "
              f"longest {late[-1]:4d} ms")
    tab.shutdown()
    tab.close()
    app.processEvents()
