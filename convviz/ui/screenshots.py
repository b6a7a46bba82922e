"""The README's screenshots, taken offscreen so they can be refreshed:

    python -m convviz.ui.screenshots docs/screenshots

The builder (the ConvNetJS preset, then a stride that does not fit, with its fixes), then the Train
tab after a short seeded run of that network on the CIFAR-10 sample (../shared/cifar10-sample, else
the CIFAR-10 that `convviz train` would find): the curves, the filters, the activations of one test
image and the confusion matrix. Settings are kept in a temporary folder, so the window looks the same
on every machine and changes nothing of the user's. PNGs are written with a 256-colour palette to keep
them small.
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import os
import sys
import tempfile
from pathlib import Path

from ..units import size_bytes

TRAIN_IMAGES, TEST_IMAGES = 4000, 1000  # of the sample: a run of under a minute that already learns something
WINDOW = (1280, 800)
CONFIDENT = 0.6  # the activations shown are those of the first test image classified right at least this surely


def load_sample(train: int = TRAIN_IMAGES, test: int = TEST_IMAGES):
    """The first train and test images of the CIFAR-10 sample (or of the CIFAR-10 found), or None."""
    from ..data import find_cifar10, load_cifar10
    from ..paths import SAMPLE

    found = SAMPLE if SAMPLE.is_dir() else getattr(find_cifar10(), "path", None)
    if found is None:
        return None
    data = load_cifar10(found)
    return dataclasses.replace(data, train_images=data.train_images[:train], train_labels=data.train_labels[:train],
                               test_images=data.test_images[:test], test_labels=data.test_labels[:test])


def save(widget, path: Path) -> Path:
    """widget's picture as a palette PNG at path."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().save(buffer, "PNG")
    picture = Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")
    picture.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    return path


def take(folder, data=None, epochs: int = 5) -> list[Path]:
    """Take the screenshots into folder (created) -> their paths; the Train tab's only with data."""
    from PySide6.QtCore import QSettings

    from .dashboard.benchmark import spin
    from .main_window import MainWindow

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with tempfile.TemporaryDirectory() as home:
        window = MainWindow(settings=QSettings(str(Path(home) / "convviz.ini"), QSettings.Format.IniFormat))
        window.dashboard.show_error = lambda title, text: print(f"screenshots: {title}: {text}", file=sys.stderr)
        window.resize(*WINDOW)
        window.show()
        try:
            window.builder.select((0,))
            spin(lambda: False, 0.2)
            paths.append(save(window, folder / "builder.png"))
            window.builder.inspector.editors["stride"].setValue(3)
            spin(lambda: False, 0.2)
            paths.append(save(window, folder / "builder-fix.png"))
            window.document.undo_stack.undo()
            if data is not None:
                paths += _train_tab(window, folder, data, epochs, spin)
            window.tabs.setCurrentWidget(window.builder)
            window.load_preset("resnet20")
            window.builder.select((9,))  # the first residual block with a projection shortcut
            spin(lambda: False, 0.2)
            paths.append(save(window, folder / "builder-resnet20.png"))
        finally:
            window.dashboard.shutdown()
            window.close()
    return paths


def _train_tab(window, folder: Path, data, epochs: int, spin) -> list[Path]:
    dash = window.dashboard
    dash.set_data(data)
    window.tabs.setCurrentWidget(dash)
    s = dash.settings
    s.epochs.setValue(epochs)
    s.val_split.setValue(len(data.train_labels) // 10)
    s.seed.setValue(0)
    s.augment.setChecked(False)  # few epochs: plain images learn faster
    dash.start()
    spin(lambda: not dash.running(), 1800)
    dash.activations.index.setValue(_probe_index(data, dash.predictions.probabilities))
    spin(lambda: not dash.probe_jobs.busy(), 60)  # its snapshot, with the trained weights
    matrix = dash.confusion.confusion
    if matrix is not None:  # the most frequent mistake, with its pictures
        off = matrix.copy()
        off[range(len(off)), range(len(off))] = 0
        dash.confusion.show_cell(*divmod(int(off.argmax()), len(off)))
    paths = []
    for name, view in (("train", dash.curves), ("filters", dash.filters), ("activations", dash.activations),
                       ("confusion", dash.confusion)):
        dash.views.setCurrentWidget(view)
        spin(lambda: False, 0.3)
        dash.refresh_views(force=True)
        spin(lambda: False, 0.1)
        paths.append(save(window, folder / f"{name}.png"))
    return paths


def _probe_index(data, probabilities) -> int:
    """The first test image the run classified right with a probability of at least CONFIDENT (else 0)."""
    if probabilities is None:
        return 0
    labels = data.test_labels[:len(probabilities)]
    sure = (probabilities.argmax(axis=1) == labels) & (probabilities.max(axis=1) >= CONFIDENT)
    return int(sure.argmax()) if sure.any() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m convviz.ui.screenshots", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="where to write the PNGs (the README shows docs/screenshots)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of the short run (default: %(default)s)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings

    from .app import make_application

    app = make_application([sys.argv[0]])
    data = load_sample()
    if data is None:
        print("screenshots: no CIFAR-10 found: only the builder's are taken", file=sys.stderr)
    with tempfile.TemporaryDirectory() as home:  # every QSettings() reads and writes here, not the user's
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, home)
        for path in take(args.folder, data, args.epochs):
            print(f"{path} ({size_bytes(path.stat().st_size)})")
        app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
