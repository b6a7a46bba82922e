"""Loading the real CIFAR-10 sample in both official layouts, and refusing damaged copies."""
import pickle

import numpy as np
import pytest

from convviz.data import Cifar10, DataError, load_cifar10


@pytest.fixture(scope="module")
def sample(sample_dir) -> Cifar10:
    return load_cifar10(sample_dir)


def test_sample_loads_with_counts_shapes_and_labels(sample, sample_dir):
    assert sample.train_images.shape == (5170, 3, 32, 32)
    assert sample.test_images.shape == (1017, 3, 32, 32)
    assert sample.train_images.dtype == np.uint8 and sample.test_images.dtype == np.uint8
    assert sample.train_labels.dtype == np.int64 and sample.train_labels.shape == (5170,)
    assert sample.test_labels.shape == (1017,)
    assert [sample.label_names[k] for k in sample.test_labels[:5]] == ["cat", "ship", "ship", "airplane", "frog"]
    assert sample.label_names == ["airplane", "automobile", "bird", "cat", "deer",
                                  "dog", "frog", "horse", "ship", "truck"]
    assert sample.source == sample_dir / "cifar-10-batches-py"
    assert set(np.unique(sample.train_labels)) == set(range(10))


def test_layout_is_nchw_rgb_planes(sample, sample_dir):
    with open(sample_dir / "cifar-10-batches-py" / "test_batch", "rb") as f:
        raw = pickle.load(f, encoding="latin1")["data"]
    np.testing.assert_array_equal(sample.test_images[7, 0].ravel(), raw[7, :1024])  # red plane
    np.testing.assert_array_equal(sample.test_images[7, 2, 31], raw[7, 3072 - 32:])  # last row of blue


def test_dataset_folder_itself_and_parent_both_load(sample_dir, sample):
    direct = load_cifar10(sample_dir / "cifar-10-batches-py")
    np.testing.assert_array_equal(direct.train_labels, sample.train_labels)


def write_binary_layout(data: Cifar10, folder):
    """The official binary layout of data: records of 1 label byte + 3072 pixel bytes."""
    folder.mkdir()
    n = len(data.train_images)
    bounds = [n * k // 5 for k in range(6)]
    for k in range(5):
        sl = slice(bounds[k], bounds[k + 1])
        write_records(folder / f"data_batch_{k + 1}.bin", data.train_images[sl], data.train_labels[sl])
    write_records(folder / "test_batch.bin", data.test_images, data.test_labels)
    (folder / "batches.meta.txt").write_text("\n".join(data.label_names) + "\n\n")


def write_records(path, images, labels):
    records = np.concatenate([labels.astype(np.uint8)[:, None], images.reshape(len(images), -1)], axis=1)
    records.tofile(path)


def test_binary_layout_loads_the_same_images(sample, tmp_path):
    write_binary_layout(sample, tmp_path / "cifar-10-batches-bin")
    loaded = load_cifar10(tmp_path)
    assert loaded.source == tmp_path / "cifar-10-batches-bin"
    np.testing.assert_array_equal(loaded.train_images, sample.train_images)
    np.testing.assert_array_equal(loaded.train_labels, sample.train_labels)
    np.testing.assert_array_equal(loaded.test_images, sample.test_images)
    np.testing.assert_array_equal(loaded.test_labels, sample.test_labels)
    assert loaded.label_names == sample.label_names
    assert loaded.test_images.flags.c_contiguous and loaded.train_images.dtype == np.uint8


def test_truncated_binary_batch_names_the_file(sample, tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    write_binary_layout(sample, folder)
    path = folder / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=r"data_batch_3\.bin.*truncated.*download"):
        load_cifar10(folder)


def test_binary_label_out_of_range(sample, tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    write_binary_layout(sample, folder)
    raw = bytearray((folder / "test_batch.bin").read_bytes())
    raw[3073 * 2] = 12
    (folder / "test_batch.bin").write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"test_batch\.bin.*0\.\.9.*12"):
        load_cifar10(folder)


@pytest.fixture
def py_copy(copy_sample, tmp_path):
    return copy_sample(tmp_path)


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.999])
def test_truncated_pickle_is_a_data_error_naming_the_file(py_copy, keep):
    path = py_copy / "data_batch_2"
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(DataError, match=r"data_batch_2.*(truncated or corrupt).*download") as info:
        load_cifar10(py_copy)
    assert not isinstance(info.value, (EOFError, pickle.UnpicklingError))


def test_garbage_bytes_are_a_data_error(py_copy):
    (py_copy / "test_batch").write_bytes(bytes(range(256)) * 10)
    with pytest.raises(DataError, match="test_batch"):
        load_cifar10(py_copy)


def rewrite(path, batch):
    path.write_bytes(pickle.dumps(batch, protocol=4))


@pytest.mark.parametrize("change, message", [
    (lambda b: b.update(labels=b["labels"][:-1]), "1017 images but 1016 labels"),
    (lambda b: b.update(data=b["data"].astype(np.float32)), "uint8 array of shape"),
    (lambda b: b.update(data=b["data"][:, :1000]), r"shape \(N, 3072\)"),
    (lambda b: b.update(labels=[10] * len(b["labels"])), r"0\.\.9"),
    (lambda b: b.update(labels=[2**70] + b["labels"][1:]), r"0\.\.9, found 1180591620717411303424"),
    (lambda b: b.update(labels=[-2**70] + b["labels"][1:]), r"0\.\.9, found -1180591620717411303424"),
    (lambda b: b.update(labels=np.array([2**64 - 1] + b["labels"][1:], np.uint64)), r"found 18446744073709551615"),
    (lambda b: b.update(labels=np.array([-1] + b["labels"][1:], np.int8)), r"found -1\."),
    (lambda b: b.update(labels=[True] * len(b["labels"])), "list of integers"),
    (lambda b: b.pop("labels"), "no labels"),
    (lambda b: b.update(labels=np.array(b["labels"], dtype=np.float32)), "list of integers"),
])
def test_invalid_batch_contents(py_copy, change, message):
    path = py_copy / "data_batch_4"
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="latin1")
    change(batch)
    rewrite(path, batch)
    with pytest.raises(DataError, match=f"data_batch_4.*{message}"):
        load_cifar10(py_copy)


def test_missing_file_names_it(py_copy):
    (py_copy / "data_batch_5").unlink()
    with pytest.raises(DataError, match=r"incomplete CIFAR-10, missing data_batch_5.*download"):
        load_cifar10(py_copy.parent)


def test_no_dataset_and_no_folder(tmp_path):
    with pytest.raises(DataError, match="no CIFAR-10 here"):
        load_cifar10(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        load_cifar10(tmp_path / "nowhere")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(DataError, match="a-file: a file, not a folder"):
        load_cifar10(tmp_path / "a-file")


def test_labels_saved_as_an_integer_array_load_too(py_copy, sample):
    path = py_copy / "test_batch"
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="latin1")
    batch["labels"] = np.array(batch["labels"], dtype=np.uint8)
    rewrite(path, batch)
    np.testing.assert_array_equal(load_cifar10(py_copy).test_labels, sample.test_labels)
