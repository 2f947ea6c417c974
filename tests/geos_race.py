"""The race of issue 19: many pairs sharing few large prepared polygons, cut across threads.

    python tests/geos_race.py --runs 100 --threads 2,3,4

Each run builds the pairs anew (a fresh set of prepared polygons, as a rule's join does), maps shapely.covers
both ways and queries an STRtree with shared prepared geometries through rulecheck.dsl.parallel, on the
given numbers of threads, and compares every result with one single-threaded call. A crash ends the process
with a signal (the test that runs this script sees it); a wrong result exits 1. `--raw` runs the unprotected
pattern (threads on the shared prepared geometries, as rulecheck did before) to show the script can fail.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import shapely

from rulecheck import limits
from rulecheck.dsl import parallel


def pairs(seed: int, n: int = 40_000, bigs: int = 50):
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0, 1e4, (bigs, 2))
    big = [shapely.Point(x, y).buffer(300, quad_segs=128) for x, y in centers]
    shapely.prepare(big)
    idx = np.arange(n) % bigs
    left = np.array([big[i] for i in idx], dtype=object)
    off = rng.uniform(-320, 300, (n, 2))
    corners = centers[idx] + off
    right = shapely.box(corners[:, 0], corners[:, 1], corners[:, 0] + 20, corners[:, 1] + 20)
    shapely.prepare(right)
    return left, right, np.array(big, dtype=object)


def one_run(seed: int, threads: int, raw: bool) -> bool:
    left, right, big = pairs(seed)
    if raw:  # the unprotected pattern: two threads on the same prepared polygons
        pool = ThreadPoolExecutor(threads)
        cuts = np.array_split(np.arange(len(left)), threads)
        a = np.concatenate(list(pool.map(lambda c: shapely.covers(left[c], right[c]), cuts)))
        b = np.concatenate(list(pool.map(lambda c: shapely.covers(right[c], left[c]), cuts)))
        pool.shutdown()
        return a.shape == b.shape
    with limits.override(threads=threads):
        a = parallel.geos_map(shapely.covers, left, right)
        b = parallel.geos_map(shapely.covers, right, left)
        c = parallel.geos_map(shapely.intersects, left, right)
        tree = shapely.STRtree(right[:2000])  # the shared prepared polygons as the inputs of an index query
        which, found = parallel.query_pairs(tree, left[:6000], "intersects")
    left2, right2, _ = pairs(seed)  # the same pairs, fresh and unshared, computed in one call
    tree2 = shapely.STRtree(right2[:2000])
    which2, found2 = tree2.query(left2[:6000], predicate="intersects")
    return (np.array_equal(a, shapely.covers(left2, right2)) and np.array_equal(b, shapely.covers(right2, left2))
            and np.array_equal(c, shapely.intersects(left2, right2))
            and np.array_equal(which, which2) and np.array_equal(found, found2))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--threads", default="2,3,4")
    ap.add_argument("--raw", action="store_true")
    args = ap.parse_args(argv)
    counts = [int(t) for t in args.threads.split(",")]
    for run in range(args.runs):
        threads = counts[run % len(counts)]
        if not one_run(run, threads, args.raw):
            print(f"run {run} on {threads} threads: a result differs from one single-threaded call")
            return 1
    print(f"{args.runs} runs on {args.threads} threads: no crash, every result equal to one call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
