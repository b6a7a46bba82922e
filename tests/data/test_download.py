"""Downloading from a real HTTP server on 127.0.0.1 that serves the sample archive: clean, cut off
and resumed, wrong checksum, 404, stalled, cancelled, and hostile archives."""
import hashlib
import http.server
import io
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time

import pytest

from convviz.data import DataError, DownloadCancelled, DownloadError, Progress, download_cifar10, load_cifar10
from convviz.data.download import download_command


class Server:
    """Serves one archive at /cifar-10-python.tar.gz with Range support and switchable misbehaviour."""

    def __init__(self, body: bytes):
        self.body = body
        self.mode = "ok"  # ok | cut_once | cut_always | stall | stall_once | slow | ignore_range
        self.ranges: list[str | None] = []
        self.release = threading.Event()
        self.stalled = threading.Event()  # set while a handler is silent, waiting for release
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.ranges.append(self.headers.get("Range"))
                if self.path != "/cifar-10-python.tar.gz":
                    self.send_error(404, "Not Found")
                    return
                if server.mode == "stall":
                    server.release.wait(10)
                    return
                start = 0
                header = self.headers.get("Range")
                if header and server.mode != "ignore_range":
                    start = int(header.split("=")[1].split("-")[0])
                    if start >= len(server.body):
                        self.send_error(416, "Range Not Satisfiable")
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(server.body) - 1}/{len(server.body)}")
                else:
                    self.send_response(200)
                rest = server.body[start:]
                self.send_header("Content-Length", str(len(rest)))
                self.end_headers()
                if server.mode == "stall_once":  # a third of the body, then silence
                    server.mode = "ok"
                    self.wfile.write(rest[: len(rest) // 3])
                    self.wfile.flush()
                    server.stalled.set()
                    server.release.wait(10)
                    server.stalled.clear()
                    return
                if server.mode in ("cut_once", "cut_always"):
                    if server.mode == "cut_once":
                        server.mode = "ok"
                    rest = rest[: len(rest) // 3]
                    self.close_connection = True
                if server.mode == "slow":
                    for k in range(0, len(rest), 1 << 16):
                        if server.release.wait(0.01):
                            break
                        self.wfile.write(rest[k:k + (1 << 16)])
                    return
                self.wfile.write(rest)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # clients that hang up on purpose
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/cifar-10-python.tar.gz"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def archive(sample_dir) -> tuple[bytes, str]:
    body = (sample_dir / "cifar-10-python.tar.gz").read_bytes()
    md5 = (sample_dir / "MD5SUM").read_text().split()[0]
    assert hashlib.md5(body).hexdigest() == md5
    return body, md5


@pytest.fixture
def server(archive):
    s = Server(archive[0])
    yield s
    s.close()


def download(server, md5, dest, **kw):
    kw.setdefault("timeout", 2.0)
    kw.setdefault("retry_wait", 0.0)
    return download_cifar10(dest, url=server.url, md5=md5, **kw)


def leftovers(dest) -> list[str]:
    return sorted(p.name for p in dest.iterdir()) if dest.exists() else []


def test_clean_download_extracts_a_loadable_dataset(server, archive, tmp_path):
    seen: list[Progress] = []
    path = download(server, archive[1], tmp_path / "d", progress=seen.append)
    assert path == tmp_path / "d" / "cifar-10-batches-py"
    data = load_cifar10(path)
    assert data.train_images.shape == (5170, 3, 32, 32) and data.test_images.shape == (1017, 3, 32, 32)
    assert leftovers(tmp_path / "d") == ["cifar-10-batches-py"]
    assert seen[-1].done == seen[-1].total == len(archive[0]) and seen[-1].rate > 0
    assert all(a.done <= b.done for a, b in zip(seen, seen[1:]))
    assert server.ranges == [None]


@pytest.mark.parametrize("mode", ["cut_once", "stall_once"])
def test_interrupted_download_is_resumed_with_a_range_request(server, archive, tmp_path, mode):
    server.mode = mode
    path = download(server, archive[1], tmp_path, retries=2, timeout=0.5)
    cut_at = len(archive[0]) // 3
    assert server.ranges[0] is None and len(server.ranges) == 2
    resumed_at = int(server.ranges[1].removeprefix("bytes=").removesuffix("-"))
    if mode == "cut_once":
        assert resumed_at == cut_at
    else:  # a stalled read loses the chunk it was filling; the bytes already written are kept
        assert cut_at // 2 < resumed_at <= cut_at
    assert load_cifar10(path).test_labels.shape == (1017,)
    assert leftovers(tmp_path) == ["cifar-10-batches-py"]


def test_failed_download_keeps_the_part_and_a_later_call_resumes(server, archive, tmp_path):
    server.mode = "cut_always"
    with pytest.raises(DownloadError, match=r"interrupted.*closed at .* of .*bytes.*run the download again"):
        download(server, archive[1], tmp_path, retries=0)
    part = tmp_path / "cifar-10-python.tar.gz.part"
    assert leftovers(tmp_path) == [part.name]
    assert part.read_bytes() == archive[0][: len(archive[0]) // 3]
    server.mode = "ok"
    download(server, archive[1], tmp_path, retries=0)
    assert server.ranges[-1] == f"bytes={len(archive[0]) // 3}-"
    assert leftovers(tmp_path) == ["cifar-10-batches-py"]


def test_server_ignoring_the_range_restarts_from_zero(server, archive, tmp_path):
    (tmp_path / "cifar-10-python.tar.gz.part").write_bytes(archive[0][:1000])
    server.mode = "ignore_range"
    download(server, archive[1], tmp_path, retries=0)
    assert server.ranges == ["bytes=1000-"]
    assert leftovers(tmp_path) == ["cifar-10-batches-py"]


def test_complete_part_file_is_verified_and_extracted(server, archive, tmp_path):
    (tmp_path / "cifar-10-python.tar.gz.part").write_bytes(archive[0])
    download(server, archive[1], tmp_path, retries=0)
    assert server.ranges == [f"bytes={len(archive[0])}-"]  # answered 416: nothing more to fetch
    assert leftovers(tmp_path) == ["cifar-10-batches-py"]


def test_unwritable_destination_is_a_clear_error(server, archive, tmp_path):
    (tmp_path / "cifar-10-python.tar.gz.part").mkdir()  # the part file cannot be opened for writing
    with pytest.raises(DownloadError, match=r"cannot write .*\.part.*--dir"):
        download(server, archive[1], tmp_path, retries=0)


def test_wrong_checksum_is_a_clear_error_leaving_nothing(server, tmp_path):
    with pytest.raises(DownloadError, match=r"md5 [0-9a-f]{32}, expected 0{32}.*deleted"):
        download(server, "0" * 32, tmp_path)
    assert leftovers(tmp_path) == []


def test_404_is_a_clear_error(server, archive, tmp_path):
    with pytest.raises(DownloadError, match=r"answered 404 .*/missing\.tar\.gz.*CONVVIZ_CIFAR_URL"):
        download_cifar10(tmp_path, url=server.url.replace("cifar-10-python", "missing"), md5=archive[1])
    assert leftovers(tmp_path) == []


def test_stalled_server_times_out_with_a_clear_error(server, archive, tmp_path):
    server.mode = "stall"
    with pytest.raises(DownloadError, match=r"no answer from .* within 0\.3 s.*network"):
        download(server, archive[1], tmp_path, timeout=0.3, retries=0)
    assert not (tmp_path / "cifar-10-batches-py").exists()


def test_unreachable_server_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match="cannot reach"):
        download_cifar10(tmp_path, url=f"http://127.0.0.1:{port}/x.tar.gz", md5="0" * 32, timeout=1)


def test_cancel_between_chunks_keeps_only_the_part(server, archive, tmp_path):
    cancel = threading.Event()
    server.mode = "slow"

    def progress(p: Progress):
        if p.done > 1_000_000:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        download(server, archive[1], tmp_path, progress=progress, cancel=cancel)
    assert leftovers(tmp_path) == ["cifar-10-python.tar.gz.part"]
    assert 1_000_000 < (tmp_path / "cifar-10-python.tar.gz.part").stat().st_size < len(archive[0])


def test_cancel_during_a_stalled_read_returns_while_the_server_is_still_silent(server, archive, tmp_path):
    server.mode = "stall_once"
    cancel = threading.Event()
    outcome = {}

    def run():
        try:
            download(server, archive[1], tmp_path, cancel=cancel, timeout=30)
        except DownloadCancelled as e:
            outcome["cancelled"] = str(e)

    thread = threading.Thread(target=run)
    thread.start()
    assert server.stalled.wait(10)
    part = tmp_path / "cifar-10-python.tar.gz.part"
    cancel.set()
    thread.join(10)
    assert not thread.is_alive() and server.stalled.is_set()  # returned before the 10 s stall (or 30 s timeout) ended
    assert "kept in" in outcome["cancelled"]
    assert 0 < part.stat().st_size <= len(archive[0]) // 3


def test_a_full_disk_during_extraction_keeps_the_verified_archive(server, archive, tmp_path, monkeypatch):
    import errno

    real = tarfile.TarFile.extractall

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tarfile.TarFile, "extractall", full_disk)
    with pytest.raises(DownloadError, match=r"No space left on device.*archive is kept in .*cifar-10-python\.tar\.gz.*"
                                            r"not be fetched again"):
        download(server, archive[1], tmp_path)
    assert leftovers(tmp_path) == ["cifar-10-python.tar.gz"]
    assert (tmp_path / "cifar-10-python.tar.gz").read_bytes() == archive[0]
    monkeypatch.setattr(tarfile.TarFile, "extractall", real)
    requests = len(server.ranges)
    assert load_cifar10(download(server, archive[1], tmp_path)).test_labels.shape == (1017,)
    assert len(server.ranges) == requests  # extracted from the kept archive: nothing fetched
    assert leftovers(tmp_path) == ["cifar-10-batches-py"]


def test_a_kept_archive_that_no_longer_verifies_is_fetched_again(server, archive, tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"damaged")
    download(server, archive[1], tmp_path)
    assert server.ranges == [None] and leftovers(tmp_path) == ["cifar-10-batches-py"]


def test_env_vars_override_url_and_md5(server, archive, tmp_path, monkeypatch):
    monkeypatch.setenv("CONVVIZ_CIFAR_URL", server.url)
    monkeypatch.setenv("CONVVIZ_CIFAR_MD5", archive[1])
    monkeypatch.setenv("CONVVIZ_HOME", str(tmp_path / "home"))
    path = download_cifar10(timeout=2)
    assert path == tmp_path / "home" / "cifar-10-batches-py"
    monkeypatch.setenv("CONVVIZ_CIFAR_MD5", "f" * 32)
    with pytest.raises(DownloadError, match="expected f{32}"):
        download_cifar10(tmp_path / "other", timeout=2)


def tar_bytes(entries) -> bytes:
    """A .tar.gz of (TarInfo, data) entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in entries:
            info.size = len(data) if data is not None else 0
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def member(name, kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize("entries, refused", [
    ([(member("../escaped.txt"), b"x")], "../escaped.txt"),
    ([(member("/tmp/absolute.txt"), b"x")], "/tmp/absolute.txt"),
    ([(member("cifar-10-batches-py/link", tarfile.SYMTYPE, "/etc/passwd"), None)], "cifar-10-batches-py/link"),
    ([(member("cifar-10-batches-py/hard", tarfile.LNKTYPE, "../../x"), None)], "cifar-10-batches-py/hard"),
    ([(member("cifar-10-batches-py/fifo", tarfile.FIFOTYPE), None)], "cifar-10-batches-py/fifo"),
])
def test_hostile_archive_is_refused_and_nothing_is_extracted(server, tmp_path, entries, refused):
    body = tar_bytes(entries)
    server.body = body
    dest = tmp_path / "dest"
    with pytest.raises(DownloadError, match=f"refused to extract '{refused}'"):
        download(server, hashlib.md5(body).hexdigest(), dest)
    assert leftovers(dest) == []
    assert not (tmp_path / "escaped.txt").exists()


def test_archive_without_the_dataset_is_refused(server, tmp_path):
    body = tar_bytes([(member("something/else.txt"), b"hello")])
    server.body = body
    with pytest.raises(DownloadError, match="not the CIFAR-10 python archive"):
        download(server, hashlib.md5(body).hexdigest(), tmp_path)
    assert leftovers(tmp_path) == []


def test_download_command_shows_progress_and_succeeds(server, archive, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONVVIZ_CIFAR_URL", server.url)
    monkeypatch.setenv("CONVVIZ_CIFAR_MD5", archive[1])
    assert download_command(str(tmp_path)) == 0
    out, err = capsys.readouterr()
    assert "100.0%" in err and "iB/s" in err and "Checking the md5 and extracting" in err
    assert str(tmp_path / "cifar-10-batches-py") in out
    assert download_command(str(tmp_path)) == 0
    assert "already in" in capsys.readouterr().out


def test_download_command_failure_exits_1_with_a_message(server, archive, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CONVVIZ_CIFAR_URL", server.url + ".missing")
    assert download_command(str(tmp_path)) == 1
    assert "error: the server answered 404" in capsys.readouterr().err


def test_download_errors_are_data_errors_and_cancel_is_not():
    assert issubclass(DownloadError, DataError) and not issubclass(DownloadCancelled, DataError)


def test_ctrl_c_cancels_the_download_command_cleanly(server, archive, tmp_path):
    server.mode = "slow"
    env = {**os.environ, "CONVVIZ_CIFAR_URL": server.url, "CONVVIZ_CIFAR_MD5": archive[1]}
    proc = subprocess.Popen([sys.executable, "-m", "convviz.cli", "download", "--dir", str(tmp_path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    part = tmp_path / "cifar-10-python.tar.gz.part"
    deadline = time.monotonic() + 30
    while (not part.exists() or part.stat().st_size < 200_000) and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Cancelled" in err and "to resume" in err and "Traceback" not in err
    assert leftovers(tmp_path) == [part.name]
    assert 200_000 <= part.stat().st_size < len(archive[0])
