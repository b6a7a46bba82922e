"""BLAS threads and the batch split.

NumPy's BLAS runs single-threaded (set explicitly: oversubscribing two cores made an im2col
engine 3x slower); instead the heavy kernels split each batch into one chunk per core and run
the chunks in a small thread pool (NumPy releases the GIL in GEMMs and copies).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

from threadpoolctl import threadpool_info, threadpool_limits

T = TypeVar("T")

WORKERS = max(1, min(int(os.environ.get("CONVVIZ_THREADS", os.cpu_count() or 1)), 8))
MIN_CHUNK = 4  # below this many images per chunk, splitting costs more than it saves

threadpool_limits(limits=1, user_api="blas")
_pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="convviz-engine") if WORKERS > 1 else None


def blas_threads() -> int:
    """NumPy's BLAS thread count (threadpoolctl's view)."""
    return max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), default=1)


def batch_chunks(n: int) -> list[slice]:
    """Split range(n) into up to WORKERS contiguous slices of at least MIN_CHUNK items."""
    parts = max(1, min(WORKERS, n // MIN_CHUNK))
    bounds = [n * k // parts for k in range(parts + 1)]
    return [slice(bounds[k], bounds[k + 1]) for k in range(parts)]


def run_chunks(fn: Callable[[slice], T], chunks: Sequence[slice]) -> list[T]:
    """fn(chunk) for every chunk, in parallel when there are several; results in order."""
    if len(chunks) == 1 or _pool is None:
        return [fn(c) for c in chunks]
    return list(_pool.map(fn, chunks))
