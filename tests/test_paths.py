"""convviz/paths.py: where the resources are, and the one line that says which are missing."""
import shutil

import pytest

from convviz import paths
from convviz.cli import main


def test_a_checkout_reads_the_resources_beside_the_package():
    assert paths.RESOURCES == paths.PROJECT / "resources"
    assert paths.missing_resources() is None


def test_the_missing_parts_are_named(tmp_path):
    shutil.copytree(paths.RESOURCES / "icons", tmp_path / "icons")
    line = paths.missing_resources(tmp_path)
    assert "no presets, no style sheet in " + str(tmp_path) in line and "icons" not in line.split(" in ")[0]
    assert "\n" not in line and "Reinstall" in line


def test_the_command_line_refuses_without_them_but_downloads_still_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("convviz.cli.missing_resources", lambda: paths.missing_resources(tmp_path))
    assert main(["summary", "seed"]) == 1
    assert capsys.readouterr().err.startswith("convviz: ConvViz is incompletely installed: no presets, no icons")
    monkeypatch.setattr("convviz.data.download.download_command", lambda folder: 0)
    assert main(["download", "--dir", str(tmp_path)]) == 0


def test_version_comes_from_the_package_metadata(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"convviz {version('convviz')}"
