"""Image folders as data sets, and single pictures fitted to an INPUT volume, on folders the tests
write (tests/data/picture_folder.py): every bad file listed and skipped, never a crash."""
import threading

import numpy as np
import pytest
from picture_folder import BAD, CLASSES, COLOURS, png_header, write_folder
from PIL import Image

from convviz.data import (Cifar10, DataError, ImageError, ImageFolder, LoadCancelled, load_data, load_image_folder,
                          read_image, read_preview)
from convviz.data.folder import stratified_test_split
from convviz.data.images import fit_array
from convviz.engine import Volume

PER_CLASS = 6


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("pictures"), PER_CLASS)


def test_classes_come_sorted_from_the_subfolders_and_every_good_picture_is_fitted(folder):
    data = load_image_folder(folder, Volume(24, 16, 3))
    assert isinstance(data, ImageFolder) and data.label_names == sorted(CLASSES) == list(CLASSES)
    assert data.train_images.shape == (15, 3, 16, 24) and data.test_images.shape == (3, 3, 16, 24)
    assert data.train_images.dtype == np.uint8 and data.train_labels.dtype == np.int64
    assert np.bincount(data.test_labels).tolist() == [1, 1, 1]    # round(0.2 * 6) of each class
    assert np.bincount(data.train_labels).tolist() == [5, 5, 5]
    for images, labels in ((data.train_images, data.train_labels), (data.test_images, data.test_labels)):
        means = images.mean(axis=(2, 3))                           # each picture is its class's colour
        for mean, label in zip(means, labels):
            assert np.abs(mean - COLOURS[CLASSES[label]]).max() < 12


def test_bad_files_are_listed_with_the_reason_and_skipped(folder):
    data = load_image_folder(folder, Volume(8, 8, 3))
    listed = {path.relative_to(folder).as_posix(): why for path, why in data.skipped}
    assert listed.keys() == BAD.keys()                             # the hidden .DS_Store files are not listed
    for name, reason in BAD.items():
        assert reason in listed[name], (name, listed[name])
        assert "Error" not in listed[name]
    summary = data.summary().splitlines()
    assert "3 classes (cat, dog, fish)" in summary[0] and f"{len(BAD)} files skipped" in summary[0]
    assert len(summary) == 1 + len(BAD)


def test_a_grayscale_input_reads_one_channel_and_the_split_is_the_same_every_time(folder):
    grey = load_image_folder(folder, Volume(10, 12, 1))
    again = load_image_folder(folder, Volume(10, 12, 1))
    assert grey.train_images.shape == (15, 1, 12, 10)
    np.testing.assert_array_equal(grey.train_images, again.train_images)
    np.testing.assert_array_equal(grey.test_labels, again.test_labels)
    rgb = load_image_folder(folder, Volume(10, 12, 3))
    luma = rgb.train_images.astype(float).transpose(0, 2, 3, 1) @ [0.299, 0.587, 0.114]
    assert np.abs(luma - grey.train_images[:, 0]).max() <= 2        # ITU-R 601 luma, as Pillow converts


def test_pictures_are_centre_cropped_not_stretched(tmp_path):
    pixels = np.zeros((20, 60, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)
    pixels[:, 20:40] = (0, 255, 0)                                 # the middle third, a square
    pixels[:, 40:] = (0, 0, 255)
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    fitted = read_image(tmp_path / "wide.png", Volume(8, 8, 3))
    assert fitted.shape == (3, 8, 8)
    assert (fitted[1] > 200).all() and (fitted[0] < 60).all() and (fitted[2] < 60).all()
    np.testing.assert_array_equal(fit_array(pixels.transpose(2, 0, 1).copy(), Volume(8, 8, 3)), fitted)
    assert read_preview(tmp_path / "wide.png").shape == (3, 20, 60)


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((10, 30, 3), np.uint8)
    pixels[:, :15] = 255                                           # white left half, black right half, stored
    exif = Image.Exif()
    exif[0x0112] = 6                                               # "rotate 90 degrees clockwise to view"
    Image.fromarray(pixels).save(tmp_path / "photo.jpg", exif=exif, quality=95)
    preview = read_preview(tmp_path / "photo.jpg")
    assert preview.shape == (3, 30, 10)                            # upright: tall
    assert preview[:, :12].mean() > 200 and preview[:, -12:].mean() < 50  # the white half is on top


def test_a_huge_picture_is_refused_before_it_is_decoded(tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_header(60000, 60000))
    with pytest.raises(ImageError, match="huge dimensions"):
        read_image(tmp_path / "bomb.png", Volume(32, 32, 3))


def test_load_data_tells_cifar10_from_an_image_folder(folder, sample_dir, tmp_path):
    assert isinstance(load_data(sample_dir, Volume(32, 32, 3)), Cifar10)
    assert isinstance(load_data(folder, Volume(32, 32, 3)), ImageFolder)
    with pytest.raises(DataError, match="no CIFAR-10 here .* nor an image folder"):
        load_data(tmp_path, Volume(32, 32, 3))
    (tmp_path / "cifar-10-batches-py").mkdir()                     # a part of CIFAR-10: what is missing
    with pytest.raises(DataError, match="incomplete CIFAR-10|no CIFAR-10"):
        load_data(tmp_path, Volume(32, 32, 3))


@pytest.mark.parametrize("make, message", [
    (lambda root: (root / "only").mkdir(), "at least two; found 1"),
    (lambda root: [(root / c).mkdir() for c in "ab"] and (root / "a" / "x.txt").write_text("x"),
     "the class a has no usable picture"),
])
def test_folders_that_make_no_data_set_are_refused_with_the_reason(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(DataError, match=message):
        load_image_folder(tmp_path, Volume(8, 8, 3))


def test_a_depth_other_than_1_or_3_is_refused(folder):
    with pytest.raises(DataError, match="grayscale \\(depth 1\\) or RGB \\(depth 3\\), not depth 2"):
        load_image_folder(folder, Volume(8, 8, 2))


def test_progress_is_reported_and_cancel_stops_it(folder):
    seen = []
    load_image_folder(folder, Volume(8, 8, 3), progress=lambda done, total: seen.append((done, total)))
    total = 3 * PER_CLASS + len(BAD)
    assert seen[-1] == (total, total)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(LoadCancelled):
        load_image_folder(folder, Volume(8, 8, 3), cancel=cancel)


def test_the_test_split_is_stratified_and_keeps_a_training_picture_of_every_class():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 1 + [3] * 2)
    test = stratified_test_split(labels, 0.2, seed=0)
    assert [int(test[labels == c].sum()) for c in range(4)] == [2, 1, 0, 1]
    np.testing.assert_array_equal(test, stratified_test_split(labels, 0.2, seed=0))


def test_a_folder_too_large_for_the_memory_is_refused_before_reading(folder, monkeypatch):
    monkeypatch.setattr("convviz.data.folder.available_memory", lambda: 10_000)
    files = 3 * PER_CLASS + len(BAD)                               # counted before any is read
    with pytest.raises(DataError, match=rf"{files} pictures at 32x32x3 take 0.1 MiB, more than half of the 0.0 MiB"):
        load_image_folder(folder, Volume(32, 32, 3))
