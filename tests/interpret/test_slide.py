"""Sliding a network over a larger image in one pass of its converted form."""
import numpy as np
import pytest

from convviz.data import Normalizer
from convviz.engine import Network, Volume
from convviz.interpret.slide import mosaic, slide
from convviz.interpret.subject import Subject
from convviz.model import Architecture, LayerSpec as L, infer
from convviz.model.presets import load_preset

NAMES = [f"class {k}" for k in range(10)]


def _subject(arch, seed=0) -> Subject:
    return Subject.copied(arch, Network(arch, seed=seed).state(), Normalizer([120.0] * 3, [60.0] * 3), NAMES)


def test_mosaic_places_the_images_row_by_row():
    images = np.arange(6 * 3 * 2 * 2, dtype=np.uint8).reshape(6, 3, 2, 2)
    m = mosaic(images, 2, 3)
    assert m.shape == (3, 4, 6)
    np.testing.assert_array_equal(m[:, 2:4, 4:6], images[5])
    np.testing.assert_array_equal(m[:, 0:2, 2:4], images[1])
    with pytest.raises(ValueError, match="needs 6 images, got 5"):
        mosaic(images[:5], 2, 3)


def test_without_padding_one_pass_equals_every_cropped_window():
    """No zero padding: the converted network's score at each position is the original's on that window."""
    arch = Architecture(Volume(16, 16, 3), [
        L("conv", {"filters": 6, "size": 3}), L("relu"), L("maxpool", {"size": 2}),  # 16 -> 14 -> 7
        L("conv", {"filters": 8, "size": 2}), L("relu"), L("fc", {"units": 12}), L("relu"),  # 7 -> 6 -> 1
        L("fc", {"units": 10}), L("softmax")])
    subject = _subject(arch)
    image = np.random.default_rng(0).integers(0, 256, (3, 16 + 2 * 5, 16 + 2 * 3), dtype=np.uint8)
    s = slide(subject, image, repeats=1)
    assert s.jump == 2 and s.scores.shape == (10, 6, 4) and s.per_window
    np.testing.assert_allclose(s.scores, s.crops, atol=1e-5)
    top, left, bottom, right = s.box(5, 3)
    alone = subject.net.predict_proba(subject.normalise(image[:, top:bottom, left:right])[None])[0]
    np.testing.assert_allclose(s.scores[:, 5, 3], alone, atol=1e-5)
    assert s.crop_macs == 24 * infer(arch).total_macs > s.macs


def test_convnetjs_slides_over_a_96x96_mosaic_and_refuses_100x100(sample):
    subject = _subject(load_preset("convnetjs"))
    image = mosaic(sample.test_images[:9], 3, 3)
    s = slide(subject, image, repeats=1)
    assert s.scores.shape == (10, 9, 9) and s.jump == 8 and s.box(8, 8) == (64, 64, 96, 96)
    np.testing.assert_allclose(s.scores.sum(axis=0), 1, atol=1e-5)
    assert s.crops.shape == s.scores.shape and s.crop_macs == 81 * infer(subject.net.arch).total_macs
    text = " ".join(s.sentences(NAMES))
    assert "9x9 = 81 positions, one per 32x32 window 8 pixels apart" in text and "one batch" in text
    with pytest.raises(ValueError, match=r"does not fit a 100x100 image: block 8 \(maxpool\).*Use width 96 or 104; "
                                         r"height 96 or 104\."):
        slide(subject, np.zeros((3, 100, 100), np.uint8))
    with pytest.raises(ValueError, match="at least the network's input"):
        slide(subject, np.zeros((3, 24, 40), np.uint8))


def test_a_globally_pooled_network_gives_one_score_and_says_why():
    arch = Architecture(Volume(8, 8, 3), [L("conv", {"filters": 4, "size": 3, "pad": 1}), L("globalavgpool"),
                                          L("fc", {"units": 10}), L("softmax")])
    s = slide(_subject(arch), np.zeros((3, 24, 24), np.uint8), repeats=1)
    assert s.scores.shape == (10, 1, 1) and not s.per_window and s.crops is None
    assert "pools over the whole image" in s.sentences(NAMES)[0]
