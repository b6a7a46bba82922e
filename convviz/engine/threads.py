"""BLAS threads, the batch split, and the allocator.

NumPy's BLAS runs single-threaded (set explicitly: oversubscribing two cores made an im2col
engine 3x slower); instead Network splits each batch into one chunk per core and runs the
chunks through runs of layers in parallel, the first in the calling thread and the others in a
small thread pool (NumPy releases the GIL in GEMMs and copies). glibc's malloc hands multi-megabyte arrays back to the kernel on every free, so
each training step page-faulted them in again (2,500 faults, a fifth of the step's time): the
engine asks it to keep freed memory for reuse instead.

The engine's threads need the GIL for a moment between NumPy calls. Python makes a thread that wants
it wait up to 5 ms for a thread running Python code to let go; the engine shortens that to
GIL_SWITCH_SECONDS. While the app's GUI thread ran Python (a redraw: 20-40 ms), each of those moments
waited out the whole 5 ms, and ResNet-20's batch-split threads, which meet 44 times a step, trained at
79% of their headless speed with the dashboard's view changing every second (92% with 0.5 ms); without
a GUI, the ConvNetJS net's training step takes about 5% less time.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Sequence, TypeVar

from threadpoolctl import threadpool_info, threadpool_limits

T = TypeVar("T")


def _usable_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _configured_workers() -> int:
    """$CONVVIZ_THREADS, else one worker per usable core; 1 to 8."""
    value = os.environ.get("CONVVIZ_THREADS")
    if value is None:
        return max(1, min(_usable_cores(), 8))
    try:
        return max(1, min(int(value), 8))
    except ValueError:
        raise ValueError(f"CONVVIZ_THREADS must be a whole number of engine threads (1 to 8), got {value!r}") from None


WORKERS = _configured_workers()
MIN_CHUNK = 4  # below this many images per chunk, splitting costs more than it saves
CHUNK_BYTES = 1 << 22  # a chunk's largest activation: more images per chunk than that add cache misses
GIL_SWITCH_SECONDS = 0.0005  # the longest a thread waits for the GIL (Python's default: 5 ms; see above)

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)


def keep_freed_memory() -> bool:
    """Ask glibc to serve arrays up to 32 MB from its heap and not trim freed memory below 256 MB,
    so the engine's large temporaries are reused instead of page-faulted in again. False where
    the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20))
    except (OSError, AttributeError):
        return False


threadpool_limits(limits=1, user_api="blas")
sys.setswitchinterval(GIL_SWITCH_SECONDS)
KEEPS_FREED_MEMORY = keep_freed_memory()
_pool = ThreadPoolExecutor(max_workers=WORKERS - 1, thread_name_prefix="convviz-engine") if WORKERS > 1 else None


def blas_threads() -> int:
    """NumPy's BLAS thread count (threadpoolctl's view)."""
    return max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), default=1)


@contextmanager
def limit_workers(count: int):
    """Temporarily split batches into at most count chunks (count <= WORKERS runs them in parallel)."""
    global WORKERS
    saved, WORKERS = WORKERS, max(1, count)
    try:
        yield
    finally:
        WORKERS = saved


def chunk_images(image_bytes: int) -> int:
    """The most images a chunk should hold when each image's largest activation takes image_bytes."""
    return max(MIN_CHUNK, CHUNK_BYTES // max(1, image_bytes))


def batch_chunks(n: int, most: int | None = None) -> list[slice]:
    """Split range(n) into contiguous slices of at least MIN_CHUNK items: one per worker, or when that
    puts more than `most` in one, a multiple of the workers' count (see run_chunks)."""
    parts = max(1, min(WORKERS, n // MIN_CHUNK))
    if most and n > parts * most:
        parts = max(1, min(-(-n // (most * WORKERS)) * WORKERS, n // MIN_CHUNK))
    bounds = [n * k // parts for k in range(parts + 1)]
    return [slice(bounds[k], bounds[k + 1]) for k in range(parts)]


def chunk_groups(count: int) -> int:
    """How many threads run `count` chunks: chunk k runs in group k % chunk_groups(count), each group's
    chunks in turn, in order."""
    return 1 if _pool is None else max(1, min(count, WORKERS))


def run_chunks(fn: Callable[[Any], T], chunks: Sequence) -> list[T]:
    """fn(chunk) for every chunk (any items), in parallel when there are several: each group of
    chunk_groups in one thread (the first in the calling thread, the others in the pool); results in
    the chunks' order."""
    groups = chunk_groups(len(chunks))
    if groups == 1:
        return [fn(c) for c in chunks]

    def run_group(g: int) -> list[T]:
        return [fn(c) for c in chunks[g::groups]]

    others = [_pool.submit(run_group, g) for g in range(1, groups)]
    try:
        first = run_group(0)
    finally:
        for future in others:  # wait for them all before anything propagates
            future.exception()
    results: list = [None] * len(chunks)
    for g, part in enumerate([first] + [future.result() for future in others]):
        results[g::groups] = part
    return results
