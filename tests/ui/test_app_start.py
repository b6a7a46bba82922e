"""Starting the app where no window can open says so clearly instead of aborting in Qt."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the X11/Wayland check is Linux-only")
def test_main_without_a_display_explains_and_exits_1():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "needs a display" in result.stderr and "xvfb-run" in result.stderr


def test_main_without_resources_says_what_is_missing_in_a_window_and_exits_1(tmp_path, monkeypatch, capsys):
    from convviz import paths
    from convviz.ui import app

    shown = []
    monkeypatch.setattr(app, "missing_resources", lambda: paths.missing_resources(tmp_path))
    monkeypatch.setattr(app.QMessageBox, "critical", lambda parent, title, text: shown.append((title, text)))
    assert app.main([sys.executable]) == 1
    (title, text), = shown
    assert title == "ConvViz cannot start" and "no presets, no icons, no style sheet" in text and "Reinstall" in text
    assert text in capsys.readouterr().err


def test_reference_cycles_are_freed_in_the_gui_thread_only(qtbot):
    """A worker thread that makes garbage never frees it itself (it could be an old widget, and Qt
    deadlocks when a widget is deleted outside the GUI thread): the GUI thread's timer does."""
    import threading

    freed_in = []

    class Cycle:
        def __init__(self):
            self.me = self

        def __del__(self):
            freed_in.append(threading.current_thread())

    worker = threading.Thread(target=lambda: [Cycle() for _ in range(5_000)])  # 7 times gen 0's threshold
    worker.start()
    worker.join()
    assert freed_in == []
    qtbot.waitUntil(lambda: len(freed_in) == 5_000, timeout=5_000)
    assert set(freed_in) == {threading.main_thread()}
