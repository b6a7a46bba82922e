"""File > Export: the dialog offers the run's weights only when they fit and hold still, writes off the
GUI thread, and says in one line what was written or what is wrong."""
import numpy as np

from convviz.data import Cifar10
from convviz.engine import Network
from convviz.training import TrainConfig, Trainer
from convviz.ui.export_dialog import ExportDialog

WAIT = 20_000  # ms: the machine is shared


def random_cifar(n_train=20, n_test=10):
    rng = np.random.default_rng(0)
    return Cifar10(rng.integers(0, 256, (n_train, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n_train),
                   rng.integers(0, 256, (n_test, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n_test),
                   [f"class{k}" for k in range(10)], None)


def wait_for_export(qtbot, window):
    qtbot.waitUntil(lambda: not window.exporter.busy(), timeout=WAIT)


def test_a_weights_file_becomes_a_pytorch_file_and_the_status_bar_says_so(qtbot, window, tmp_path, started_threads):
    arch = window.current_architecture()
    Network(arch, seed=2).save_weights(tmp_path / "w.npz")
    dialog = ExportDialog(arch, "convnetjs", window.dashboard, str(tmp_path), window)
    qtbot.addWidget(dialog)
    assert not dialog.use_run.isEnabled() and "no run yet" in dialog.use_run.text()
    assert dialog.use_file.isChecked() and not dialog.export_button.isEnabled()
    assert dialog.hint.text() == "Choose the weights file."
    dialog.weights_path.setText(str(tmp_path / "w.npz"))
    assert dialog.export_button.isEnabled()
    dialog.formats.button(1).setChecked(True)                      # ONNX: the suffix follows, None is not offered
    assert dialog.out_path.text().endswith("convnetjs.onnx") and not dialog.use_none.isEnabled()
    dialog.formats.button(0).setChecked(True)
    assert window.exporter.start(dialog.request())
    wait_for_export(qtbot, window)
    assert window.statusBar().currentMessage() == f"Wrote {tmp_path / 'convnetjs.py'} (PyTorch)"
    assert 'load_weights(model, "w.npz")' in (tmp_path / "convnetjs.py").read_text()
    assert not window.shown_errors


def test_weights_that_do_not_fit_are_reported_in_one_line(qtbot, window, tmp_path, started_threads):
    other = window.current_architecture()
    other.layers[0].params["filters"] = 4
    Network(other).save_weights(tmp_path / "w.npz")
    dialog = ExportDialog(window.current_architecture(), "net", window.dashboard, str(tmp_path), window)
    qtbot.addWidget(dialog)
    dialog.weights_path.setText(str(tmp_path / "w.npz"))
    window.exporter.start(dialog.request())
    wait_for_export(qtbot, window)
    (title, text), = window.shown_errors
    assert title == "Cannot export the network" and "\n" not in text
    assert "does not fit this architecture" in text and "0.weight" in text
    assert not (tmp_path / "net.py").exists()


def test_the_runs_weights_and_settings_go_with_the_pytorch_file(qtbot, window, tmp_path, started_threads,
                                                                  monkeypatch):
    arch = window.current_architecture()
    trainer = Trainer(arch, random_cifar(), TrainConfig(optimizer="adam", val_split=5, batch_size=4))
    window.dashboard.trainer = trainer                               # a finished run: its weights hold still
    window.document.path = tmp_path / "mine.json"                    # the dialog proposes tmp_path/mine.py
    monkeypatch.setattr(ExportDialog, "exec", lambda self: ExportDialog.DialogCode.Accepted)
    window.export_network_dialog()
    wait_for_export(qtbot, window)
    assert window.statusBar().currentMessage() == f"Wrote {tmp_path / 'mine.py'} and its weights mine-weights.npz (PyTorch)"
    text = (tmp_path / "mine.py").read_text()
    assert '"optimizer": "adam"' in text and "those of the run, at step 0" in text
    exported = Network(arch)
    exported.load_weights(tmp_path / "mine-weights.npz")
    for key, a in trainer.net.state().items():
        np.testing.assert_array_equal(exported.state()[key], a)


def test_the_run_is_not_offered_for_another_network(qtbot, window):
    window.dashboard.trainer = Trainer(window.current_architecture(), random_cifar(), TrainConfig(val_split=5))
    window.builder.select(0)
    window.builder.inspector.editors["filters"].setValue(8)
    dialog = ExportDialog(window.current_architecture(), "net", window.dashboard, "", window)
    qtbot.addWidget(dialog)
    assert not dialog.use_run.isEnabled() and "the run trains another network" in dialog.use_run.text()


def test_file_menu_offers_the_export(window):
    actions = window.menuBar().actions()[0].menu().actions()
    assert window.export_network_action in actions

