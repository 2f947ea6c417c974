"""The function table of the language: geometry, aggregates, land-use codes and absent data."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import math
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable

import numpy as np
import shapely

from rulecheck.dsl.parallel import COSTLY_CHUNK, geos_map
from rulecheck.dsl.schema import BOOL, CODE, GEOM, NUM, STR, TOL, T, num
from rulecheck.dsl.units import Quantity, Tolerance
from rulecheck.dsl.values import EvalError, Missing, format_value, is_record, record_id


def as_geometry(value, what: str = "geometry"):
    """A record stands for its geometry (a package for its boundary); None is missing data."""
    if isinstance(value, shapely.Geometry):
        return value
    if isinstance(value, Missing):
        return value
    if is_record(value):
        geom = getattr(value, "geometry", None)
        if geom is None:
            geom = getattr(value, "boundary", None)
        if geom is None:
            return Missing(f"geometry of {record_id(value)}")
        return geom
    if value is None:
        return Missing(what)
    raise EvalError(f"expected a geometry, got {value!r}")


def tolerance_value(tol) -> float:
    if tol is None:
        return 0.0
    if isinstance(tol, Quantity):
        return tol.value
    if isinstance(tol, Tolerance):
        return tol.absolute.value if tol.absolute is not None else 0.0
    raise EvalError(f"expected an area tolerance, got {tol!r}")


# The intersection of two geometries is asked for many times per pair in a run (the where's overlaps(), the
# require's overlap_area(), the message, the conflict's place): computed once per pair while a run lasts.
_PAIRS: ContextVar[dict | None] = ContextVar("rulecheck_pair_intersections", default=None)


@contextlib.contextmanager
def pair_cache():
    token = _PAIRS.set({})
    try:
        yield
    finally:
        _PAIRS.reset(token)


# Geometries prepared for a join (a prepared polygon answers covers/intersects much faster, and holds an
# index of its edges in memory): released when the rule that needed them is done (engine: prepared_scope).
_PREPARED: ContextVar[list | None] = ContextVar("rulecheck_prepared", default=None)


PREPARE_MIN_COORDS = 64  # smaller geometries are tested faster (and with less memory) as they are


def _prepare(geoms) -> None:
    """shapely.prepare for the large geometries (a control line of thousands of vertices, tested against many
    rights), remembering what was not prepared before so prepared_scope can release it."""
    if isinstance(geoms, shapely.Geometry):  # one geometry (a pair computed on its own): the cheap tests first
        if shapely.get_num_coordinates(geoms) < PREPARE_MIN_COORDS or shapely.is_prepared(geoms):
            return
    arr = np.atleast_1d(np.asarray(geoms, dtype=object))
    fresh = arr[~shapely.is_prepared(arr) & (shapely.get_num_coordinates(arr) >= PREPARE_MIN_COORDS)]
    if not len(fresh):
        return
    shapely.prepare(fresh)
    held = _PREPARED.get()
    if held is not None:
        held.append(fresh)


@contextlib.contextmanager
def prepared_scope():
    """Geometries prepared inside the block are unprepared when it ends."""
    token = _PREPARED.set([])
    try:
        yield
    finally:
        for fresh in _PREPARED.get():
            shapely.destroy_prepared(fresh)
        _PREPARED.reset(token)


def forget_pairs() -> None:
    """Drop the intersections and shared areas kept so far (the next family of rules joins other pairs)."""
    cache = _PAIRS.get()
    if cache is not None:
        cache.clear()


def shared_intersection(a, b):
    cache = _PAIRS.get()
    if cache is None:
        return shapely.intersection(a, b)
    key = (id(a), id(b)) if id(a) <= id(b) else (id(b), id(a))
    hit = cache.get(key)
    # the entry keeps both geometries alive, so an id is never reused while its entry exists
    if hit is not None and ((hit[0] is a and hit[1] is b) or (hit[0] is b and hit[1] is a)):
        return hit[2]
    inter = shapely.intersection(a, b)
    cache[key] = (a, b, inter)
    return inter


def _key(a, b) -> tuple[int, int]:
    return (id(a), id(b)) if id(a) <= id(b) else (id(b), id(a))


def shared_overlap_area(a, b) -> float:
    """The area two geometries share. Polygons whose interiors do not meet (neighbours sharing an edge)
    share no area, which a DE-9IM test answers far faster than computing the intersection."""
    cache = _PAIRS.get()
    if cache is not None:
        known = _cached_area(cache, a, b)
        if known is not None:
            return known
    _prepare(a)
    _prepare(b)
    if shapely.covers(b, a):  # a parcel inside the unit: the whole of it, without an intersection
        value = float(shapely.area(a))
    elif shapely.covers(a, b):
        value = float(shapely.area(b))
    elif shapely.relate_pattern(a, b, "T********"):
        value = float(shapely.area(shared_intersection(a, b)))
    else:
        value = 0.0
    if cache is not None:
        cache[("area",) + _key(a, b)] = (a, b, value)
    return value


def cached_area_ids(pairs) -> list[float]:
    """The cached shared area of each (low id, high id) pair, NaN where the run's cache has none."""
    cache = _PAIRS.get()
    if cache is None:
        return [math.nan for _ in pairs]
    nan_entry = (None, None, math.nan)
    return [cache.get(("area", low, high), nan_entry)[2] for low, high in pairs]


def pair_known_ids(low: int, high: int) -> bool:
    """Whether the shared area of the geometries with ids low <= high is in the run's cache already."""
    cache = _PAIRS.get()
    return cache is not None and ("area", low, high) in cache


def cached_overlap_areas(a, others) -> list:
    """The shared area of `a` with each of `others` from the run's cache, None where it has none."""
    cache = _PAIRS.get()
    if cache is None:
        return [None] * len(others)
    return [_cached_area(cache, a, b) for b in others]


def _cached_area(cache: dict, a, b) -> float | None:
    """The shared area of a and b in the run's cache, None where it has none (an entry keeps both geometries
    alive, and is only taken for these very two)."""
    hit = cache.get(("area",) + _key(a, b))
    if hit is not None and ((hit[0] is a and hit[1] is b) or (hit[0] is b and hit[1] is a)):
        return hit[2]
    return None


def prefill_pairs(a, others) -> None:
    """The shared areas of `a` with many geometries, for shared_overlap_area to find."""
    cache = _PAIRS.get()
    if cache is None or len(others) == 0:
        return
    todo = [b for b in others if ("area",) + _key(a, b) not in cache]
    if todo:
        prefill_pair_arrays(np.full(len(todo), a, dtype=object), np.array(todo, dtype=object))


def prefill_pair_arrays(left, right) -> None:
    """The shared areas (and intersections where there is one) of left[i] and right[i] for every i, in a few
    vectorised GEOS calls: a prepared `covers` either way, else a DE-9IM test that the interiors meet, and an
    intersection only for the pairs that pass it."""
    cache = _PAIRS.get()
    if cache is None or len(left) == 0:
        return
    try:
        _prepare(left)
        _prepare(right)
        left_in_right = geos_map(shapely.covers, right, left)
        right_in_left = geos_map(shapely.covers, left, right) & ~left_in_right
        rest = ~(left_in_right | right_in_left)
        meet = np.zeros(len(left), dtype=bool)
        meet[rest] = geos_map(_interiors_meet, left[rest], right[rest])
        inters = geos_map(shapely.intersection, left[meet], right[meet], min_chunk=COSTLY_CHUNK)
        areas = np.zeros(len(left))
        areas[left_in_right] = shapely.area(left[left_in_right])
        areas[right_in_left] = shapely.area(right[right_in_left])
        areas[meet] = shapely.area(inters)
    except shapely.errors.GEOSException:
        return  # an invalid geometry among them: each pair is computed (and repaired) on its own
    lo, hi = (side.tolist() for side in id_pairs(left, right))
    cache.update(zip(zip(itertools.repeat("area"), lo, hi), zip(left, right, areas.tolist())))
    where = np.flatnonzero(meet)
    cache.update(zip(zip([lo[i] for i in where], [hi[i] for i in where]), zip(left[meet], right[meet], inters)))


def id_pairs(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The run cache's key of each pair (left[i], right[i]): the lower and the higher of the two ids."""
    ids = np.fromiter(map(id, left), dtype=np.int64, count=len(left)), \
        np.fromiter(map(id, right), dtype=np.int64, count=len(right))
    return np.minimum(*ids), np.maximum(*ids)


def _interiors_meet(a, b):
    return shapely.relate_pattern(a, b, "T********")


def square_metres(value: float) -> Quantity:
    """An area as the geometry functions give it."""
    return Quantity(value, "area", "m2")


def area(a) -> Quantity:
    return square_metres(float(shapely.area(a)))


def intersection(a, b):
    return shared_intersection(a, b)


def overlap_area(a, b) -> Quantity:
    return square_metres(shared_overlap_area(a, b))


def difference(a, b):
    return shapely.difference(a, b)


def outside_area(a, b) -> Quantity:
    return Quantity(float(shapely.area(shapely.difference(a, b))), "area", "m2")


def buffer(a, d):
    """The area within distance d of a geometry (a negative distance shrinks a polygon): "within 50 m" as a place."""
    value = d.value if isinstance(d, Quantity) else float(d)
    if not math.isfinite(value) or abs(value) > 1e7:
        raise EvalError(f"buffer distance {format_value(d)} is out of range")
    return shapely.buffer(a, value, quad_segs=8)


def distance(a, b) -> Quantity:
    return Quantity(float(shapely.distance(a, b)), "length", "m")


def intersects(a, b) -> bool:
    return bool(shapely.intersects(a, b))


def overlaps(a, b, tol=None) -> bool:
    """The two share interior area larger than the tolerance; touching along an edge is not overlapping."""
    # GEOS answers disjoint envelopes at once, so no separate intersects() test is needed first
    return shared_overlap_area(a, b) > tolerance_value(tol)


def within(a, b, tol=None) -> bool:
    """a lies inside b, allowing `tol` of a's area outside it."""
    if shapely.covers(b, a):
        return True
    return float(shapely.area(shapely.difference(a, b))) <= tolerance_value(tol)


def covers(a, b, tol=None) -> bool:
    return within(b, a, tol)


def disjoint(a, b, tol=None) -> bool:
    return not overlaps(a, b, tol)


def coverage(a, b) -> Quantity:
    """The share of a's area that b covers (in %)."""
    total = float(shapely.area(a))
    if total == 0:
        raise EvalError("coverage of an empty area")
    return Quantity(shared_overlap_area(a, b) / total, "", "%")


def is_valid(g) -> bool:
    return bool(shapely.is_valid(g))


# GEOS's reasons (`Self-intersection[x y]`), in Chinese for a zh report; the place in brackets is kept
_REASONS_ZH = {"Valid Geometry": "几何有效", "Self-intersection": "自相交", "Ring Self-intersection": "环自相交",
               "Too few points in geometry component": "几何部件的点数过少", "Hole lies outside shell": "内环位于外环之外",
               "Nested holes": "内环嵌套", "Interior is disconnected": "内部不连通", "Nested shells": "外环嵌套",
               "Duplicate Rings": "环重复", "Invalid Coordinate": "坐标无效", "Ring is not closed": "环未闭合"}


def validity_reason(g) -> str:
    from rulecheck.dsl.values import Bilingual

    reason = str(shapely.is_valid_reason(g))
    head, bracket, rest = reason.partition("[")
    zh = _REASONS_ZH.get(head.strip())
    return Bilingual(reason, zh + bracket + rest if zh else reason)


def is_empty(g) -> bool:
    return bool(shapely.is_empty(g))


def is_polygonal(g) -> bool:
    return g.geom_type in ("Polygon", "MultiPolygon")


def union_all(geoms) -> shapely.Geometry:
    geoms = [as_geometry(g) for g in geoms]
    missing = next((g for g in geoms if isinstance(g, Missing)), None)
    if missing is not None:
        return missing
    if not geoms:
        return shapely.Polygon()
    return shapely.union_all(geoms)


def tolerance(absolute=None, relative=None) -> Tolerance:
    abs_q, rel = None, None
    for value in (absolute, relative):
        if value is None:
            continue
        if value.unit == "%" and value.dim == "":
            rel = value.value
        else:
            abs_q = value
    return Tolerance(abs_q, rel)


def level1(code) -> str:
    return str(code)[:2]


def total(mapping) -> Quantity:
    return Quantity(sum(v.value for v in mapping.values()), "money", "wan_yuan")


def abs_(q):
    return Quantity(abs(q.value), q.dim, q.unit)


def len_(items) -> Quantity:
    return Quantity(float(len(items)), "", None)


def year_of(d: dt.date) -> Quantity:
    return Quantity(float(d.year), "", None)


@dataclass(frozen=True)
class Builtin:
    """A function: the kinds of its parameters (geom accepts a record with a geometry), how many are
    optional, its result type (or a function of the argument types), and its implementation."""

    params: tuple[str, ...]
    optional: int
    result: T | Callable[[list[T]], T]
    impl: Callable
    geometric: bool = False  # takes geometries: records are turned into their geometry first
    doc: str = ""


AREA = num("area")
BUILTINS: dict[str, Builtin] = {
    "area": Builtin(("geom",), 0, AREA, area, True, "area of a geometry, in m²"),
    "intersection": Builtin(("geom", "geom"), 0, GEOM, intersection, True, "the part two geometries share"),
    "overlap_area": Builtin(("geom", "geom"), 0, AREA, overlap_area, True, "area two geometries share"),
    "difference": Builtin(("geom", "geom"), 0, GEOM, difference, True, "a without b"),
    "outside_area": Builtin(("geom", "geom"), 0, AREA, outside_area, True, "area of a lying outside b"),
    "distance": Builtin(("geom", "geom"), 0, num("length"), distance, True, "shortest distance, in m"),
    "buffer": Builtin(("geom", "length"), 0, GEOM, buffer, True, "the area within a distance of a geometry"),
    "intersects": Builtin(("geom", "geom"), 0, BOOL, intersects, True, "they touch or overlap"),
    "overlaps": Builtin(("geom", "geom", "tol"), 1, BOOL, overlaps, True, "they share more than tol of area"),
    "within": Builtin(("geom", "geom", "tol"), 1, BOOL, within, True, "a lies in b (up to tol outside)"),
    "covers": Builtin(("geom", "geom", "tol"), 1, BOOL, covers, True, "b lies in a (up to tol outside)"),
    "disjoint": Builtin(("geom", "geom", "tol"), 1, BOOL, disjoint, True, "they share no more than tol of area"),
    "coverage": Builtin(("geom", "geom"), 0, NUM, coverage, True, "share of a covered by b, in %"),
    "is_valid": Builtin(("geom",), 0, BOOL, is_valid, True, "the geometry is valid (OGC)"),
    "validity_reason": Builtin(("geom",), 0, STR, validity_reason, True, "why a geometry is invalid"),
    "is_empty": Builtin(("geom",), 0, BOOL, is_empty, True, "the geometry is empty"),
    "is_polygonal": Builtin(("geom",), 0, BOOL, is_polygonal, True, "a Polygon or MultiPolygon"),
    "union": Builtin(("list",), 0, GEOM, union_all, False, "union of geometries"),
    "tolerance": Builtin(("num", "num"), 1, TOL, tolerance, False, "an absolute and/or relative tolerance"),
    "level1": Builtin(("code",), 0, CODE, level1, False, "the level-1 class of a code"),
    "total": Builtin(("dict",), 0, num("money"), total, False, "sum of a table of amounts"),
    "abs": Builtin(("num",), 0, lambda ts: ts[0], abs_, False, "absolute value"),
    "len": Builtin(("list",), 0, NUM, len_, False, "number of elements"),
    "year": Builtin(("date",), 0, NUM, year_of, False, "the year of a date"),
}

# functions that see absent values instead of being skipped by them
SPECIAL = {"present", "known", "default", "count", "sum", "min", "max"}
AGGREGATES = {"sum", "count", "min", "max", "union", "all", "any", "distinct", "list"}
