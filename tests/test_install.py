"""The package works installed, from any folder: a wheel built from the repository and installed into
a fresh virtual environment runs `convviz summary vgg16` and starts the window offscreen with the
presets, icons and style sheet it carries; without them it says so in one line.

No downloads: the environment sees this machine's packages (--system-site-packages) and only the
wheel is installed into it (--no-deps), over the editable install the tests otherwise use."""
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "convviz", "resources")
PRESETS = len(list((REPO / "resources" / "presets").glob("*.json")))

START_WINDOW = """
import convviz
from convviz.ui.app import make_application
from convviz.ui.builder.style import icon
from convviz.ui.main_window import MainWindow

app = make_application([])
window = MainWindow()
window.show()
app.processEvents()
print(convviz.__file__)
print(len(app.styleSheet()), len(window.preset_actions), icon("conv").isNull(), window.document.name)
window.close()
app.processEvents()
"""


def run(args, cwd, env, check=True):
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the environment's bin folder, a working folder outside the repository, the environment variables)."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"  # a copy, so the build leaves no build/ or egg-info in the repository
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        copy(REPO / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                           if (REPO / name).is_dir() else {}))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(root / "config"), CONVVIZ_HOME=str(root / "data"))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(root / "dist"), str(source)], root, env)
    wheel, = (root / "dist").glob("convviz-*.whl")
    venv.create(root / "env", system_site_packages=True, with_pip=False)  # pip comes from the system
    bin_dir = root / "env" / ("Scripts" if os.name == "nt" else "bin")
    run([str(bin_dir / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall", "-q",
         str(wheel)], root, env)
    work = root / "elsewhere"
    work.mkdir()
    return bin_dir, work, env


def package_of(installed) -> Path:
    bin_dir, work, env = installed
    return Path(run([str(bin_dir / "python"), "-c", "import convviz; print(convviz.__file__)"],
                    work, env).stdout.strip()).parent


def test_the_wheel_summarises_a_preset_from_another_folder(installed):
    bin_dir, work, env = installed
    assert package_of(installed).is_relative_to(bin_dir.parent)  # the wheel's convviz, not the checkout's
    out = run([str(bin_dir / "convviz"), "summary", "vgg16"], work, env).stdout
    assert "138,357,544" in out and "conv" in out
    version = run([str(bin_dir / "python"), "-m", "convviz", "--version"], work, env).stdout
    assert version.strip() == "convviz 0.1.0"


def test_the_wheel_starts_the_window_with_its_presets_icons_and_style(installed):
    bin_dir, work, env = installed
    out = run([str(bin_dir / "python"), "-c", START_WINDOW], work, env).stdout.splitlines()
    assert Path(out[0]).is_relative_to(bin_dir.parent), out
    sheet, presets, icon_missing, name = out[1].split(" ", 3)
    assert int(sheet) > 100 and int(presets) == PRESETS and icon_missing == "False"
    assert name == "convnetjs (preset)"


def test_without_its_resources_it_says_so_in_one_line(installed):
    bin_dir, work, env = installed
    package = package_of(installed)
    shutil.rmtree(package / "resources")
    done = run([str(bin_dir / "convviz"), "summary", "vgg16"], work, env, check=False)
    assert done.returncode == 1 and done.stdout == ""
    line, = done.stderr.splitlines()
    assert "no presets, no icons, no style sheet" in line and "Reinstall" in line
    assert str(package / "resources") in line
