"""The NumPy side of the dashboard's pictures: mosaics, filter and volume scaling, colour maps,
and the download progress text."""
import numpy as np
import pytest

from convviz.ui.dashboard.data_panel import describe_progress
from convviz.ui.dashboard.imaging import (BACKGROUND, DIVERGING, colorize, filter_tiles, grid_shape, mosaic,
                                          rgb_to_rgba, volume_tiles)


def test_mosaic_places_tiles_row_by_row_with_gaps():
    tiles = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    grid = mosaic(tiles, cols=2)
    assert grid.shape == (3 * 3 - 1, 2 * 4 - 1)
    assert np.array_equal(grid[0:2, 0:3], tiles[0]) and np.array_equal(grid[0:2, 4:7], tiles[1])
    assert np.array_equal(grid[6:8, 0:3], tiles[4])
    assert np.isnan(grid[2]).all() and np.isnan(grid[:, 3]).all() and np.isnan(grid[6:8, 4:7]).all()


@pytest.mark.parametrize("n", [1, 3, 16, 20, 64])
def test_grid_shape_holds_every_tile(n):
    rows, cols = grid_shape(n)
    assert rows * cols >= n and (rows - 1) * cols < n and cols <= n


def test_rgb_filters_are_stretched_per_filter():
    w = np.stack([np.full((3, 5, 5), 0.01), np.linspace(-2, 2, 75).reshape(3, 5, 5)])
    w[0, 0, 0, 0] = 0.02
    tiles, cols = filter_tiles(w, "rgb")
    assert tiles.shape == (2, 5, 5, 3) and cols == 2
    for k in range(2):  # each filter spans 0..1 on its own, whatever its magnitude
        assert tiles[k].min() == 0 and tiles[k].max() == 1


def test_deeper_filters_per_channel_or_mean_keep_zero_in_the_middle():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 6, 3, 3)) * np.array([1, 10, 100, 1000])[:, None, None, None]
    tiles, cols = filter_tiles(w, "channels")
    assert tiles.shape == (24, 3, 3) and cols == 6
    per_filter = tiles.reshape(4, 6, 3, 3)
    assert np.allclose(np.abs(per_filter * 2 - 1).max(axis=(1, 2, 3)), 1)  # max |w| of each filter -> 0 or 1
    assert np.allclose(per_filter * 2 - 1, w / np.abs(w).max(axis=(1, 2, 3), keepdims=True))
    mean, _ = filter_tiles(w, "mean")
    assert mean.shape == (4, 3, 3)
    assert np.allclose(mean * 2 - 1, w.mean(axis=1) / np.abs(w.mean(axis=1)).max(axis=(1, 2), keepdims=True))


def test_volume_scale_is_shared_by_the_layer():
    v = np.stack([np.zeros((2, 2)), np.full((2, 2), 4.0)])
    tiles, low, high = volume_tiles(v, signed=False)
    assert (low, high) == (0.0, 4.0) and tiles[0].max() == 0 and tiles[1].min() == 1
    g = np.array([[[-1.0, 0.5]]])
    tiles, low, high = volume_tiles(g, signed=True)
    assert (low, high) == (-1.0, 1.0) and np.allclose(tiles, [[[0.0, 0.75]]])


def test_colours_and_gaps():
    values = np.array([[0.0, 0.5, 1.0, np.nan]])
    rgba = colorize(values, DIVERGING)
    assert rgba.dtype == np.uint8 and rgba.shape == (1, 4, 4)
    assert tuple(rgba[0, 3]) == BACKGROUND
    assert rgba[0, 0, 2] > rgba[0, 0, 0] and rgba[0, 2, 0] > rgba[0, 2, 2]  # blue low, red high
    assert rgba[0, 1, :3].min() > 200  # zero is near white
    rgb = rgb_to_rgba(np.array([[[1.0, 0.0, 0.5], [np.nan, np.nan, np.nan]]]))
    assert tuple(rgb[0, 0]) == (255, 0, 128, 255) and tuple(rgb[0, 1]) == BACKGROUND


def test_progress_text():
    assert describe_progress(50_000_000, 170_000_000, 10_000_000) == "47.7 MiB / 162 MiB · 9.54 MiB/s · 12 s left"
    assert describe_progress(3_000_000, None, 1_000_000) == "2.86 MiB · 977 KiB/s"
    assert describe_progress(0, 170_000_000, 0.0) == "0 B / 162 MiB"
    assert describe_progress(0, 170_000_000, 1_000_000).endswith("3 min left")
