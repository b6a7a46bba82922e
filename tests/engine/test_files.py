"""engine.files: atomic writes that never replace what is not a regular file, survive a full disk and
clean up after killed writers; .npz reads bounded before anything is allocated."""
import errno
import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from convviz.engine import files
from convviz.engine.files import NpzReader, WriteError, atomic_write, read_npz


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def save(path, value=1.0):
    with atomic_write(path) as f:
        np.savez(f, w=np.full(3, value, np.float32))


# ---- writes ----

def test_a_fifo_is_refused_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "weights.npz"
    os.mkfifo(fifo)
    with pytest.raises(WriteError) as info:
        save(fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert "named pipe" in str(info.value) and "\n" not in str(info.value)
    assert leftovers(tmp_path) == []


def test_a_folder_is_refused(tmp_path):
    (tmp_path / "run.npz").mkdir()
    with pytest.raises(WriteError, match="a folder"):
        save(tmp_path / "run.npz")
    assert (tmp_path / "run.npz").is_dir() and leftovers(tmp_path) == []


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "run-7.npz"
    save(target, 1.0)
    link = tmp_path / "latest.npz"
    link.symlink_to(target)
    save(link, 2.0)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert read_npz(target)["w"][0] == 2.0
    assert leftovers(tmp_path) == leftovers(tmp_path / "runs") == []


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "latest.npz"
    link.symlink_to(tmp_path / "new.npz")
    save(link, 3.0)
    assert link.is_symlink() and read_npz(tmp_path / "new.npz")["w"][0] == 3.0


def test_a_symlink_to_a_fifo_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "out.npz").symlink_to(tmp_path / "pipe")
    with pytest.raises(WriteError, match="named pipe .*which the link points to"):
        save(tmp_path / "out.npz")
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode) and (tmp_path / "out.npz").is_symlink()


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["write", "fsync"])
def test_a_full_disk_keeps_the_previous_file_and_removes_the_temporary(tmp_path, monkeypatch, where):
    path = tmp_path / "run.npz"
    save(path, 1.0)
    before = path.read_bytes()
    with pytest.raises(WriteError) as info:
        with atomic_write(path) as f:
            f.write(b"half a checkpoint")
            if where == "write":  # what np.savez meets when the disk fills
                full_disk()
            monkeypatch.setattr(os, "fsync", full_disk)
    message = str(info.value)
    assert message == f"Could not write {path}: the disk is full. The previous file is unchanged."
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    assert path.read_bytes() == before and leftovers(tmp_path) == []


def test_a_failed_first_write_says_nothing_was_written(tmp_path):
    with pytest.raises(WriteError, match=r"the disk is full\. Nothing was written\.$"):
        with atomic_write(tmp_path / "new.txt", text=True) as f:
            f.write("x")
            full_disk()
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(WriteError, match="its folder does not exist"):
        save(tmp_path / "nowhere" / "run.npz")


def test_other_errors_in_the_block_remove_the_temporary_and_pass_through(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("old")
    with pytest.raises(KeyError):
        with atomic_write(path, text=True) as f:
            f.write("new")
            raise KeyError("x")
    assert path.read_text() == "old" and leftovers(tmp_path) == []


def test_a_replaced_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "private.npz"
    save(path)
    path.chmod(0o600)
    save(path, 2.0)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


KILLED_WRITER = """
import os, signal, sys
from convviz.engine.files import atomic_write
with atomic_write(sys.argv[1]) as f:
    f.write(b"x" * 100000)
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_temporary_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    path = tmp_path / "run.npz"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)], env=env)
    assert done.returncode == -signal.SIGKILL
    [left] = leftovers(tmp_path)
    assert left.startswith(".run.npz.")
    save(path)
    assert leftovers(tmp_path) == [] and path.exists()


def test_only_our_stale_temporaries_are_removed(tmp_path):
    path = tmp_path / "run.npz"
    host = files._HOST
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    names = {
        f".run.npz.{child.pid}.{host}.0123abcd.part": "removed",    # its writer is gone
        f".run.npz.{os.getppid()}.{host}.0123abce.part": "kept",    # its writer runs (the parent process)
        f".run.npz.{child.pid}.abcdef.0123abcf.part": "kept",       # another machine's writer: only age counts
        ".run.npz.89abcdef.part": "kept",                           # older ConvViz, recent
        ".run.npz.89abcdee.part.old": "kept",                       # not our pattern
        ".other.npz.89abcdef.part": "kept",                         # another target's
    }
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    old = tmp_path / ".run.npz.fedcba98.part"  # older ConvViz, untouched for two hours
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 7200,) * 2)
    names[old.name] = "removed"
    save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [n for n, fate in names.items() if fate == "kept"] + ["run.npz"])


# ---- bounded reads ----

def test_a_lone_npy_claiming_4e12_items_is_refused_unread(tmp_path, crafted_npz):
    _, npy = crafted_npz
    path = tmp_path / "weights.npz"
    path.write_bytes(npy((4_000_000_000_000,), "<f8"))
    with pytest.raises(ValueError, match=r"one array \(\.npy\)"):
        read_npz(path)


@pytest.mark.parametrize("claimed", [None, 32 * 10**12 + 128])
def test_an_npz_member_claiming_4e12_items_is_refused_unread(tmp_path, crafted_npz, claimed):
    write, npy = crafted_npz
    path = write(tmp_path / "w.npz", {"0.weight": (npy((4_000_000_000_000,), "<f8", b"\0" * 64), claimed)})
    with pytest.raises(ValueError, match=r"'0\.weight'.*\(4000000000000,\) of float64 \(32,000,000,000,000 bytes\)") as info:
        read_npz(path)
    assert "\n" not in str(info.value)


def test_a_member_claiming_8_gib_is_refused_before_it_is_read(tmp_path, crafted_npz, monkeypatch):
    write, npy = crafted_npz
    path = write(tmp_path / "bomb.npz", {"w": (npy((2**30,), "<f8", b"\0" * 4096), 8 * 2**30 + 128)})
    monkeypatch.setattr(NpzReader, "read", lambda self, name: pytest.fail("an array was read"))
    with pytest.raises(ValueError, match=r"claim 8,589,934,592 bytes.*more than a file of \d+ bytes can hold"):
        read_npz(path)
    with pytest.raises(ValueError, match=r"'w' claims shape \(1073741824,\).*the network needs \(10, 64\)"):
        read_npz(path, expect={"w": (10, 64)})


def test_reads_are_bounded_by_what_the_reader_expects(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, a=np.zeros((4, 5), np.float32), small=np.zeros(3), extra=np.zeros(100_000))
    assert set(read_npz(path)) == {"a", "small", "extra"}
    with pytest.raises(ValueError, match="'extra' claims .*no array of that name"):
        read_npz(path, expect={"a": (4, 5), "small": (3,)})
    with pytest.raises(ValueError, match="'a' claims shape \\(4, 5\\)"):
        read_npz(path, expect={"a": (2, 2), "small": (3,), "extra": (100_000,)})
    assert read_npz(path, expect={"a": (9, 9), "small": (3,), "extra": (100_000,)})["a"].shape == (4, 5)
    with pytest.raises(ValueError, match="more than the 1,000 bytes the network needs"):
        read_npz(path, max_bytes=1000)


@pytest.mark.parametrize("descr, why", [("|O", "objects are refused"), ([("a", "<f4")], "not plain numbers")])
def test_object_and_record_arrays_are_refused(tmp_path, crafted_npz, descr, why):
    write, npy = crafted_npz
    path = write(tmp_path / "o.npz", {"w": (npy((1,), descr, b"\0" * 8), None)})
    with pytest.raises(ValueError, match=why):
        read_npz(path)


def test_a_giant_or_damaged_header_is_refused(tmp_path, crafted_npz):
    write, npy = crafted_npz
    giant = b"\x93NUMPY\x02\x00" + (200_000).to_bytes(4, "little") + b"{" + b" " * 199_998 + b"}"
    nested = b"\x93NUMPY\x01\x00" + (9000).to_bytes(2, "little") + (b"(" * 4500 + b")" * 4500)
    negative = npy((-5,), "<f4")
    for name, data in (("giant", giant), ("nested", nested), ("negative", negative), ("cut", giant[:7])):
        path = write(tmp_path / f"{name}.npz", {"w": (data, None)})
        with pytest.raises(ValueError, match="header of array 'w'"):
            read_npz(path)


def test_text_pickles_and_broken_zips_are_refused(tmp_path):
    for name, data in (("t.npz", b"hello"), ("p.npz", b"\x80\x04K\x01."), ("z.npz", b"PK\x03\x04 broken")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError):
            read_npz(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        read_npz(tmp_path / "missing.npz")


DESCRS = ["<f4", "<f8", "<i8", "|u1", "|b1", "<U7", "|S3", "<c8", ">f4", "|O", "<f16", "<M8[s]", "foo", "",
          [("a", "<f4")], ("<f4", (3,)), 3]


@settings(max_examples=300, deadline=None, phases=[Phase.explicit, Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=st.dictionaries(
    st.text("abcxyz./_ 0", min_size=1, max_size=6),
    st.tuples(
        st.one_of(st.lists(st.integers(-3, 2**62), max_size=4).map(tuple),
                  st.lists(st.integers(0, 5), max_size=3).map(tuple)),
        st.sampled_from(DESCRS), st.booleans(), st.binary(max_size=64),
        st.one_of(st.none(), st.integers(0, 2**40)), st.one_of(st.none(), st.binary(max_size=40))),
    max_size=3))
def test_random_npz_headers_give_a_clear_error_or_arrays(tmp_path, crafted_npz, members):
    """Hypothesis: random headers, payloads and claimed sizes -> the arrays, or ValueError; nothing else."""
    write, _ = crafted_npz
    import io
    built = {}
    for name, (shape, descr, fortran, payload, claimed, raw) in members.items():
        if raw is not None:  # a header of random bytes
            data = b"\x93NUMPY\x01\x00" + len(raw).to_bytes(2, "little") + raw + payload
        else:
            f = io.BytesIO()
            try:
                np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": fortran, "shape": shape})
            except Exception:
                f = io.BytesIO(b"\x93NUMPY\x01\x00" + (20).to_bytes(2, "little") + repr(
                    {"descr": descr, "fortran_order": fortran, "shape": shape}).encode()[:20])
            data = f.getvalue() + payload
        built[name] = (data, claimed)
    path = write(tmp_path / "h.npz", built)
    try:
        arrays = read_npz(path)
    except ValueError as e:
        assert str(e) and "\n" not in str(e)
        event("refused with a clear error")
    else:
        assert all(isinstance(a, np.ndarray) for a in arrays.values())
        event("read")
