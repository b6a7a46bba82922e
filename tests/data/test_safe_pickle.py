"""The restricted unpickler: the official files load, anything asking for other callables is refused unrun."""
import os
import pickle
import pickletools

import numpy as np
import pytest

from convviz.data import DataError, load_cifar10
from convviz.data.safe_pickle import ALLOWED, load_pickle


def globals_referenced(data: bytes) -> set[tuple[str, str]]:
    """(module, name) of every GLOBAL opcode (protocol 2, as the official files use)."""
    return {tuple(arg.split(" ")) for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}


def test_the_allow_list_covers_exactly_what_the_official_files_reference(sample_dir):
    seen = set()
    for path in (sample_dir / "cifar-10-batches-py").iterdir():
        if path.name != "readme.html":
            seen |= globals_referenced(path.read_bytes())
    assert seen == {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype")}
    assert seen <= set(ALLOWED)


class CreatesFile:
    def __init__(self, call, arg):
        self.call, self.arg = call, arg

    def __reduce__(self):
        return self.call, (self.arg,)


def hostile_payloads(marker):
    return {
        "os.system": CreatesFile(os.system, f"touch {marker}"),
        "builtins.exec": CreatesFile(exec, f"open({str(marker)!r}, 'w').close()"),
        "builtins.eval": CreatesFile(eval, f"open({str(marker)!r}, 'w')"),
    }


@pytest.mark.parametrize("name", ["os.system", "builtins.exec", "builtins.eval"])
@pytest.mark.parametrize("protocol", [2, 4])
def test_hostile_pickle_is_refused_and_never_runs(tmp_path, name, protocol):
    marker = tmp_path / "pwned"
    payload = hostile_payloads(marker)[name]
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": payload, "labels": [0]}, protocol=protocol))
    with pytest.raises(DataError) as info:
        load_pickle(path)
    message = str(info.value)
    assert str(path) in message and "refused" in message and "nothing in it was run" in message
    assert f".{name.split('.')[1]}" in message  # names what it asked for (posix.system, __builtin__.exec, ...)
    assert not marker.exists()


def test_hostile_batch_inside_a_dataset_folder_is_refused(copy_sample, tmp_path):
    folder = copy_sample(tmp_path)
    marker = tmp_path / "pwned"
    target = folder / "test_batch"
    target.write_bytes(pickle.dumps(hostile_payloads(marker)["os.system"], protocol=2))
    with pytest.raises(DataError, match="test_batch: refused to load"):
        load_cifar10(folder)
    assert not marker.exists()


def test_numpy2_pickles_of_arrays_load(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({"data": array, "labels": [1, 2, 3]}, protocol=4))
    loaded = load_pickle(path)
    np.testing.assert_array_equal(loaded["data"], array)
    assert loaded["labels"] == [1, 2, 3]


def test_unreadable_path_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        load_pickle(tmp_path / "missing_batch")


class HugeEmptyArray:
    """Pickles as NumPy's own _reconstruct asked for an 8 GiB array (genuine files ask for shape (0,))."""

    def __reduce__(self):
        from convviz.data.safe_pickle import _reconstruct
        return _reconstruct, (np.ndarray, (2**33,), "b")


def test_an_array_rebuilt_with_a_claimed_huge_shape_is_refused(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": HugeEmptyArray(), "labels": [0]}, protocol=2))
    with pytest.raises(DataError, match=r"truncated or corrupt \(an array is rebuilt with shape \(8589934592,\)") as info:
        load_pickle(path)
    assert "Error" not in str(info.value)
