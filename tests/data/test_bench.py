"""`convviz bench --only data` runs on the sample and prints every figure (no timing assertions)."""
import re

from convviz.benchmarks import data as bench


def test_data_bench_prints_its_figures(tmp_path, monkeypatch, capsys):
    for var in ("CONVVIZ_DATA", "CONVVIZ_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    bench.run(quick=True)
    out = capsys.readouterr().out
    assert "5,170 training + 1,017 test images" in out
    for label in ("load", "fit the normaliser", "one epoch of minibatches: 73 x 64", "training step", "epoch estimate"):
        assert re.search(rf"{label}.* \d+\.\d ms", out), label
    ratio = float(re.search(r"training epoch = (\d+\.\d+)", out).group(1))
    assert ratio > 0
