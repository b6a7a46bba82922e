"""What the app does when things go wrong: sentences instead of exception names, a failed save that
offers another place and keeps the run, a stop that cuts a long step short between layers, a large
architecture file read off the GUI thread, and warnings shown when a run starts."""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import threading

import numpy as np
import pytest

from convviz.data import load_cifar10
from convviz.engine.files import WriteError
from convviz.model import Architecture, LayerSpec
from convviz.model.io import save_architecture
from convviz.training import Trainer
from convviz.ui.dashboard import TrainDashboard
from convviz.ui.worker import describe_error

WAIT = 20_000


def raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as e:  # with a traceback, as the workers see it
        return e


@pytest.mark.parametrize("error, says", [
    (MemoryError("Unable to allocate 14.6 TiB for an array with shape (2000000, 2000000) and data type float32"),
     "The computer ran out of memory (it needed 14.6 TiB more). Use a smaller batch size"),
    (AttributeError("'NoneType' object has no attribute 'items'"),
     "Something unexpected went wrong ('NoneType' object has no attribute 'items') in test_faults_ui.py, line"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "/x/run.npz"), "/x/run.npz: no such file or folder."),
    (WriteError("/x/run.npz", "the disk is full", errno.ENOSPC, previous=True),
     "Could not write /x/run.npz: the disk is full. The previous file is unchanged."),
    (ValueError("a message written for the user"), "a message written for the user"),
    (KeyError("config"), "Something unexpected went wrong ('config') in"),
])
def test_no_exception_name_reaches_a_dialog(error, says):
    text = describe_error(raised(error))
    assert text.startswith(says) or says in text
    assert type(error).__name__ not in text and "Error" not in text.replace("error", "")


@pytest.fixture(scope="module")
def small_data(sample_dir):
    data = load_cifar10(sample_dir)
    return dataclasses.replace(data, train_images=data.train_images[:300], train_labels=data.train_labels[:300],
                               test_images=data.test_images[:120], test_labels=data.test_labels[:120])


def net(batchnorm: bool = False) -> Architecture:
    return Architecture(layers=[LayerSpec("conv", {"filters": 4, "size": 3, "pad": 1}),
                                *([LayerSpec("batchnorm")] if batchnorm else []), LayerSpec("relu"),
                                LayerSpec("maxpool", {"size": 4}), LayerSpec("conv", {"filters": 3, "size": 3, "pad": 1}),
                                LayerSpec("relu"), LayerSpec("fc", {"units": 10}), LayerSpec("softmax")])


@pytest.fixture
def dash(qtbot, small_data):
    d = TrainDashboard(autoload=False)
    qtbot.addWidget(d)
    d.show()
    d.messages = []
    d.show_error = lambda title, text: d.messages.append((title, text))
    d.asked = []
    d.ask_save_elsewhere = lambda text: d.asked.append(text) or True
    d.set_data(small_data)
    d.set_architecture(net())
    d.settings.batch_size.setValue(25)
    d.settings.val_split.setValue(50)
    d.settings.epochs.setValue(1)
    yield d
    d.shutdown()
    assert not d.running()


def test_a_failed_save_offers_another_place_and_keeps_the_run(qtbot, dash, tmp_path, monkeypatch, small_data):
    from PySide6.QtWidgets import QFileDialog

    dash.settings.max_steps.setValue(3)
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.start()
    os.mkfifo(tmp_path / "pipe.npz")  # what cannot be written over: a named pipe (like /dev/full)
    elsewhere = tmp_path / "elsewhere.npz"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args: (str(elsewhere), ""))
    assert dash.save_checkpoint(tmp_path / "pipe.npz")
    assert dash.asked == [f"Could not write {tmp_path / 'pipe.npz'}: it is a named pipe (FIFO), which ConvViz never "
                          "replaces; choose a file name. The previous file is unchanged."]
    assert Trainer.from_checkpoint(elsewhere, small_data).step == 3 and dash.checkpoint_path == elsewhere

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    dash.asked.clear()
    dash.ask_save_elsewhere = lambda text: dash.asked.append(text) or False  # the user cancels
    assert not dash.save_checkpoint(tmp_path / "full.npz")
    assert dash.asked == [f"Could not write {tmp_path / 'full.npz'}: the disk is full. Nothing was written."]
    assert dash.trainer is not None and dash.trainer.step == 3 and dash.save_button.isEnabled()  # still here
    assert not (tmp_path / "full.npz").exists() and not [p for p in tmp_path.iterdir() if p.suffix == ".part"]


def test_a_hand_edited_checkpoint_is_one_sentence_at_load_not_at_continue(qtbot, dash, tmp_path, small_data):
    trainer = Trainer(net(), small_data, dataclasses.replace(dash.settings.config(), max_steps=2, snapshot_rate=0))
    list(trainer.run())
    trainer.save_checkpoint(tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz") as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta["config"] = None
    np.savez(tmp_path / "edited.npz", **arrays, meta=np.array(json.dumps(meta)))
    dash.load_checkpoint(tmp_path / "edited.npz")
    qtbot.waitUntil(lambda: bool(dash.messages), timeout=WAIT)
    assert dash.messages == [("Cannot load the checkpoint", f"{tmp_path / 'edited.npz'}: the checkpoint's config must "
                                                            "be an object of training settings, found null")]
    assert dash.loaded_trainer is None and dash.start_button.text() == "Start"


def test_stop_cuts_a_long_step_short_between_layers(qtbot, dash, monkeypatch):
    """A layer that takes as long as the test wants: Stop, pressed while it runs, ends the run after that
    layer; the unfinished step is not counted (a stop between steps would have counted it)."""
    from convviz.engine import kernels

    in_layer, may_finish = threading.Event(), threading.Event()
    conv = kernels.conv_forward
    calls = []

    def slow_conv(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # the first conv of step 2 (two chunks and two convs a step)
            in_layer.set()
            may_finish.wait(WAIT / 1000)
        return conv(*args, **kwargs)

    monkeypatch.setattr(kernels, "conv_forward", slow_conv)
    dash.settings.epochs.setValue(50)
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT) as finished:
        dash.start()
        qtbot.waitUntil(in_layer.is_set, timeout=WAIT)
        dash.stop()
        may_finish.set()
    assert finished.args == ["stopped"]
    assert dash.trainer.step == 1 and dash.status["state"].text().startswith("Finished — stopped on request after 1 step,")


def test_warnings_show_when_a_run_starts(qtbot, dash):
    dash.set_architecture(net(batchnorm=True))
    dash.settings.batch_size.setValue(1)
    dash.settings.max_steps.setValue(2)
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT):
        dash.start()
    assert dash.banner.isVisible()  # the banner at the top of the tab, where the user looks
    assert "With batch size 1, block 1 (Batch norm) normalises each image by itself" in dash.banner.label.text()


def test_a_memory_refusal_is_a_sentence(qtbot, dash, monkeypatch):
    from convviz.model import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 3_000_000)
    dash.settings.batch_size.setValue(250)
    with qtbot.waitSignal(dash.runFinished, timeout=WAIT) as finished:
        dash.start()
    assert finished.args == ["failed"]
    title, text = dash.messages[0]
    assert title == "Training failed" and text.startswith("Training at batch size 250 needs about ")
    assert "a batch size of" in text and "Error" not in text


def test_a_large_architecture_file_is_read_off_the_gui_thread(qtbot, window, tmp_path, monkeypatch):
    from convviz.ui import main_window

    path = tmp_path / "big.json"
    arch = Architecture(layers=[LayerSpec("relu") for _ in range(300)] + [LayerSpec("fc", {"units": 10}),
                                                                          LayerSpec("softmax")])
    save_architecture(arch, path)
    assert path.stat().st_size > 5_000
    monkeypatch.setattr(main_window, "LARGE_FILE", 5_000)
    threads = []
    read = main_window.read_architecture
    monkeypatch.setattr(main_window, "read_architecture", lambda p: (threads.append(threading.current_thread()),
                                                                     read(p))[1])
    assert window.open_file(path)
    assert window.opening_bar.isVisibleTo(window) and "Opening big.json" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.document.path == path and not window.opening_bar.isVisibleTo(window), timeout=WAIT)
    assert threads and threads[0] is not threading.main_thread()
    assert len(window.current_architecture().layers) == 302
    assert not window.isWindowModified()
    broken = tmp_path / "broken.json"
    broken.write_text("[" * 6_000)
    assert window.open_file(broken)
    qtbot.waitUntil(lambda: bool(window.shown_errors), timeout=WAIT)
    title, text = window.shown_errors[-1]
    assert title == "Cannot open broken.json" and "Error" not in text and window.document.path == path


def test_a_large_file_is_taken_in_on_the_gui_thread(qtbot, window, tmp_path, monkeypatch):
    """Only the reading runs in the worker: the document and widgets change on the GUI thread (a lambda
    connected to the worker's signal would run in the worker's thread and touch widgets from there)."""
    from convviz.ui import main_window

    path = tmp_path / "big.json"
    save_architecture(Architecture(layers=[LayerSpec("relu") for _ in range(300)] +
                                   [LayerSpec("fc", {"units": 10}), LayerSpec("softmax")]), path)
    monkeypatch.setattr(main_window, "LARGE_FILE", 5_000)
    taken_in = []
    opened = window._file_opened
    monkeypatch.setattr(window, "_file_opened", lambda p, r: (taken_in.append(threading.current_thread()), opened(p, r)))
    assert window.open_file(path)
    qtbot.waitUntil(lambda: window.document.path == path, timeout=WAIT)
    assert taken_in == [threading.main_thread()]
