"""Bulk GEOS work split across the cores.

shapely releases the GIL while GEOS works on an array, so a vectorised call over many geometries (the shared
areas of every candidate pair of a join, one bulk index query) runs on several threads at once when cut into
chunks. The chunks are put back together in order, so the result is exactly that of one call; small arrays
are not split. The number of threads is the `threads` limit (0: one per core this process may use).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from rulecheck import limits

MIN_CHUNK = 2_000  # below this many geometries per thread, the hand-over costs more than it saves
COSTLY_CHUNK = 250  # the same for work of tens of microseconds a geometry (intersections, precision)

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def workers() -> int:
    """Threads bulk geometry work may use."""
    wanted = int(limits.current().threads)
    return max(1, wanted or _cores())


def _executor(size: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != size:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="rulecheck-geos")
            _pool_size = size
        return _pool


def _forget_pool() -> None:  # a forked child (a worker of the service or of batch) has no threads of its own
    global _pool, _pool_size
    _pool, _pool_size = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _slices(n: int, min_chunk: int | None = None) -> list[slice]:
    min_chunk = min_chunk or MIN_CHUNK
    if n < 2 * min_chunk:  # not worth a thread (and the limits are not looked up)
        return []
    chunks = min(workers(), n // min_chunk)
    if chunks <= 1:
        return []
    bounds = np.linspace(0, n, chunks + 1).astype(int)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def geos_map(fn, *arrays: np.ndarray, min_chunk: int | None = None) -> np.ndarray:
    """fn(*arrays) for arrays of the same length, element by element (a shapely ufunc): on several threads
    when they are long (at least `min_chunk` elements per thread: fewer for costly work), with the same result
    as one call."""
    slices = _slices(len(arrays[0]), min_chunk)
    if not slices:
        return fn(*arrays)
    parts = list(_executor(len(slices)).map(lambda s: fn(*(a[s] for a in arrays)), slices))
    return np.concatenate(parts)


def query_pairs(tree, geoms: np.ndarray, predicate: str | None) -> tuple[np.ndarray, np.ndarray]:
    """tree.query(geoms, predicate): (input index, tree index) of every hit, in the order of one call."""
    slices = _slices(len(geoms))
    if not slices:
        which, found = tree.query(geoms, predicate=predicate)
        return which, found
    parts = list(_executor(len(slices)).map(lambda s: tree.query(geoms[s], predicate=predicate), slices))
    which = np.concatenate([part[0] + s.start for part, s in zip(parts, slices)])
    found = np.concatenate([part[1] for part in parts])
    return which, found
