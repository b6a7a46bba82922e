"""Files: atomic writes (weights, architecture files, checkpoints, summaries) and bounded .npz reads.

Writing (atomic_write) follows four rules:
- The data goes to a temporary file beside the target, `.{name}.{pid}.{host}.{token}.part`, which is
  flushed to disk and renamed over the target; readers see the old file or the new one, never half.
- Only a regular file is ever replaced: a folder, a named pipe, a device or a socket at the target
  is refused (WriteError), so `--save-weights /dev/full` cannot turn a device node into a zip file.
- A symbolic link is written through: the link stays, and the file it points to is replaced
  atomically (the temporary file goes beside that file, where the rename is atomic). Replacing the
  link itself would silently cut it from what it pointed to (`latest.npz -> run-7.npz`, a file kept
  in a synced folder), and refusing would break a common setup; writing through is also what a plain
  open() does. A replaced file keeps its permission bits.
- On any failure (full disk, no permission) the previous file stays as it was, the temporary file
  is removed, and WriteError says what happened in one line. Temporary files left by a killed
  process are removed on the next write to the same target: only names of this pattern, regular
  files of this user, whose writer is gone (same host, process not running) or that nobody has
  touched for STALE_SECONDS.

Reading (NpzReader, read_npz) never unpickles and never allocates what a file merely claims: every
array's header is read and checked (plain numbers or text, a bounded header, a size the caller allows)
before any array is read.
"""
from __future__ import annotations

import errno
import hashlib
import math
import os
import re
import secrets
import socket
import stat
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STALE_SECONDS = 3600.0
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
# after ".{name}.": "{pid}.{host}.{token}.part", or "{token}.part" as older ConvViz named them
_TEMP_TAIL = re.compile(r"(?:(?P<pid>\d+)\.(?P<host>[0-9a-f]{6})\.)?[0-9a-f]{8}\.part")
_REASONS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.EROFS: "the file system is read-only", errno.ENAMETOOLONG: "the file name is too long",
            errno.ENOENT: "no such file or folder", errno.ENOTDIR: "a part of its folder path is a file",
            errno.ELOOP: "it is a symbolic link that points in a circle"}


class WriteError(OSError):
    """A file that could not be written; str() is one line saying what happened and that the previous
    file (if any) is unchanged. errno is the cause's; strerror the short reason ("the disk is full")."""

    def __init__(self, path, reason: str, code: int | None = None, previous: bool = False):
        super().__init__(code or 0, reason)
        self.path = Path(path)
        self.message = (f"Could not write {path}: {reason}. "
                        + ("The previous file is unchanged." if previous else "Nothing was written."))

    def __str__(self) -> str:
        return self.message


def describe_os_error(error: OSError) -> str:
    """A short reason for an OSError, in words ("the disk is full"), for one-line messages."""
    return _REASONS.get(error.errno) or (error.strerror or str(error)).rstrip(".")


def _kind(mode: int) -> str | None:
    """What a non-regular file is, for messages; None for a regular file."""
    for test, what in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return None if stat.S_ISREG(mode) else "not a regular file"


def write_target(path) -> tuple[Path, os.stat_result | None]:
    """The file a write to path replaces (a symbolic link's target) and its stat, None when it does not
    exist yet. Raises WriteError when it exists and is not a regular file."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target, None
    except OSError as e:
        raise WriteError(path, describe_os_error(e), e.errno) from None
    kind = _kind(st.st_mode)
    if kind is not None:
        shown = f"{kind} ({target}, which the link points to)" if target != path else kind
        raise WriteError(path, f"it is {shown}, which ConvViz never replaces; choose a file name", errno.EEXIST,
                         previous=True)
    return target, st


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporary files that writers of target which are gone left beside it -> those removed.
    Never raises: a file that cannot be checked or removed is left alone."""
    prefix, removed = f".{target.name}.", []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        match = _TEMP_TAIL.fullmatch(entry.name[len(prefix):])
        if match is None:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
                continue
            writer_gone = match["pid"] is not None and match["host"] == _HOST and not _running(int(match["pid"]))
            if writer_gone or now - st.st_mtime > STALE_SECONDS:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _running(pid: int) -> bool:
    """Whether process pid exists on this machine (True where that cannot be asked safely)."""
    if pid == os.getpid() or os.name == "nt":  # on Windows os.kill(pid, 0) would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as another user's
        return True
    return True


def _fsync_folder(folder: Path) -> None:
    """Make a rename in folder durable where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path, text: bool = False):
    """Open a new temporary file beside path (binary, or UTF-8 text) for the block; when the block ends
    without an exception the file is flushed to disk and replaces path (see the module's rules), else
    it is removed. OSErrors, the block's included, become WriteError. A new file gets the permissions a
    plain open() gives (0o666 less the umask); a replaced one keeps its own."""
    path = Path(path)
    target, st = write_target(path)
    previous = st is not None
    remove_stale_temporaries(target)
    tmp = fd = None
    try:
        while True:
            tmp = target.with_name(f".{target.name}.{os.getpid()}.{_HOST}.{secrets.token_hex(4)}.part")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
                break
            except FileExistsError:
                continue
        if st is not None and hasattr(os, "fchmod"):
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
        with (os.fdopen(fd, "w", encoding="utf-8") if text else os.fdopen(fd, "wb")) as f:
            fd = None  # the file object owns it now
            yield f
            f.flush()
            os.fsync(f.fileno())
        write_target(path)  # still a regular file (or nothing) just before the rename
        os.replace(tmp, target)
        tmp = None
        _fsync_folder(target.parent)
    except WriteError:
        raise
    except OSError as e:
        reason = "its folder does not exist" if e.errno == errno.ENOENT else describe_os_error(e)
        raise WriteError(path, reason, e.errno, previous) from e
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


# ---- bounded reading ----

MAX_HEADER = 10_000  # characters of one array's .npy header (NumPy's own safety limit)
ZIP_RATIO = 64       # without a caller's bound, arrays may hold at most this many times the file's size ...
ZIP_SLACK = 64 << 20  # ... plus this many bytes (a zip bomb declares far more)
READ_CHUNK = 16 << 20
_KINDS = "biufcSU"  # booleans, integers, floats, complex, bytes, text: never objects or records


@dataclass(frozen=True)
class ArrayHeader:
    """What a member of an .npz says about its array, before anything of it is read."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize

    def describe(self) -> str:
        return f"shape {self.shape} of {self.dtype} ({self.nbytes:,} bytes)"


class NpzReader:
    """An .npz archive opened for bounded reading: the headers of all its arrays (`headers`, by name)
    are read and checked when it opens, arrays are read one at a time with read(name).
    Raises FileNotFoundError for a missing file, ValueError saying why for anything else that is not
    an .npz of plain arrays (a lone .npy, a pickle, text, a broken zip, a damaged header)."""

    def __init__(self, path):
        self.path = Path(path)
        with open(self.path, "rb") as f:  # FileNotFoundError passes through
            magic = f.read(6)
        if magic == b"\x93NUMPY":
            raise ValueError("it holds one array (.npy), not an .npz archive of named arrays")
        if not magic.startswith(b"PK"):
            raise ValueError("it is not an .npz archive of arrays (pickles and text files are refused)")
        self.file_size = self.path.stat().st_size
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise ValueError(f"it is not a readable .npz archive ({e})") from None
        try:
            self.headers: dict[str, ArrayHeader] = {}
            self._members: dict[str, tuple[zipfile.ZipInfo, int]] = {}  # name -> (member, data offset)
            for info in self._zip.infolist():
                if not info.filename.endswith(".npy"):
                    raise ValueError(f"it holds {info.filename!r}, which is not an array")
                name = info.filename[:-len(".npy")]
                header, offset = self._header(info)
                if info.file_size < offset + header.nbytes:
                    raise ValueError(f"array {name!r} claims {header.describe()} but its member holds only "
                                     f"{info.file_size:,} bytes: the file is damaged")
                self.headers[name], self._members[name] = header, (info, offset)
        except BaseException:
            self._zip.close()
            raise

    def _header(self, info: zipfile.ZipInfo) -> tuple[ArrayHeader, int]:
        """The array header of one member and its length in bytes."""
        name = info.filename[:-len(".npy")]
        try:
            with self._zip.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=MAX_HEADER)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=MAX_HEADER)
                else:
                    raise ValueError(f"array format version {version} is not one ConvViz writes")
                offset = f.tell()
        except Exception as e:  # NumPy parses the header text with ast and tokenize: any of their errors
            raise ValueError(f"the header of array {name!r} is damaged ({_first_line(e)})") from None
        if any(d < 0 for d in shape):
            raise ValueError(f"the header of array {name!r} gives a negative size {shape}: the file is damaged")
        if dtype.kind not in _KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise ValueError(f"array {name!r} holds {dtype}, not plain numbers or text (objects are refused)")
        return ArrayHeader(tuple(shape), dtype, bool(fortran)), offset

    def check(self, max_bytes: int | None = None, expect: dict[str, tuple] | None = None,
              spare: int = 1 << 16, what: str = "the network needs") -> None:
        """Refuse (ValueError naming the array) before anything is read: with expect (name -> the shape
        the reader needs), an array named there holding more numbers than that shape, one not named there
        holding more than spare bytes; with max_bytes, arrays holding more than that together. Without
        either, more than ZIP_RATIO times the file's size (a zip bomb)."""
        if expect is not None:
            for name, h in self.headers.items():
                if name in expect and h.count > math.prod(expect[name]):
                    raise ValueError(f"array {name!r} claims {h.describe()}; {what} {tuple(expect[name])}")
                if name not in expect and h.nbytes > spare:
                    raise ValueError(f"array {name!r} claims {h.describe()}, and {what} no array of that name")
        total = sum(h.nbytes for h in self.headers.values())
        if max_bytes is not None:
            limit, why = max_bytes, f"the {max_bytes:,} bytes {what}"
        elif expect is None:
            limit = ZIP_RATIO * self.file_size + ZIP_SLACK
            why = f"a file of {self.file_size:,} bytes can hold: it is damaged or crafted"
        else:
            return
        if total > limit:
            big = max(self.headers, key=lambda k: self.headers[k].nbytes)
            raise ValueError(f"its arrays claim {total:,} bytes (the largest, {big!r}: "
                             f"{self.headers[big].describe()}), more than {why}")

    def read(self, name: str) -> np.ndarray:
        """The array called name, read in chunks into one array of the size its header gives."""
        h, (info, offset) = self.headers[name], self._members[name]
        try:
            out = np.empty(h.count, h.dtype)
        except (MemoryError, ValueError):
            raise ValueError(f"array {name!r} claims {h.describe()}, more memory than this machine has") from None
        view = memoryview(out.view(np.uint8) if h.nbytes else np.empty(0, np.uint8))
        try:
            with self._zip.open(info) as f:
                f.seek(offset)
                done = 0
                while done < h.nbytes:
                    got = f.readinto(view[done:done + READ_CHUNK])
                    if not got:
                        raise ValueError(f"array {name!r} ends after {done} of {h.nbytes} bytes")
                    done += got
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise ValueError(f"array {name!r} is damaged ({_first_line(e)})") from None
        shape = h.shape[::-1] if h.fortran else h.shape
        out = out.reshape(shape)
        return out.T if h.fortran else out

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> "NpzReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def read_npz(path, max_bytes: int | None = None, expect: dict[str, tuple] | None = None,
             what: str = "the network needs") -> dict:
    """All arrays of an .npz archive, by name, within NpzReader.check's bounds; never unpickles.
    Raises FileNotFoundError for a missing file and ValueError saying why anything else (a .npy, a
    pickle, text, a broken zip, arrays larger than allowed) is refused."""
    try:
        with NpzReader(path) as npz:
            npz.check(max_bytes, expect, what=what)
            return {name: npz.read(name) for name in npz.headers}
    except FileNotFoundError:
        raise
    except OSError as e:
        raise ValueError(f"cannot read it ({describe_os_error(e)})") from None
