"""Bulk GEOS work on several threads never reaches one prepared geometry from two threads (issue 19).

A prepared geometry builds its edge index on its first predicate; two threads building it at once crash the
interpreter (tests/geos_race.py --raw shows the pattern). rulecheck.dsl.parallel gives each chunk geometries
of its own. These tests run the race script in a child process (a crash is a failed test, not a dead pytest),
check the property itself on every call, and run a county whose package boundaries are large prepared
polygons with threads on, against the same check on one thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import shapely

from rulecheck import limits
from rulecheck.dsl import parallel

ROOT = Path(__file__).resolve().parents[1]
STRESS_RUNS = int(os.environ.get("RULECHECK_STRESS_RUNS", "20"))  # 100 for the acceptance run


def _died(proc: subprocess.CompletedProcess) -> str:
    if proc.returncode < 0:
        return f"killed by signal {-proc.returncode}: {proc.stderr[-2000:]}"
    return f"exit status {proc.returncode}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"


def test_race_script_runs_without_a_crash_on_two_to_four_threads():
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "geos_race.py"), "--runs", str(STRESS_RUNS),
                           "--threads", "2,3,4"], capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, _died(proc)
    assert f"{STRESS_RUNS} runs" in proc.stdout


def _shared_polygons(n: int, distinct: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0, 5000, (distinct, 2))
    bigs = np.array([shapely.Point(x, y).buffer(200, quad_segs=64) for x, y in centers], dtype=object)
    shapely.prepare(bigs)
    idx = np.arange(n) % distinct  # interleaved: every polygon in every chunk
    corners = centers[idx] + rng.uniform(-220, 200, (n, 2))
    boxes = shapely.box(corners[:, 0], corners[:, 1], corners[:, 0] + 15, corners[:, 1] + 15)
    shapely.prepare(boxes)
    return bigs[idx], boxes


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_no_prepared_geometry_is_reached_from_two_threads(threads):
    left, right = _shared_polygons(12_000, 40)
    before = left.copy()
    seen: dict[int, set[int]] = defaultdict(set)
    calls = []
    lock = threading.Lock()

    def spy(a, b):
        mine = {id(g) for arr in (a, b) for g in arr[shapely.is_prepared(arr)]}
        with lock:
            calls.append(len(a))
            for key in mine:
                seen[key].add(threading.get_ident())
        return shapely.covers(a, b)

    with limits.override(threads=threads):
        got = parallel.geos_map(spy, left, right)
        reverse = parallel.geos_map(shapely.covers, right, left)
    assert max(len(t) for t in seen.values()) == 1, "a prepared geometry was reached from two threads"
    assert len(calls) == threads  # the work was cut in one chunk a thread
    assert all(a is b for a, b in zip(left, before))  # the caller's array is not written
    assert np.array_equal(got, shapely.covers(left, right))
    assert np.array_equal(reverse, shapely.covers(right, left))


def test_index_queries_with_shared_prepared_inputs_match_one_call():
    left, right = _shared_polygons(9_000, 30)
    tree = shapely.STRtree(right[:3000])
    with limits.override(threads=3):
        which, found = parallel.query_pairs(tree, left, "intersects")
    one_which, one_found = shapely.STRtree(right[:3000]).query(left, predicate="intersects")
    assert np.array_equal(which, one_which) and np.array_equal(found, one_found)


def _county(tmp_path_factory, parcels: int) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("county", ROOT / "benchmarks" / "county.py")
    county = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("county", county)
    spec.loader.exec_module(county)
    return county.write_county(parcels, folder=tmp_path_factory.mktemp("round-county"), round_boundaries=64)


def test_county_with_large_prepared_boundaries_checks_alike_with_threads_on(tmp_path_factory, tmp_path):
    """The CI-sized form of the 100k county: the unit's and packages' boundaries of hundreds of vertices (prepared
    for the joins), enough parcels (20k) that the unit boundary's shared areas are cut across threads (measured
    with a spy on parallel's chunks: four such calls, each with the boundary cloned for the other chunks); four
    threads and one give the same bytes."""
    manifest = _county(tmp_path_factory, 20_000)
    outs = {}
    for label, extra in (("threads", ["--limit", "threads=4"]), ("one", ["--limit", "threads=1"])):
        out = tmp_path / f"{label}.json"
        proc = subprocess.run([sys.executable, "-m", "rulecheck", "check", str(manifest), "--format", "json",
                               "--output", str(out), *extra], capture_output=True, text=True, timeout=900)
        assert proc.returncode in (0, 1), _died(proc)
        outs[label] = out.read_bytes()
    assert outs["threads"] == outs["one"]
    assert json.loads(outs["one"])["summary"]["error"] > 0  # the rounded boundaries do make joins to decide
