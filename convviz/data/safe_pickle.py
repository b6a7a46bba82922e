"""Reading the CIFAR-10 pickles without trusting them.

The official batches are Python-2 pickles of a dict holding a NumPy array; they reference only
numpy.core.multiarray._reconstruct, numpy.ndarray and numpy.dtype (checked with pickletools).
The unpickler admits those (and NumPy 2's numpy._core spelling) and nothing else, so a file that
asks for os.system, builtins.eval or any other callable is refused before anything runs.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy < 2
    from numpy.core.multiarray import _reconstruct

from .errors import DataError



def _reconstruct_empty(subtype, shape, dtype):
    """NumPy's _reconstruct for the only call a pickled array makes: an empty array that the pickle's
    state then fills from bytes it holds. A larger shape would allocate what the file merely claims."""
    if subtype is not np.ndarray or shape not in ((0,), 0, [0]):
        raise pickle.UnpicklingError(f"an array is rebuilt with shape {shape!r}; pickled arrays start empty")
    return _reconstruct(subtype, shape, dtype)


ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_empty,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct_empty,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle asked for a global outside the allow-list."""


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler whose find_class admits only NumPy array reconstruction."""

    def find_class(self, module: str, name: str):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise RefusedGlobal(f"{module}.{name}") from None


def load_pickle(path: Path):
    """Unpickle path with the allow-list; Python-2 strings are decoded as latin-1 (as NumPy requires).
    Raises DataError naming the file for a refused global and for a truncated or corrupt file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f, encoding="latin1").load()
    except RefusedGlobal as e:
        raise DataError(f"{path}: refused to load: the file asks to call {e}, which no CIFAR-10 file "
                        "contains, so it is not a genuine CIFAR-10 batch and nothing in it was run. "
                        "Delete it and download CIFAR-10 again (convviz download).") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read the file ({e.strerror or e}). Check that it exists and is "
                        "readable, or download CIFAR-10 again (convviz download).") from None
    except MemoryError:
        raise DataError(f"{path}: the file describes more data than this machine's memory holds, so it is "
                        "corrupt or crafted. Delete it and download CIFAR-10 again (convviz download).") from None
    except Exception as e:  # EOFError, UnpicklingError, ValueError, ... from a damaged stream
        reason = str(e).strip().splitlines()[0] if str(e).strip() else "it ends early"
        raise DataError(f"{path}: the file is truncated or corrupt ({reason}). "
                        "Delete it and download CIFAR-10 again (convviz download).") from None
