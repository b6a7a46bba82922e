"""`convviz explain`: the JSON's numbers are the methods', the PNG is a real PNG, bad input is one line."""
import json

import numpy as np
import pytest
from PIL import Image

from convviz.cli import main
from convviz.interpret.gradients import grad_cam, saliency
from convviz.interpret.render import write_png
from convviz.model.io import save_architecture


def test_png_round_trip(tmp_path):
    picture = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    write_png(tmp_path / "p.png", picture)
    assert np.array_equal(_read_png(tmp_path / "p.png"), picture)
    assert [p.name for p in tmp_path.iterdir()] == ["p.png"]  # no temporary file left


def _read_png(path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        return np.asarray(image)


@pytest.fixture(scope="module")
def files(trained, tmp_path_factory):
    subject, trainer = trained
    folder = tmp_path_factory.mktemp("explain")
    save_architecture(trainer.arch, folder / "net.json")
    trainer.net.save_weights(folder / "w.npz")
    return folder


@pytest.mark.parametrize("method", ["saliency", "gradcam"])
def test_json_holds_the_input_and_the_raw_map(method, trained, sample, sample_dir, files, capsys):
    subject, _ = trained
    out = files / f"{method}.png"
    status = main(["explain", method, str(files / "net.json"), "--weights", str(files / "w.npz"),
                   "--data", str(sample_dir), "--image", "5", "--class", "2", "--layer", "3", "--out", str(out), "--json"])
    assert status == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    x = subject.normalise(sample.test_images[5])
    np.testing.assert_allclose(np.array(result["input"]), x, rtol=1e-6)
    assert result["class"] == 2
    assert result["predicted"] == int(subject.net.forward(x[None]).argmax())
    expected = saliency(subject.net, x, 2) if method == "saliency" else grad_cam(subject.net, x, 2, 4)
    np.testing.assert_allclose(np.array(result["map"]), expected, rtol=1e-5, atol=1e-7)
    picture = _read_png(out)
    assert picture.shape[0] == 32 * 8 and picture.shape[1] > 2 * 32 * 8


def test_a_picture_file(trained, sample, sample_dir, files, capsys):
    subject, _ = trained
    Image.fromarray(sample.test_images[4].transpose(1, 2, 0)).resize((64, 64), Image.NEAREST).save(files / "p.png")
    status = main(["explain", "gradcam", str(files / "net.json"), "--weights", str(files / "w.npz"), "--data",
                   str(sample_dir), "--file", str(files / "p.png"), "--out", str(files / "p-out.png"), "--json"])
    assert status == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert np.array(result["input"]).shape == (3, 32, 32)
    assert np.abs(np.array(result["input"]) - subject.normalise(sample.test_images[4])).mean() < 0.2  # halved and back


def test_bad_input_is_one_line_and_writes_nothing(files, sample_dir, capsys):
    out = files / "never.png"
    base = ["explain", "saliency", str(files / "net.json"), "--data", str(sample_dir), "--out", str(out)]
    for extra, words in ((["--weights", str(files / "w.npz"), "--image", "5000"], "images 0 to 1016"),
                         (["--weights", str(files / "missing.npz")], "no such file"),
                         (["--weights", str(files / "w.npz"), "--class", "10"], "class 10"),
                         (["--weights", str(files / "w.npz"), "--layer", "7"], "a conv layer (0, 3)"),
                         (["--weights", str(files / "w.npz"), "--layer", "9"], "conv layers are 0, 3"),
                         (["--weights", str(files / "w.npz"), "--file", str(files / "w.npz")], "not a picture")):
        assert main(base[:1] + ["gradcam"] + base[2:] + extra) == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and words in err and "Traceback" not in err, err
    assert main(["explain", "fgsm", "convnetjs", "--weights", str(files / "w.npz"), "--data", str(sample_dir),
                 "--out", str(out)]) == 1
    assert "does not fit this architecture" in capsys.readouterr().err
    assert not out.exists()
