"""Bulk GEOS work split across the cores.

shapely releases the GIL while GEOS works on an array, so a vectorised call over many geometries (the shared
areas of every candidate pair of a join, one bulk index query) runs on several threads at once when cut into
chunks. The chunks are put back together in order, so the result is exactly that of one call; small arrays
are not split. The number of threads is the `threads` limit (0: one per core this process may use).

What GEOS builds lazily is not safe to build from two threads at once: a prepared geometry builds its edge
index and point locator on its first predicate, and the same polygon reached from two chunks crashes the
interpreter (a segmentation fault or a double free; tests/test_geos_threads.py). So no prepared geometry is
reached from two threads: each chunk works on geometries of its own (`_owned_chunks`: a prepared geometry
that several chunks share is kept by the first and cloned, and the clone prepared, for each other chunk),
and an index is built before the threads start (`query_pairs` queries it once first).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely

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


def _prepared_positions(arr: np.ndarray) -> np.ndarray:
    """Where arr holds a prepared geometry (nothing for an array of numbers or of other objects)."""
    if getattr(arr, "dtype", None) != object or not len(arr):
        return np.zeros(0, dtype=np.intp)
    try:
        return np.flatnonzero(shapely.is_prepared(arr))
    except (TypeError, shapely.errors.GEOSException):  # not geometries: nothing GEOS prepared
        return np.zeros(0, dtype=np.intp)


def _owned_chunks(arrays: tuple[np.ndarray, ...], slices: list[slice]) -> list[list[np.ndarray]]:
    """Each chunk's part of every array, such that no prepared geometry is reached from two chunks: one that
    several chunks share stays in the first of them, and every other chunk gets a clone of its own, prepared
    here, before any thread starts (a clone holds nothing prepared, and GEOS builds what a prepared geometry
    needs on its first use, in the one thread that uses it)."""
    parts = [[a[s] for a in arrays] for s in slices]
    where = [_prepared_positions(a) for a in arrays]
    if not any(len(w) for w in where):
        return parts
    chunk_of = np.empty(len(arrays[0]), dtype=np.intp)
    for k, s in enumerate(slices):
        chunk_of[s] = k
    arg = np.concatenate([np.full(len(w), i, dtype=np.intp) for i, w in enumerate(where)])
    pos = np.concatenate(where)
    geoms = np.concatenate([arrays[i][w] for i, w in enumerate(where)])
    ids = np.fromiter(map(id, geoms), dtype=np.int64, count=len(geoms))
    chunk = chunk_of[pos]
    order = np.lexsort((chunk, ids))  # by geometry, then by chunk: the first of a geometry's rows is its keeper
    known, first = np.unique(ids[order], return_index=True)
    keeper = chunk[order][first][np.searchsorted(known, ids)]
    moved = np.flatnonzero(chunk != keeper)
    if not len(moved):
        return parts
    # one clone for each (chunk, geometry) that is not the geometry's keeper
    pair_keys = chunk[moved] * (len(known) + 1) + np.searchsorted(known, ids[moved])
    _, one_of_each, clone_of = np.unique(pair_keys, return_index=True, return_inverse=True)
    originals = geoms[moved[one_of_each]]
    clones = shapely.set_srid(originals, shapely.get_srid(originals))  # a copy of the geometry, not of its prepared state
    shapely.prepare(clones)
    clone_of = clone_of.ravel()
    for k, i in sorted(set(zip(chunk[moved].tolist(), arg[moved].tolist()))):
        rows = (chunk[moved] == k) & (arg[moved] == i)
        part = parts[k][i].copy()  # the caller's array is never written
        part[pos[moved[rows]] - slices[k].start] = clones[clone_of[rows]]
        parts[k][i] = part
    return parts


def geos_map(fn, *arrays: np.ndarray, min_chunk: int | None = None) -> np.ndarray:
    """fn(*arrays) for arrays of the same length, element by element (a shapely ufunc): on several threads
    when they are long (at least `min_chunk` elements per thread: fewer for costly work), with the same result
    as one call. No prepared geometry is reached from two threads (`_owned_chunks`)."""
    slices = _slices(len(arrays[0]), min_chunk)
    if not slices:
        return fn(*arrays)
    chunks = _owned_chunks(arrays, slices)
    parts = list(_executor(len(slices)).map(lambda part: fn(*part), chunks))
    return np.concatenate(parts)


def query_pairs(tree, geoms: np.ndarray, predicate: str | None) -> tuple[np.ndarray, np.ndarray]:
    """tree.query(geoms, predicate): (input index, tree index) of every hit, in the order of one call. The
    tree is built before the threads start (one query of the first geometry), and a prepared geometry among
    `geoms` is reached from one thread only (`_owned_chunks`)."""
    slices = _slices(len(geoms))
    if not slices:
        which, found = tree.query(geoms, predicate=predicate)
        return which, found
    tree.query(geoms[:1])  # GEOS builds an STRtree on its first query: here, in this thread
    chunks = _owned_chunks((geoms,), slices)
    parts = list(_executor(len(slices)).map(lambda part: tree.query(part[0], predicate=predicate), chunks))
    which = np.concatenate([part[0] + s.start for part, s in zip(parts, slices)])
    found = np.concatenate([part[1] for part in parts])
    return which, found
