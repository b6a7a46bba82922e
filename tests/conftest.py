import os
import subprocess
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _sample_of_origin() -> None:
    """A clone made elsewhere (git clone . /tmp/x) uses the sample beside the checkout it was cloned
    from: paths.SAMPLE, before any other module imports it, and $CONVVIZ_SAMPLE for test subprocesses."""
    from convviz import paths
    from convviz.paths import sample_beside

    root = Path(__file__).resolve().parents[1]
    if os.environ.get("CONVVIZ_SAMPLE") or sample_beside(root.parent):
        return
    origin = subprocess.run(["git", "-C", str(root), "config", "--get", "remote.origin.url"],
                            capture_output=True, text=True).stdout.strip()
    found = sample_beside(Path(origin).resolve().parent) if origin and Path(origin).is_dir() else None
    if found:
        os.environ["CONVVIZ_SAMPLE"] = str(found)
        paths.SAMPLE = found


_sample_of_origin()

import pytest  # noqa: E402

from convviz.paths import SAMPLE  # noqa: E402


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The real CIFAR-10 sample beside the project (../shared/cifar10-sample)."""
    assert SAMPLE.is_dir(), f"the CIFAR-10 sample is missing at {SAMPLE}"
    return SAMPLE


def npy_bytes(shape, descr: str = "<f4", payload: bytes = b"") -> bytes:
    """An .npy file: a header claiming shape of descr, then payload (however little the header claims)."""
    import io

    import numpy as np

    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    return f.getvalue() + payload


def write_crafted_npz(path, members: dict) -> Path:
    """A deflated .npz written byte by byte: members maps name -> (.npy bytes, claimed size or None).
    A claimed size goes into the zip headers (zip64 above 4 GiB) as the member's uncompressed size, so
    a small file can claim gigabytes without anyone writing them (the shape of a zip bomb)."""
    import struct
    import zlib

    out, central = bytearray(), bytearray()
    for name, (data, claimed) in members.items():
        fname = f"{name}.npy".encode()
        z = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = z.compress(data) + z.flush()
        size = len(data) if claimed is None else claimed
        big = size >= 0xFFFFFFFF
        extra = struct.pack("<HHQ", 1, 8, size) if big else b""
        field = 0xFFFFFFFF if big else size
        crc = zlib.crc32(data)
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0x21, crc, len(packed), field,
                           len(fname), len(extra)) + fname + extra + packed
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0x21, crc, len(packed), field,
                               len(fname), len(extra), 0, 0, 0, 0, offset) + fname + extra
    start = len(out)
    out += central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), start, 0)
    Path(path).write_bytes(bytes(out))
    return Path(path)


@pytest.fixture
def crafted_npz():
    """write_crafted_npz(path, {name: (npy bytes, claimed size or None)}) and npy_bytes(shape, descr, payload)."""
    return write_crafted_npz, npy_bytes
