"""The README's screenshots script: every picture is taken, window-sized and small."""
import numpy as np
from PIL import Image

from convviz.ui.screenshots import WINDOW, load_sample, take


def test_the_screenshots_are_taken_window_sized_and_small(tmp_path, started_threads):
    data = load_sample(train=300, test=100)
    paths = take(tmp_path / "shots", data, epochs=1)
    assert [p.name for p in paths] == ["builder.png", "builder-fix.png", "train.png", "filters.png",
                                       "activations.png", "confusion.png", "builder-resnet20.png"]
    for path in paths:
        with Image.open(path) as picture:
            assert picture.size == WINDOW and picture.mode == "P"
        assert 10_000 < path.stat().st_size < 300_000
    pixels = np.asarray(Image.open(tmp_path / "shots" / "builder-fix.png").convert("RGB")).astype(int)
    reds = int(((pixels[..., 0] > 200) & (pixels[..., 1] < 110) & (pixels[..., 2] < 110)).sum())
    assert reds > 100                                              # the block that does not fit is red
