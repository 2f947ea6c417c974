"""Geometries from GeoJSON mappings, WKT and GDAL layers, as arrays of shapely 2 objects (vectorised)."""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely import GeometryType

_WKT_START = re.compile(
    r"\s*(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON|GEOMETRYCOLLECTION"
    r"|CIRCULARSTRING|COMPOUNDCURVE|CURVEPOLYGON|MULTICURVE|MULTISURFACE|TRIANGLE|TIN|POLYHEDRALSURFACE)\b",
    re.IGNORECASE,
)

# GEOS type ids of curved geometries (GEOS >= 3.13 reads them; no operation rulecheck needs accepts them)
_CURVED = {8: "CIRCULARSTRING", 9: "COMPOUNDCURVE", 10: "CURVEPOLYGON", 11: "MULTICURVE", 12: "MULTISURFACE"}

# GeoJSON type -> (shapely type, nesting depth of "coordinates" above the positions)
_DEPTHS = {
    "Point": (GeometryType.POINT, 0),
    "LineString": (GeometryType.LINESTRING, 1),
    "Polygon": (GeometryType.POLYGON, 2),
    "MultiPoint": (GeometryType.MULTIPOINT, 1),
    "MultiLineString": (GeometryType.MULTILINESTRING, 2),
    "MultiPolygon": (GeometryType.MULTIPOLYGON, 3),
}


def looks_like_wkt(text: str) -> bool:
    return bool(_WKT_START.match(text))


class _Unreadable(Exception):
    pass


def _is_position(value: Any) -> bool:
    return isinstance(value, list) and 2 <= len(value) <= 4


def _check_position(position: Any) -> None:
    if not _is_position(position):
        raise _Unreadable(f"expected a position [x, y], got {_shown_json(position)}")
    for number in position[:2]:
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise _Unreadable(f"expected numeric coordinates, got {_shown_json(position)}")
        try:
            finite = math.isfinite(number)
        except OverflowError:  # an integer too large for a float
            finite = False
        if not finite:
            raise _Unreadable(f"a coordinate is infinite or out of range, got {_shown_json(position)}")


def _shown_json(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (ValueError, TypeError, RecursionError):
        text = repr(type(value).__name__)
    return text if len(text) <= 60 else text[:57] + "..."


class _Builder:
    """Collects one geometry type's coordinates into the flat arrays of shapely.from_ragged_array."""

    def __init__(self, geometry_type: GeometryType, depth: int):
        self.geometry_type, self.depth = geometry_type, depth
        self.items: list[tuple[int, Any]] = []

    def add(self, position: int, coordinates: Any) -> None:
        if isinstance(coordinates, list) and not coordinates:
            raise _Unreadable("empty coordinates; an empty geometry has no place to check")
        if self.geometry_type == GeometryType.POLYGON:
            self._check_polygon(coordinates)
        else:
            self._check(coordinates, self.depth, strict=False)
        self.items.append((position, coordinates))

    @staticmethod
    def _check_polygon(rings: Any) -> None:
        # the common case, inlined: a list of closed rings of at least 4 positions (numbers are checked in bulk)
        if not isinstance(rings, list):
            raise _Unreadable(f"expected a list of rings, got {_shown_json(rings)}")
        for ring in rings:
            if not isinstance(ring, list):
                raise _Unreadable(f"expected a list of coordinates, got {_shown_json(ring)}")
            if len(ring) < 4:
                raise _Unreadable(f"a polygon ring needs at least 4 positions, got {len(ring)}")
            first, last = ring[0], ring[-1]
            if first != last and (not _is_position(first) or not _is_position(last) or first[:2] != last[:2]):
                raise _Unreadable("a polygon ring is not closed (first and last positions differ)")

    def _check(self, value: Any, depth: int, strict: bool) -> None:
        if depth == 0:
            if strict or not _is_position(value):
                _check_position(value)
            return
        if not isinstance(value, list):
            raise _Unreadable(f"expected a list of coordinates, got {_shown_json(value)}")
        if not value:  # an empty part (GEOS cannot build a polygon without rings)
            raise _Unreadable("an empty list of coordinates; every part needs positions")
        if depth > 1 or strict or self.depth == 1 and self.geometry_type == GeometryType.MULTIPOINT:
            for item in value:
                self._check(item, depth - 1, strict)
        if depth == 1 and self.geometry_type in (GeometryType.POLYGON, GeometryType.MULTIPOLYGON):
            if len(value) < 4:
                raise _Unreadable(f"a polygon ring needs at least 4 positions, got {len(value)}")
            if not _is_position(value[0]) or value[0][:2] != value[-1][:2]:
                raise _Unreadable("a polygon ring is not closed (first and last positions differ)")
        elif depth == 1 and self.geometry_type in (GeometryType.LINESTRING, GeometryType.MULTILINESTRING):
            if len(value) == 1:
                raise _Unreadable("a line needs at least 2 positions, got 1")

    def build(self) -> tuple[list[int], np.ndarray, dict[int, str]]:
        """The geometries of the readable items (their positions first), and the unreadable ones."""
        try:
            return [p for p, _ in self.items], self._build(self.items), {}
        except (ValueError, TypeError, OverflowError, IndexError, RecursionError, shapely.errors.GEOSException):
            pass
        # some position is not a pair of numbers: find which, build the rest
        good, errors = [], {}
        for position, coordinates in self.items:
            try:
                self._check(coordinates, self.depth, strict=True)
                good.append((position, coordinates))
            except _Unreadable as exc:
                errors[position] = str(exc)
            except (RecursionError, OverflowError):
                errors[position] = "coordinates nested too deeply or out of range"
        try:
            return [p for p, _ in good], self._build(good), errors
        except (ValueError, TypeError, OverflowError, IndexError, RecursionError, shapely.errors.GEOSException) as exc:
            # what the strict check let through and GEOS still refuses (an empty part, say): all unreadable
            errors.update({p: f"unreadable coordinates ({exc})" for p, _ in good})
            return [], np.empty(0, dtype=object), errors

    def _build(self, items: list[tuple[int, Any]]) -> np.ndarray:
        coords: list = []
        extend = coords.extend
        depth = self.depth
        if depth == 0:
            coords = [coordinates for _, coordinates in items]
            levels: tuple = ()
        elif depth == 1:
            offsets = [0]
            for _, line in items:
                extend(line)
                offsets.append(len(coords))
            levels = (offsets,)
        elif depth == 2:
            part_offsets, geometry_offsets = [0], [0]
            for _, parts in items:
                for part in parts:
                    extend(part)
                    part_offsets.append(len(coords))
                geometry_offsets.append(len(part_offsets) - 1)
            levels = (part_offsets, geometry_offsets)
        else:
            ring_offsets, polygon_offsets, geometry_offsets = [0], [0], [0]
            for _, polygons in items:
                for polygon in polygons:
                    for ring in polygon:
                        extend(ring)
                        ring_offsets.append(len(coords))
                    polygon_offsets.append(len(ring_offsets) - 1)
                geometry_offsets.append(len(polygon_offsets) - 1)
            levels = (ring_offsets, polygon_offsets, geometry_offsets)
        try:
            array = _positions(coords)
        except ValueError:
            # mixed 2D/3D positions: keep x and y of each
            array = np.asarray([position[:2] for position in coords], dtype=float)
        if array.ndim != 2 or array.shape[1] < 2:
            if len(coords) == 0:
                array = np.empty((0, 2))
            else:
                raise ValueError("positions are not pairs of numbers")
        # x, y and a z when given (the loader drops z with a note); a measure (4th value) is dropped here
        array = np.ascontiguousarray(array[:, :3])
        if not np.isfinite(array[:, :2]).all():
            raise ValueError("non-finite coordinate")
        if array.shape[1] == 3 and not np.isfinite(array[:, 2]).all():
            array = np.ascontiguousarray(array[:, :2])
        if depth == 0:
            return shapely.points(array)
        return shapely.from_ragged_array(self.geometry_type, array, tuple(np.asarray(level, dtype=np.int64) for level in levels))


def _positions(coords: list) -> np.ndarray:
    """np.asarray(coords, dtype=float) of a list of positions; for the common all-[x, y] case, flattened in C first
    (twice as fast as numpy discovering the nested lists' shape; the same conversion of each number)."""
    try:
        pairs = len(coords) > 0 and set(map(len, coords)) == {2}
    except TypeError:  # something without a length where a position should be
        pairs = False
    if pairs:
        return np.fromiter(itertools.chain.from_iterable(coords), dtype=float, count=2 * len(coords)).reshape(-1, 2)
    return np.asarray(coords, dtype=float)


def _type_name(builder: _Builder) -> str:
    return next(name for name, (kind, _) in _DEPTHS.items() if kind == builder.geometry_type)


def from_geojson_mappings(geometries: list[Any]) -> tuple[np.ndarray, dict[int, str]]:
    """GeoJSON geometry mappings -> shapely array (None where the mapping is None), and unreadable ones by index."""
    result = np.full(len(geometries), None, dtype=object)
    errors: dict[int, str] = {}
    builders: dict[str, _Builder] = {}
    others: list[int] = []
    for position, geometry in enumerate(geometries):
        if geometry is None:
            continue
        if not isinstance(geometry, dict):
            errors[position] = f"expected a GeoJSON geometry object or WKT text, got {type(geometry).__name__}"
            continue
        kind = geometry.get("type")
        if not isinstance(kind, str):
            errors[position] = f"the geometry \"type\" must be text, got {_shown_json(kind)}"
            continue
        if kind == "GeometryCollection":
            others.append(position)
            continue
        if kind not in _DEPTHS:
            errors[position] = f"unknown geometry type {kind!r}; expected one of: {', '.join(_DEPTHS)}, GeometryCollection"
            continue
        if "coordinates" not in geometry:
            errors[position] = f"{kind} has no \"coordinates\""
            continue
        builder = builders.get(kind)
        if builder is None:
            builder = builders[kind] = _Builder(*_DEPTHS[kind])
        try:
            builder.add(position, geometry["coordinates"])
        except _Unreadable as exc:
            errors[position] = f"{kind}: {exc}"
    finite = np.zeros(len(geometries), dtype=bool)  # built from positions found finite (_Builder._build)
    for builder in builders.values():
        positions, built, builder_errors = builder.build()
        if positions:
            result[np.asarray(positions)] = built
            finite[np.asarray(positions)] = True
        errors.update({position: f"{_type_name(builder)}: {message}" for position, message in builder_errors.items()})
    for position in others:
        try:
            result[position] = shapely.from_geojson(json.dumps(geometries[position]))
        except (shapely.errors.GEOSException, ValueError, TypeError, RecursionError) as exc:
            errors[position] = f"unreadable GeometryCollection: {exc}"
    refuse_unsupported(result, errors, finite)
    return result, dict(sorted(errors.items()))


def refuse_unsupported(result: np.ndarray, errors: dict[int, str], finite: np.ndarray | None = None) -> None:
    """Mark curved and empty geometries unreadable (in `errors`, set to None in `result`), saying why; and those
    with a coordinate that is not finite, but where `finite` (a mask) says they were built from finite ones."""
    if not len(result):
        return
    present = np.flatnonzero(~shapely.is_missing(result))
    # only a collection (7) or a curved type (8-12) needs a closer look: one vectorised call finds them
    for position in present[shapely.get_type_id(result[present]) >= 7].tolist():
        shape = result[position]
        curved = _curved_type(shape)
        if curved:
            errors[position] = (f"curved geometry ({curved}) is not supported; convert it to straight segments "
                                "first (e.g. ogr2ogr -nlt CONVERT_TO_LINEAR, or QGIS Segmentize)")
            result[position] = None
    present = ~shapely.is_missing(result)
    unchecked = present if finite is None else present & ~finite
    coordinates, owners = shapely.get_coordinates(np.where(unchecked, result, None), return_index=True)
    for position in sorted(set(owners[~np.isfinite(coordinates).all(axis=1)].tolist())):
        errors[position] = "a coordinate is infinite or out of range"
        result[position] = None
    present = ~shapely.is_missing(result)
    for position in np.flatnonzero(present & shapely.is_empty(np.where(present, result, None))).tolist():
        errors[position] = "empty geometry; an empty geometry has no place to check"
        result[position] = None


def _curved_type(shape: Any) -> str | None:
    type_id = int(shapely.get_type_id(shape))
    if type_id in _CURVED:
        return _CURVED[type_id]
    if type_id == 7:  # a GeometryCollection: any curved member
        for part in shapely.get_parts(shape):
            found = _curved_type(part)
            if found:
                return found
    return None


def from_wkt_strings(texts: list[str]) -> tuple[np.ndarray, dict[int, str]]:
    """WKT strings -> shapely array, and the unreadable ones by index with GEOS's reason."""
    errors: dict[int, str] = {}
    try:
        with np.errstate(over="ignore"):  # 1e400 reads as infinity: refused below, by refuse_unsupported
            result = shapely.from_wkt(np.asarray(texts, dtype=object), on_invalid="ignore")
    except (NotImplementedError, RecursionError, MemoryError):
        # a curved type (shapely refuses the whole array): read one by one to say which
        result = np.full(len(texts), None, dtype=object)
        for position, text in enumerate(texts):
            try:
                result[position] = shapely.from_wkt(text, on_invalid="ignore")
            except NotImplementedError:
                kind = _WKT_START.match(text)
                name = kind.group(1).upper() if kind else "a curved type"
                errors[position] = (f"curved geometry ({name}) is not supported; convert it to straight segments "
                                    "first (e.g. ogr2ogr -nlt CONVERT_TO_LINEAR, or QGIS Segmentize)")
            except (RecursionError, MemoryError):
                errors[position] = "unreadable WKT: nested too deeply or too large"
    for position in np.flatnonzero(shapely.is_missing(result)).tolist():
        if position in errors:
            continue
        try:
            shapely.from_wkt(texts[position])
            reason = "unreadable WKT"
        except (shapely.errors.GEOSException, ValueError, TypeError, NotImplementedError) as exc:
            reason = str(exc).removeprefix("ParseException: ")
        errors[position] = f"unreadable WKT: {reason}"
    refuse_unsupported(result, errors)
    return result, errors


def from_any(values: list[Any]) -> tuple[np.ndarray, dict[int, str]]:
    """A mix of GeoJSON mappings, WKT strings and None -> shapely array, and the unreadable ones by index."""
    result = np.full(len(values), None, dtype=object)
    wkt_positions = [i for i, value in enumerate(values) if isinstance(value, str)]
    other_positions = [i for i, value in enumerate(values) if not isinstance(value, str)]
    errors: dict[int, str] = {}
    if wkt_positions:
        parsed, wkt_errors = from_wkt_strings([values[i] for i in wkt_positions])
        result[np.asarray(wkt_positions)] = parsed
        errors.update({wkt_positions[k]: message for k, message in wkt_errors.items()})
    if other_positions:
        parsed, map_errors = from_geojson_mappings([values[i] for i in other_positions])
        result[np.asarray(other_positions)] = parsed
        errors.update({other_positions[k]: message for k, message in map_errors.items()})
    return result, dict(sorted(errors.items()))


@dataclass
class GdalLayer:
    """One layer of a GDAL dataset, read with pyogrio."""

    crs: str | None
    fids: list[int]
    geometries: np.ndarray
    records: list[dict[str, Any]]
    unreadable: dict[int, str]


def _column_values(values: np.ndarray) -> list[Any]:
    if values.dtype.kind == "f":
        return [None if v != v else v for v in values.tolist()]  # NaN is a null
    if values.dtype.kind == "M":
        return [None if np.isnat(v) else v.astype("datetime64[D]").item() for v in values]
    return values.tolist()


# what a file of each format the contract names starts with; GDAL is never asked to guess
_MAGIC = {
    ".gpkg": (b"SQLite format 3\x00", "GPKG"),
    ".shp": (b"\x00\x00\x27\x0a", "ESRI Shapefile"),
}
ALLOWED_DRIVERS = ("GPKG", "ESRI Shapefile", "OpenFileGDB")
# GDAL configuration for reading submitted files: no network, no virtual file systems, no code in VRTs
GDAL_SAFE_CONFIG = {
    "GDAL_VRT_ENABLE_PYTHON": "NO",
    "GDAL_VRT_ENABLE_RAWRASTERBAND": "NO",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".rulecheck-no-network",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_PROXY": "127.0.0.1:9",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",
    "OGR_GPKG_ALLOW_EXTERNAL_ACCESS": "NO",
    "CPL_DEBUG": "OFF",
}


class UnsafeLayer(ValueError):
    """A file GDAL must not open: not of a format the contract names, or not what its suffix says."""


def guard_gdal_path(path: str) -> str:
    """Check a path before GDAL sees it: a plain local file (or FileGDB folder) of a named format whose first
    bytes match its suffix (a VRT or CSV renamed .gpkg is refused); GDAL's safe configuration set. Returns the driver."""
    import os

    import pyogrio

    if path.startswith("/vsi") or "/vsi" in path or re.match(r"[A-Za-z][A-Za-z0-9+.\-]+:", path):
        raise UnsafeLayer("not a local file path (GDAL virtual file systems and URLs are never read)")
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".gdb":
        if not os.path.isdir(path):
            raise UnsafeLayer("a FileGDB (.gdb) is a folder")
        driver = "OpenFileGDB"
    elif suffix in _MAGIC:
        from rulecheck.limits import current

        limits = current()
        size = os.path.getsize(path)
        if limits.max_file_mb and size > limits.max_file_mb * 2**20:
            raise UnsafeLayer(f"the file is {size / 2**20:.1f} MiB, over the {limits.describe('max_file_mb')} (MiB)")
        magic, driver = _MAGIC[suffix]
        with open(path, "rb") as stream:
            head = stream.read(len(magic))
        if head != magic:
            raise UnsafeLayer(f"the file is not a {driver} file (its first bytes say otherwise)")
    else:
        raise UnsafeLayer(f"{suffix or 'no suffix'}: not a layer format rulecheck reads through GDAL (.gpkg, .shp, .gdb)")
    pyogrio.set_gdal_config_options(GDAL_SAFE_CONFIG)
    return driver


class LayerTooCostly(ValueError):
    """A GDAL read stopped by its limit (layer_seconds, layer_memory_mb)."""


@functools.lru_cache(maxsize=1)
def _prctl():
    """libc's prctl, looked up once, in the parent before it forks (a child of a threaded process should not load
    libraries), or None where there is none (not Linux)."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with(parent: int, prctl) -> None:
    """SIGKILL this (forked) process when its parent dies (Linux's PR_SET_PDEATHSIG); exit now if it already has.
    Without prctl the parent's deadline is the only bound."""
    import os

    if prctl is not None:
        prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    if os.getppid() != parent:
        os._exit(1)


def bounded(function, *args):
    """`function(*args)` run in a forked child process stopped after `layer_seconds` and held to
    `layer_memory_mb` of address space (rulecheck.limits): GDAL reads in C and never checks a clock, so a
    GeoPackage view with endless rows, or a file that makes it allocate without end, would hold the process
    for ever. The result comes back pickled through a pipe; an exception raised in the child is raised here.
    Without os.fork (Windows) the call runs in this process, unbounded."""
    import os
    import pickle
    import select
    import signal
    import time

    from rulecheck.limits import current

    limits = current()
    if not hasattr(os, "fork") or os.environ.get("RULECHECK_GDAL_IN_PROCESS"):
        return function(*args)
    read_fd, write_fd = os.pipe()
    parent, prctl = os.getpid(), _prctl()
    pid = os.fork()
    if pid == 0:  # the child: do the read, send the outcome, never return into the caller's code
        status = 0
        try:
            # killed with its parent: a service worker stopped for overrunning its time (SIGKILL, no `finally`)
            # must not leave this read running on as an orphan
            _die_with(parent, prctl)
            os.close(read_fd)
            if limits.layer_memory_mb:
                import resource

                cap = int(limits.layer_memory_mb * 2**20)
                soft, hard = resource.getrlimit(resource.RLIMIT_AS)
                if hard != resource.RLIM_INFINITY:
                    cap = min(cap, hard)
                resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
            try:
                outcome = (True, function(*args))
            except MemoryError:
                outcome = (False, LayerTooCostly(f"reading it needed more memory than the {limits.describe('layer_memory_mb')} (MiB)"))
            except Exception as exc:  # pyogrio's errors, sent back as they are (or as text if they cannot be)
                outcome = (False, exc)
            try:
                payload = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:
                payload = pickle.dumps((False, ValueError(str(outcome[1]))), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(payload)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_fd)
    deadline = time.monotonic() + limits.layer_seconds if limits.layer_seconds else None
    chunks = []
    try:
        while True:
            wait = None if deadline is None else max(deadline - time.monotonic(), 0)
            ready, _, _ = select.select([read_fd], [], [], wait)
            if not ready:
                os.kill(pid, signal.SIGKILL)
                raise LayerTooCostly(f"reading it took more than {limits.layer_seconds:g} s "
                                     f"(a GeoPackage view with endless rows?): {limits.describe('layer_seconds')}")
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    if not chunks:
        raise LayerTooCostly(f"the GDAL read stopped without an answer (over the {limits.describe('layer_memory_mb')} (MiB)?)")
    ok, value = pickle.loads(b"".join(chunks))
    if not ok:
        raise value
    return value


def _raw_read(path: str, layer: str | None):
    import pyogrio.raw

    return pyogrio.raw.read(path, layer=layer, return_fids=True)


def _list_layers(path: str) -> list[str]:
    import pyogrio

    return [str(name) for name in pyogrio.list_layers(path)[:, 0]]


def read_gdal_layer(path: str, layer: str | None) -> GdalLayer:
    """Read a GeoPackage/Shapefile layer: attributes as plain records, geometries from WKB (vectorised). The
    GDAL read runs bounded in time and memory (`bounded`)."""
    driver = guard_gdal_path(path)
    meta, fids, wkb, field_data = bounded(_raw_read, path, layer)
    if meta.get("driver") not in (None, driver):
        raise UnsafeLayer(f"GDAL read the file as {meta.get('driver')}, not {driver}")
    columns = {name: _column_values(values) for name, values in zip(meta["fields"], field_data)}
    count = len(fids) if fids is not None else (len(wkb) if wkb is not None else 0)
    names = list(columns)
    records = [{name: columns[name][i] for name in names} for i in range(count)]
    unreadable: dict[int, str] = {}
    if wkb is None:
        geometries = np.full(count, None, dtype=object)
    else:
        try:
            geometries = shapely.from_wkb(wkb, on_invalid="ignore")
        except NotImplementedError:  # curved geometries: read one by one to say which
            geometries = np.full(count, None, dtype=object)
            for position, blob in enumerate(wkb):
                try:
                    geometries[position] = shapely.from_wkb(blob, on_invalid="ignore") if blob is not None else None
                except NotImplementedError:
                    unreadable[position] = ("curved geometry is not supported; convert it to straight segments first "
                                            "(e.g. ogr2ogr -nlt CONVERT_TO_LINEAR)")
        for position in np.flatnonzero(shapely.is_missing(geometries)).tolist():
            if wkb[position] is not None and position not in unreadable:
                unreadable[position] = "unreadable geometry (WKB)"
        refuse_unsupported(geometries, unreadable)
    fid_list = fids.tolist() if fids is not None else list(range(count))
    return GdalLayer(meta.get("crs"), fid_list, geometries, records, unreadable)


def list_layers(path: str) -> list[str]:
    guard_gdal_path(path)
    return bounded(_list_layers, path)
