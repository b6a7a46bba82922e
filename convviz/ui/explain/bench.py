"""The GUI half of `convviz bench --only interpret`: each method run in the Explain tab's worker while a
10 ms timer ticks on the GUI thread; the gaps between ticks show whether the GUI thread ever waits."""
from __future__ import annotations

import os
import time

from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

from ...interpret.subject import Subject
from ..bench import _application
from .tab import ExplainTab


def gui_bench(subject: Subject, data, methods: tuple[str, ...]) -> None:
    """Each of methods run in the Explain tab's worker on data's first test image while a 10 ms timer
    ticks on the GUI thread."""
    app = _application()
    tab = ExplainTab()
    tab.show_error = lambda title, text: print(f"  error: {title}: {text}")
    tab.resize(1200, 760)
    tab.show()
    tab.set_subject(subject, "the benchmark's network")
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
    for name in methods:
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
