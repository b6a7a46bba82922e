"""UI fixtures: QSettings and the app's data folder pointed at a temporary folder, a MainWindow whose
dialogs never block, a slice of the CIFAR-10 sample, and the folder screenshots are saved to."""
import dataclasses
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from convviz.data import load_cifar10
from convviz.ui import worker as worker_module
from convviz.ui.app import collect_garbage_in_gui_thread


@pytest.fixture(autouse=True)
def temporary_settings(tmp_path, qapp, monkeypatch):
    """Every QSettings() of a UI test (and of code it runs) reads and writes under tmp_path, and so
    does the app's data folder (resume files of runs, downloads)."""
    monkeypatch.setenv("CONVVIZ_HOME", str(tmp_path / "home"))
    qapp.setOrganizationName("ConvVizTests")
    qapp.setApplicationName("ConvVizTests")
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path / "settings"))
    collect_garbage_in_gui_thread()  # as the app does: widgets of earlier tests are never freed by a worker
    yield tmp_path / "settings"


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "convviz.ini"), QSettings.IniFormat)


@pytest.fixture
def window(qtbot, settings):
    """A MainWindow with the default network. Modal questions are replaced: closing discards changes
    (and stops a run without saving it), an interrupted run is left for later, and errors are
    collected in window.shown_errors as (title, text)."""
    from convviz.ui.main_window import MainWindow

    w = MainWindow(settings=settings)
    w.shown_errors = []
    w.ask_save_changes = lambda: "discard"
    w.ask_close_during_run = lambda: "quit"
    w.ask_resume = lambda description: "later"
    w.show_error = lambda title, text: w.shown_errors.append((title, text))
    w.show_info = lambda title, html: w.shown_errors.append((title, html))
    qtbot.addWidget(w)
    w.resize(1300, 850)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture
def started_threads(monkeypatch):
    """Every Background thread started during the test; the test fails if one is left running."""
    started = []
    original = worker_module.Background.start

    def start(self):
        started.append(self)
        original(self)

    monkeypatch.setattr(worker_module.Background, "start", start)
    yield started
    leftover = [b.thread.objectName() for b in started if b.thread.isRunning()]
    assert not leftover, f"threads still running after the test: {leftover}"


@pytest.fixture
def shots() -> Path:
    """Where tests save screenshots for people to look at: $CONVVIZ_SHOTS or /tmp/convviz-shots."""
    folder = Path(os.environ.get("CONVVIZ_SHOTS", "/tmp/convviz-shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def small_data(sample_dir):
    """300 training and 120 test images of the real sample."""
    data = load_cifar10(sample_dir)
    return dataclasses.replace(data, train_images=data.train_images[:300], train_labels=data.train_labels[:300],
                               test_images=data.test_images[:120], test_labels=data.test_labels[:120])
