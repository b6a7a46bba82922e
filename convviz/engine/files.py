"""Files: atomic writes (weights, architecture files, checkpoints, summaries) and safe .npz reads."""
from __future__ import annotations

import os
import secrets
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


@contextmanager
def atomic_write(path, text: bool = False):
    """Open a new temporary file beside path (binary, or UTF-8 text); when the block ends without an
    exception it replaces path (os.replace), so readers see the old file or the new one, never half
    of one; otherwise it is removed. The file gets the permissions a plain open() gives (0o666 less
    the umask), not tempfile.mkstemp's owner-only 0o600."""
    path = Path(path)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with (os.fdopen(fd, "w", encoding="utf-8") if text else os.fdopen(fd, "wb")) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_npz(path) -> dict:
    """All arrays of an .npz archive, by name; never unpickles. Raises FileNotFoundError for a
    missing file and ValueError saying why anything else (a .npy, a pickle, text, a broken zip) is refused."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("it holds one array (.npy), not an .npz archive of named arrays")
        with loaded as f:
            return {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        reason = str(e)
        if "pickle" in reason:  # NumPy's message suggests unpickling: never do that
            reason = "it is not an .npz archive of arrays (pickles and text files are refused)"
        raise ValueError(reason) from e
