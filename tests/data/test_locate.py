"""The app data folder and the search for an existing CIFAR-10."""
import sys
from pathlib import Path

import pytest

from convviz.data import Found, app_data_dir, find_cifar10, searched_locations


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """A home and working folder of our own, with no CONVVIZ_* variables."""
    for var in ("CONVVIZ_HOME", "CONVVIZ_DATA", "XDG_DATA_HOME"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home


@pytest.fixture
def place(copy_sample):
    """place(folder) -> folder/cifar-10-batches-py, a copy of the sample."""
    def put(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        return copy_sample(folder)
    return put


def test_app_data_dir_per_platform(clean_env, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    assert app_data_dir() == clean_env / ".local" / "share" / "ConvViz"
    monkeypatch.setenv("XDG_DATA_HOME", str(clean_env / "xdg"))
    assert app_data_dir() == clean_env / "xdg" / "ConvViz"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert app_data_dir() == clean_env / "Library" / "Application Support" / "ConvViz"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("APPDATA", str(clean_env / "Roaming"))
    assert app_data_dir() == clean_env / "Roaming" / "ConvViz"
    monkeypatch.setenv("CONVVIZ_HOME", str(clean_env / "mine"))
    assert app_data_dir() == clean_env / "mine"


def test_search_order(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("CONVVIZ_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("CONVVIZ_HOME", str(tmp_path / "app"))
    places = searched_locations(tmp_path / "chosen")
    assert [p for _, p in places] == [tmp_path / "chosen", tmp_path / "env", tmp_path / "app",
                                      clean_env / ".keras" / "datasets", tmp_path / "data", clean_env / ".cache"]
    assert places[1][0] == "$CONVVIZ_DATA"
    assert [p for _, p in searched_locations()][0] == tmp_path / "env"


def test_nothing_found(clean_env):
    assert find_cifar10() is None


@pytest.mark.parametrize("where", ["keras", "torchvision", "cache", "app"])
def test_finds_copies_other_tools_left(clean_env, place, tmp_path, monkeypatch, where):
    monkeypatch.setenv("CONVVIZ_HOME", str(tmp_path / "app"))
    folder = {"keras": clean_env / ".keras" / "datasets", "torchvision": tmp_path / "data",
              "cache": clean_env / ".cache", "app": tmp_path / "app"}[where]
    expected = place(folder)
    found = find_cifar10()
    assert isinstance(found, Found) and found.path == expected
    assert str(folder) in found.how


def test_earlier_locations_win(clean_env, place, sample_dir, tmp_path, monkeypatch):
    keras = place(clean_env / ".keras" / "datasets")
    assert find_cifar10().path == keras
    monkeypatch.setenv("CONVVIZ_DATA", str(tmp_path / "env"))
    env = place(tmp_path / "env")
    assert find_cifar10().path == env and find_cifar10().how.startswith("$CONVVIZ_DATA")
    found = find_cifar10(sample_dir)
    assert found.path == sample_dir / "cifar-10-batches-py" and found.how.startswith("the folder you chose")


def test_incomplete_copies_are_skipped(clean_env, place, tmp_path):
    broken = place(tmp_path / "data")
    (broken / "test_batch").unlink()
    assert find_cifar10() is None
    good = place(clean_env / ".cache")
    assert find_cifar10().path == good

