"""Downloading CIFAR-10: streamed to a .part file with progress, resumed with an HTTP Range request
after an interruption, md5-verified, extracted safely into a temporary folder inside the destination
and renamed into place. A failure never leaves a half-made dataset; the .part file stays after a
cancel or a network failure so the next download resumes it, and a verified archive whose extraction
failed (a full disk) stays as cifar-10-python.tar.gz, so the next download extracts it without
fetching anything. Cancelling takes effect within CANCEL_POLL seconds, even in a read stalled on the
network (the connection is shut down under it)."""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import socket
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from ..units import size_bytes
from .cifar import PY_DIR, PY_FILES, dataset_folder
from .errors import DownloadCancelled, DownloadError
from .locate import app_data_dir

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE = "cifar-10-python.tar.gz"
CHUNK = 1 << 16
REPORT_EVERY = 0.1  # seconds between progress callbacks
CANCEL_POLL = 0.05  # seconds between looks at the cancel flag while a read may be blocked


@dataclass(frozen=True)
class Progress:
    """done bytes of total (None when the server does not say), at rate bytes/s."""

    done: int
    total: int | None
    rate: float


class _Interrupted(Exception):
    """The connection broke or stalled mid-way: worth resuming."""


class _DiskError(Exception):
    """Extraction failed writing (full disk, permissions), not reading: the archive is worth keeping."""


def download_cifar10(dest=None, progress: Callable[[Progress], None] | None = None,
                     cancel: threading.Event | None = None, url: str | None = None, md5: str | None = None,
                     timeout: float = 30.0, retries: int = 3, retry_wait: float = 1.0) -> Path:
    """Download and extract CIFAR-10 into dest (default: app_data_dir()) -> dest/cifar-10-batches-py.
    url/md5 default to $CONVVIZ_CIFAR_URL/$CONVVIZ_CIFAR_MD5, then the official ones. timeout: seconds
    a connect or read may stall; retries: resumed attempts after an interruption.
    Raises DownloadError (clear message) or DownloadCancelled."""
    dest = Path(dest).expanduser() if dest else app_data_dir()
    url = url or os.environ.get("CONVVIZ_CIFAR_URL") or URL
    md5 = (md5 or os.environ.get("CONVVIZ_CIFAR_MD5") or MD5).lower()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot create the folder {dest} ({e.strerror or e}); choose another with --dir.") from None
    part, archive = dest / (ARCHIVE + ".part"), dest / ARCHIVE
    if archive.is_file():  # verified earlier, but its extraction failed: try it again before fetching
        try:
            _verify_md5(archive, md5, url)
        except DownloadError:
            pass  # deleted: fetch it again
        else:
            return _extract_or_keep(archive, dest, url)
    for attempt in range(retries + 1):
        try:
            _fetch(url, part, progress, cancel, timeout)
            break
        except _Interrupted as e:
            if attempt == retries:
                raise DownloadError(f"the download from {url} was interrupted ({e}) after {retries + 1} "
                                    f"attempts; {_size(part)} are kept in {part}: run the download "
                                    "again to resume it.") from None
            _wait(retry_wait * (attempt + 1), cancel)
    _verify_md5(part, md5, url)
    os.replace(part, archive)
    return _extract_or_keep(archive, dest, url)


def _extract_or_keep(archive: Path, dest: Path, url: str) -> Path:
    """Extract the verified archive, then delete it; when the disk (not the archive) fails, keep it."""
    try:
        target = _extract(archive, dest, url)
    except _DiskError as e:
        raise DownloadError(f"cannot extract CIFAR-10 into {dest} ({e}). The downloaded archive is kept in "
                            f"{archive}: free some space (about 180 MiB) and run the download again; it will "
                            "not be fetched again.") from None
    except DownloadError:
        archive.unlink(missing_ok=True)  # not CIFAR-10 after all: of no further use
        raise
    archive.unlink(missing_ok=True)
    return target


def _size(path: Path) -> str:
    return size_bytes(path.stat().st_size) if path.exists() else "0 B"


def _wait(seconds: float, cancel: threading.Event | None) -> None:
    if cancel is None:
        time.sleep(seconds)
    elif cancel.wait(seconds):
        raise DownloadCancelled("download cancelled")


def _fetch(url: str, part: Path, progress, cancel, timeout: float) -> None:
    """Append the rest of url to part (resuming with a Range request when part holds bytes)."""
    if cancel is not None and cancel.is_set():
        raise DownloadCancelled("download cancelled before it started")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # asked past the end: the part is complete (or bigger than the file)
            return
        raise DownloadError(f"the server answered {e.code} {e.reason} for {url}. Check the address "
                            "(CONVVIZ_CIFAR_URL) or try again later.") from None
    except (urllib.error.URLError, TimeoutError) as e:  # a timeout (socket.timeout) comes bare or as the reason
        if isinstance(getattr(e, "reason", e), TimeoutError):
            raise DownloadError(f"no answer from {url} within {timeout:g} s. Check your network "
                                "connection and try again.") from None
        raise DownloadError(f"cannot reach {url} ({e.reason}). Check your network connection and the "
                            "address (CONVVIZ_CIFAR_URL).") from None
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise DownloadError(f"cannot download {url} ({e}). Check the address (CONVVIZ_CIFAR_URL).") from None
    with response:
        start = 0
        if response.status == 206:
            if _range_start(response) != have:
                part.unlink()
                raise _Interrupted("the server resumed at the wrong byte; starting again")
            start = have
        length = response.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        _stream(response, part, start, total, progress, cancel)


def _range_start(response) -> int | None:
    """The first byte of a 206 answer, from 'Content-Range: bytes START-END/SIZE'."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _stream(response, part: Path, start: int, total: int | None, progress, cancel) -> None:
    """Write the response body into part from byte start, reporting progress and checking cancel per chunk
    (and, through _shut_on_cancel, while a read is blocked)."""
    done, began, last_report = start, time.monotonic(), 0.0
    try:
        with open(part, "r+b" if start else "wb") as f, _shut_on_cancel(response, cancel):
            f.seek(start)
            f.truncate()
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as e:  # reset, stall (socket.timeout), bad chunking
                    _check_cancel(cancel, done, part)
                    raise _Interrupted(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__) from None
                _check_cancel(cancel, done + len(chunk), part, chunk, f)
                if not chunk:
                    break
                f.write(chunk)
                done += len(chunk)
                now = time.monotonic()
                if progress is not None and now - last_report >= REPORT_EVERY:
                    progress(Progress(done, total, (done - start) / max(now - began, 1e-9)))
                    last_report = now
    except OSError as e:
        raise DownloadError(f"cannot write {part} ({e.strerror or e}). Free some disk space or choose "
                            "another folder with --dir.") from None
    if progress is not None:
        progress(Progress(done, total, (done - start) / max(time.monotonic() - began, 1e-9)))
    if total is not None and done < total:
        raise _Interrupted(f"the connection closed at {done:,} of {total:,} bytes")


def _check_cancel(cancel, done: int, part: Path, chunk: bytes = b"", f=None) -> None:
    """Raise DownloadCancelled when cancel is set, after keeping the chunk just read."""
    if cancel is None or not cancel.is_set():
        return
    if chunk and f is not None:
        f.write(chunk)
    raise DownloadCancelled(f"download cancelled; {size_bytes(done)} kept in {part} to resume")


@contextmanager
def _shut_on_cancel(response, cancel: threading.Event | None):
    """While the block runs, a helper thread shuts the response's connection down within CANCEL_POLL
    seconds of cancel being set, so a read blocked on a stalled server returns at once."""
    if cancel is None:
        yield
        return
    finished = threading.Event()

    def watch() -> None:
        while not finished.is_set():
            if cancel.wait(CANCEL_POLL):
                _shut_down(response)
                return

    watcher = threading.Thread(target=watch, name="convviz-download-cancel", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        finished.set()
        watcher.join()


def _shut_down(response) -> None:
    """Shut down the socket under response (through a duplicate of its descriptor: a blocked read on the
    original returns); nothing happens where the platform does not allow it."""
    try:
        with socket.socket(fileno=os.dup(response.fileno())) as s:
            s.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError, AttributeError):
        pass


def _verify_md5(part: Path, md5: str, url: str) -> None:
    digest = hashlib.md5()
    with open(part, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != md5:
        part.unlink()
        raise DownloadError(f"the file downloaded from {url} has md5 {digest.hexdigest()}, expected {md5}: "
                            "it is damaged or not CIFAR-10, and was deleted. Download again, or check "
                            "CONVVIZ_CIFAR_URL / CONVVIZ_CIFAR_MD5.")


def _extract(archive: Path, dest: Path, url: str) -> Path:
    """Safely extract the archive's cifar-10-batches-py/ into a temporary folder inside dest, then rename
    it into place -> dest/cifar-10-batches-py."""
    try:
        work = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    except OSError as e:
        raise _DiskError(e.strerror or str(e)) from None
    try:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = tar.getmembers()
                for member in members:
                    _check_member(member, url)
                tar.extractall(work, members=members, filter="data")
        except (tarfile.TarError, EOFError) as e:
            raise DownloadError(f"cannot extract the archive from {url} ({e}): it is damaged. "
                                "Download again.") from None
        except OSError as e:
            raise _DiskError(e.strerror or str(e)) from None
        found = dataset_folder(work / PY_DIR)
        if found is None:
            raise DownloadError(f"the archive from {url} does not hold {PY_DIR}/ with {', '.join(PY_FILES)}: "
                                "it is not the CIFAR-10 python archive. Check CONVVIZ_CIFAR_URL.")
        target, previous = dest / PY_DIR, work / "previous"
        if target.exists():  # an older copy: move it aside first (a folder cannot replace a full one)
            os.replace(target, previous)
        try:
            os.replace(work / PY_DIR, target)
        except OSError as e:
            if previous.exists():
                os.replace(previous, target)
            raise _DiskError(f"cannot move it into {target}: {e.strerror or e}") from None
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_member(member: tarfile.TarInfo, url: str) -> None:
    """Only regular files and folders with relative paths that stay inside the extraction folder."""
    path = PurePosixPath(member.name)
    if not (member.isfile() or member.isdir()):
        raise DownloadError(f"refused to extract {member.name!r} from the archive of {url}: only files and "
                            "folders are allowed (it is a link or a device), so it is not CIFAR-10. "
                            "Check CONVVIZ_CIFAR_URL.")
    if path.is_absolute() or ".." in path.parts or member.name.startswith(("/", "\\")) or ":" in member.name:
        raise DownloadError(f"refused to extract {member.name!r} from the archive of {url}: its path leaves "
                            "the destination, so it is not CIFAR-10. Check CONVVIZ_CIFAR_URL.")


def download_command(dir: str | None) -> int:
    """`convviz download [--dir D]`: download with a terminal progress bar. 0 ok, 1 failed, 130 cancelled."""
    dest = Path(dir).expanduser() if dir else app_data_dir()
    existing = dataset_folder(dest)
    if existing is not None:
        print(f"CIFAR-10 is already in {existing[0]}; nothing to download.")
        return 0
    cancel, finished = threading.Event(), threading.Event()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["path"] = download_cifar10(dest, progress=TerminalProgress(), cancel=cancel)
        except (DownloadError, DownloadCancelled) as e:
            outcome["error"] = e
        except Exception as e:  # report anything unexpected instead of losing it in the thread
            outcome["error"] = DownloadError(f"unexpected error: {type(e).__name__}: {e}")
        finally:
            finished.set()

    print(f"Downloading CIFAR-10 into {dest} (Ctrl-C cancels; a later run resumes)", file=sys.stderr)
    thread = threading.Thread(target=work, name="convviz-download", daemon=True)
    thread.start()
    try:  # wait on an Event, not Thread.join: a join interrupted by Ctrl-C can return early on 3.11
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        cancel.set()
        finished.wait()
    thread.join()
    print(file=sys.stderr)
    error = outcome.get("error")
    if isinstance(error, DownloadCancelled):
        print(f"Cancelled. {error}", file=sys.stderr)
        return 130
    if error is not None:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"CIFAR-10 is ready in {outcome['path']}")
    return 0


class TerminalProgress:
    """A one-line progress bar on stderr; says when the download is complete and extraction begins."""

    def __init__(self, width: int = 30):
        self.width, self.finished = width, False

    def __call__(self, p: Progress) -> None:
        if self.finished:
            return
        rate = f"{size_bytes(int(p.rate))}/s"
        if p.total:
            filled = int(self.width * min(p.done / p.total, 1.0))
            line = (f"[{'#' * filled}{'.' * (self.width - filled)}] {100 * p.done / p.total:5.1f}% "
                    f"{size_bytes(p.done)} / {size_bytes(p.total)} {rate}")
        else:
            line = f"{size_bytes(p.done)} {rate}"
        print(f"\r{line}   ", end="", file=sys.stderr, flush=True)
        if p.total is not None and p.done >= p.total:
            self.finished = True
            print("\nChecking the md5 and extracting...", end="", file=sys.stderr, flush=True)
