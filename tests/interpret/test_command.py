"""`convviz explain`: the JSON's numbers are the methods', the PNG is a real PNG, bad input is one line."""
import json
import struct
import zlib

import numpy as np
import pytest

from convviz.cli import main
from convviz.interpret.gradients import grad_cam, saliency
from convviz.interpret.render import png_bytes
from convviz.model.io import save_architecture


def _decode_png(data: bytes) -> np.ndarray:
    """The pixels of an 8-bit RGB PNG without filters (what png_bytes writes) -> (H, W, 3)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    w, h, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2)
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + 3 * w)
    assert not rows[:, 0].any()
    return rows[:, 1:].reshape(h, w, 3)


def test_png_round_trip():
    picture = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    assert np.array_equal(_decode_png(png_bytes(picture)), picture)


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
    picture = _decode_png(out.read_bytes())
    assert picture.shape[0] == 32 * 8 and picture.shape[1] > 2 * 32 * 8


def test_bad_input_is_one_line_and_writes_nothing(files, sample_dir, capsys):
    out = files / "never.png"
    base = ["explain", "saliency", str(files / "net.json"), "--data", str(sample_dir), "--out", str(out)]
    for extra, words in ((["--weights", str(files / "w.npz"), "--image", "5000"], "images 0 to 1016"),
                         (["--weights", str(files / "missing.npz")], "no such file"),
                         (["--weights", str(files / "w.npz"), "--class", "10"], "class 10"),
                         (["--weights", str(files / "w.npz"), "--layer", "7"], "a conv layer (0, 3)"),
                         (["--weights", str(files / "w.npz"), "--layer", "9"], "conv layers are 0, 3")):
        assert main(base[:1] + ["gradcam"] + base[2:] + extra) == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and words in err and "Traceback" not in err, err
    assert main(["explain", "fgsm", "convnetjs", "--weights", str(files / "w.npz"), "--data", str(sample_dir),
                 "--out", str(out)]) == 1
    assert "does not fit this architecture" in capsys.readouterr().err
    assert not out.exists()
