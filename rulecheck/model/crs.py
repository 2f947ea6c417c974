"""Coordinate reference systems: read the declared CRS, check coordinates fit it, reproject (pyproj, vectorised)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyproj
import shapely
from pyproj.exceptions import CRSError

# CGCS2000 3-degree Gauss-Kruger zones 25..45 with the zone number prefixed to the false easting
GK3_FIRST_ZONE, GK3_LAST_ZONE, GK3_EPSG_OFFSET = 25, 45, 4488


@lru_cache(maxsize=64)
def parse_crs(text: str) -> pyproj.CRS:
    """A pyproj CRS from user input (EPSG:4526, a WKT, a PROJ string); raises ValueError with the reason."""
    try:
        return pyproj.CRS.from_user_input(text)
    except CRSError as exc:
        raise ValueError(str(exc).split(": (Internal", 1)[0]) from None


def crs_name(crs: pyproj.CRS) -> str:
    """`EPSG:4526` when the CRS has an authority code, else its name."""
    authority = crs.to_authority(min_confidence=90)
    return f"{authority[0]}:{authority[1]}" if authority else crs.name


def check_usable(crs: pyproj.CRS) -> str | None:
    """Why this CRS cannot be the frame of a submission, or None (projected in metres, or geographic)."""
    if crs.is_geographic:
        return None
    if not crs.is_projected:
        return f"{crs_name(crs)} is neither projected nor geographic; expected a projected CRS in metres"
    units = {axis.unit_name for axis in crs.axis_info[:2]}
    if not units <= {"metre", "meter"}:
        return f"{crs_name(crs)} is in {', '.join(sorted(units))}; expected a projected CRS in metres"
    return None


def same_crs(a: pyproj.CRS, b: pyproj.CRS) -> bool:
    return a == b or a.equals(b, ignore_axis_order=True)


def gk3_zone_crs(longitude: float) -> pyproj.CRS:
    """The CGCS2000 3-degree Gauss-Kruger zone (zone prefix in the easting) whose central meridian is nearest."""
    zone = round(longitude / 3)
    if not GK3_FIRST_ZONE <= zone <= GK3_LAST_ZONE:
        raise ValueError(
            f"longitude {longitude:.3f} lies outside the CGCS2000 3-degree zones 25..45 (75E..135E); "
            "declare a projected CRS for these data"
        )
    crs = pyproj.CRS.from_epsg(GK3_EPSG_OFFSET + zone)
    central_meridian = _parameter(crs, "Longitude of natural origin")
    false_easting = _parameter(crs, "False easting")
    # pyproj is the reference: the EPSG arithmetic above must name the zone of this meridian
    if central_meridian is None or abs(central_meridian - 3 * zone) > 1e-9 or false_easting != zone * 1_000_000 + 500_000:
        raise AssertionError(f"EPSG:{GK3_EPSG_OFFSET + zone} is not the 3-degree zone {zone}")
    return crs


def _parameter(crs: pyproj.CRS, name: str) -> float | None:
    operation = crs.coordinate_operation
    if operation is None:
        return None
    for parameter in operation.params:
        if parameter.name == name:
            return parameter.value
    return None


@lru_cache(maxsize=64)
def transformer(source: pyproj.CRS, target: pyproj.CRS) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(source, target, always_xy=True)


def reproject(geometries: np.ndarray, source: pyproj.CRS, target: pyproj.CRS) -> np.ndarray:
    """All geometries of an array from `source` to `target` in one vectorised call."""
    if len(geometries) == 0:
        return geometries
    transform = transformer(source, target)

    def move(coords: np.ndarray) -> np.ndarray:
        x, y = transform.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometries, move)


@lru_cache(maxsize=64)
def _area_of_use_bounds(crs: pyproj.CRS) -> tuple[float, float, float, float] | None:
    """The CRS's area of use in its own coordinates (x/y order), or None when unknown."""
    area = crs.area_of_use
    if area is None:
        return None
    if crs.is_geographic:
        return (area.west, area.south, area.east, area.north)
    try:
        to_crs = pyproj.Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
        bounds = to_crs.transform_bounds(area.west, area.south, area.east, area.north, densify_pts=21)
    except (CRSError, pyproj.exceptions.ProjError):
        return None
    return bounds if all(math.isfinite(b) for b in bounds) else None


def _offending(geometries: np.ndarray, outside) -> tuple[tuple[float, float], int] | None:
    """The first coordinate for which `outside(x, y)` holds, and the index of its geometry."""
    coords, owners = shapely.get_coordinates(geometries, return_index=True)
    if len(coords) == 0:
        return None
    hits = np.flatnonzero(outside(coords[:, 0], coords[:, 1]))
    if not len(hits):
        return None
    return (float(coords[hits[0], 0]), float(coords[hits[0], 1])), int(owners[hits[0]])


def _fmt(point: tuple[float, float]) -> str:
    return f"({point[0]:.6f}, {point[1]:.6f})" if max(abs(point[0]), abs(point[1])) <= 360 else f"({point[0]:.2f}, {point[1]:.2f})"


@dataclass(frozen=True)
class Misfit:
    """Coordinates that plainly do not fit the declared CRS: why, a hint, and the index of one offending geometry."""

    message: str
    hint: str | None
    index: int


def check_coordinates(geometries: np.ndarray, crs: pyproj.CRS) -> Misfit | None:
    """Whether the coordinates plainly fit the CRS: None, or a Misfit naming one offending coordinate."""
    if len(geometries) == 0:
        return None
    positions = np.flatnonzero(~shapely.is_missing(geometries) & ~shapely.is_empty(geometries))
    present = geometries[positions]
    if len(present) == 0:
        return None
    xmin, ymin, xmax, ymax = shapely.total_bounds(present)
    # the CRS's name only for a message (it costs a lookup of its authority: once per layer adds up)
    if crs.is_projected and max(abs(xmin), abs(xmax)) <= 180 and max(abs(ymin), abs(ymax)) <= 90:
        point, owner = _offending(present, lambda x, y: np.ones(len(x), dtype=bool))
        name = crs_name(crs)
        return Misfit(
            f"coordinate {_fmt(point)} looks like longitude/latitude degrees, but {name} is a projected CRS in metres",
            "declare the data's geographic CRS (e.g. crs: EPSG:4490) or reproject the layer",
            int(positions[owner]),
        )
    if crs.is_geographic:
        found = _offending(present, lambda x, y: (np.abs(x) > 180) | (np.abs(y) > 90))
        if found is not None:
            point, owner = found
            name = crs_name(crs)
            return Misfit(
                f"coordinate {_fmt(point)} is not longitude/latitude, but {name} is a geographic CRS in degrees",
                "these look like projected metres: declare the projected CRS (e.g. crs: EPSG:4526)",
                int(positions[owner]),
            )
    bounds = _area_of_use_bounds(crs)
    if bounds is None:
        return None
    west, south, east, north = bounds
    # "by far": allow half the area's size again on every side (at least 100 km, or 1 degree)
    margin = max(0.5 * max(east - west, north - south), 1.0 if crs.is_geographic else 100_000.0)
    west, south, east, north = west - margin, south - margin, east + margin, north + margin
    if xmin >= west and xmax <= east and ymin >= south and ymax <= north:
        return None
    found = _offending(present, lambda x, y: (x < west) | (x > east) | (y < south) | (y > north))
    if found is None:
        return None
    point, owner = found
    name, hint = crs_name(crs), None
    false_easting = _parameter(crs, "False easting") if crs.is_projected else None
    if false_easting and false_easting >= 1_000_000 and 0 < point[0] < 1_000_000:
        hint = f"the eastings of {name} carry the zone number (e.g. {false_easting:.0f}); is the zone prefix missing?"
    return Misfit(f"coordinate {_fmt(point)} lies far outside the area of use of {name}", hint, int(positions[owner]))


# ---- plausibility: is the declared CRS the one the coordinates were drawn in? ---------------------------------

# Chinese planning data are drawn in Gauss-Krüger (Transverse Mercator) zones of CGCS2000 (GB/T 18522 and the
# 2008 switch to CGCS2000), of the older Xian 1980 / Beijing 1954 frames, or delivered as longitude/latitude;
# WGS 84 UTM (Transverse Mercator too) turns up in survey data. Any other projection (web-mercator above all,
# whose "metres" are stretched by 1/cos(latitude)) does not measure areas and distances as the plan does.
PLANNING_METHODS = ("Transverse Mercator",)
PLANNING_ELLIPSOIDS = ("CGCS2000", "GRS 1980", "IAG 1975", "Krassowsky 1940", "WGS 84")
# the zone numbers a Gauss-Krüger easting can carry in China: 6-degree zones 13..23, 3-degree zones 25..45
GK6_FIRST_ZONE, GK6_LAST_ZONE, GK6_EPSG_OFFSET = 13, 23, 4478
# the same zones without the zone number in the easting (central meridian only): 3-degree EPSG:4534..4554
GK3_CM_EPSG_OFFSET, GK6_CM_EPSG_OFFSET = 4509, 4489
# how far outside its area of use (degrees) data may lie and still be taken as meant for the CRS: a county
# straddles a zone boundary now and then, and sea areas lie off the onshore area of use
LON_MARGIN, LAT_MARGIN = 1.5, 2.0
# coordinates spread wider than this (metres) are not one unit's data in one frame, but layers in different ones
MAX_EXTENT = 2_000_000


@dataclass(frozen=True)
class Implausible:
    """The declared CRS does not fit the coordinates: why, and the CRS they were likely drawn in (or None)."""

    message: str
    likely: str | None


def prefixed_zone_crs(zone: int) -> pyproj.CRS | None:
    """The CGCS2000 Gauss-Krüger CRS whose eastings carry this zone number (3-degree 25..45, 6-degree 13..23)."""
    if GK3_FIRST_ZONE <= zone <= GK3_LAST_ZONE:
        return pyproj.CRS.from_epsg(GK3_EPSG_OFFSET + zone)
    if GK6_FIRST_ZONE <= zone <= GK6_LAST_ZONE:
        return pyproj.CRS.from_epsg(GK6_EPSG_OFFSET + zone)
    return None


def _unprefixed_crs(zone: int) -> pyproj.CRS | None:
    """The CGCS2000 CRS of the same zone with the plain 500 000 m false easting (the `CM …E` variant)."""
    if GK3_FIRST_ZONE <= zone <= GK3_LAST_ZONE:
        return pyproj.CRS.from_epsg(GK3_CM_EPSG_OFFSET + zone)
    if GK6_FIRST_ZONE <= zone <= GK6_LAST_ZONE:
        return pyproj.CRS.from_epsg(GK6_CM_EPSG_OFFSET + zone)
    return None


def _named(crs: pyproj.CRS | None) -> str | None:
    if crs is None:
        return None
    name = crs_name(crs)
    return name if name == crs.name else f"{name} ({crs.name})"


def easting_zone(xmin: float, xmax: float) -> int | None:
    """The zone number every easting carries in its millions (38401871 -> 38), or None (no prefix, or mixed)."""
    if xmin < 10_000_000 or int(xmin // 1_000_000) != int(xmax // 1_000_000):
        return None
    zone = int(xmin // 1_000_000)
    return zone if prefixed_zone_crs(zone) is not None else None


def declared_zone(crs: pyproj.CRS) -> int | None:
    """The zone number a Gauss-Krüger CRS puts in front of its eastings (false easting 38 500 000 -> 38)."""
    false_easting = _parameter(crs, "False easting") if crs.is_projected else None
    if false_easting is None or false_easting < 1_000_000:
        return None
    return int(false_easting // 1_000_000)


def planning_problem(crs: pyproj.CRS) -> str | None:
    """Why Chinese planning data are not drawn in this CRS (its projection or its ellipsoid), or None."""
    ellipsoid = crs.ellipsoid.name if crs.ellipsoid is not None else ""
    if crs.is_projected:
        operation = crs.coordinate_operation
        method = operation.method_name if operation is not None else ""
        if not any(m.lower() in method.lower() for m in PLANNING_METHODS):
            stretch = " (a web-map projection: its metres are stretched by 1/cos(latitude), areas by its square)" if "mercator" in method.lower() else ""
            return (f"{_named(crs)} uses the {method or 'unknown'} projection{stretch}, which Chinese planning data are not "
                    "drawn in: they use CGCS2000 Gauss-Krüger zones (3-degree or 6-degree, Transverse Mercator)")
    if ellipsoid and ellipsoid not in PLANNING_ELLIPSOIDS:
        return (f"{_named(crs)} is on the {ellipsoid} ellipsoid, which Chinese planning data do not use "
                "(CGCS2000; older data: Xian 1980, Beijing 1954; survey data: WGS 84)")
    return None


def likely_crs(xmin: float, ymin: float, xmax: float, ymax: float, declared: pyproj.CRS | None = None) -> pyproj.CRS | None:
    """The CRS coordinates with these bounds were most likely drawn in: the Gauss-Krüger zone their eastings name,
    CGCS2000 longitude/latitude, the unprefixed variant of the declared zone, or (web-mercator numbers) the
    3-degree zone of their centre; None when the numbers say nothing."""
    if max(abs(xmin), abs(xmax)) <= 180 and max(abs(ymin), abs(ymax)) <= 90:
        return pyproj.CRS.from_epsg(4490)
    zone = easting_zone(xmin, xmax)
    if zone is not None and 0 <= ymin and ymax <= 7_000_000:
        return prefixed_zone_crs(zone)
    if 0 < xmin and xmax < 1_000_000 and 0 <= ymin and ymax <= 7_000_000:
        own = declared_zone(declared) if declared is not None else None
        return _unprefixed_crs(own) if own is not None else None
    if max(abs(xmin), abs(xmax), abs(ymin), abs(ymax)) <= 20_037_509:  # web-mercator's square
        lon, lat = transformer(pyproj.CRS.from_epsg(3857), pyproj.CRS.from_epsg(4490)).transform((xmin + xmax) / 2, (ymin + ymax) / 2)
        if 73 <= lon <= 136 and 3 <= lat <= 54:  # China, its seas included
            try:
                return gk3_zone_crs(lon)
            except ValueError:
                return None
    return None


def check_plausible(geometries: np.ndarray, crs: pyproj.CRS) -> Implausible | None:
    """Whether the declared CRS is one planning data are drawn in and the one these coordinates were drawn in:
    the projection, the zone number in the eastings against the CRS's false easting, and the area of use."""
    bounds = _finite_bounds(geometries)
    likely = likely_crs(*bounds, declared=crs) if bounds is not None else None
    if likely is not None and same_crs(likely, crs):
        likely = None
    problem = planning_problem(crs)
    if problem is not None:
        return Implausible(problem, _named(likely))
    if bounds is None:
        return None  # nothing to compare
    xmin, ymin, xmax, ymax = bounds
    if xmax - xmin > MAX_EXTENT or ymax - ymin > MAX_EXTENT:
        return None  # layers drawn in different frames (a mix, not one CRS): said per layer, where they are
    degrees = max(abs(xmin), abs(xmax)) <= 180 and max(abs(ymin), abs(ymax)) <= 90
    if crs.is_geographic or degrees:
        return _degrees_problem(bounds, crs, degrees, likely)
    zone = _zone_problem(bounds, crs, likely)
    return zone if zone is not None else _area_problem(bounds, crs, likely)


def _finite_bounds(geometries: np.ndarray) -> tuple[float, float, float, float] | None:
    """The bounds of the geometries present and not empty, or None (none there, or not finite)."""
    present = geometries[~shapely.is_missing(geometries)] if len(geometries) else geometries
    present = present[~shapely.is_empty(present)] if len(present) else present
    bounds = tuple(float(b) for b in shapely.total_bounds(present)) if len(present) else None
    if bounds is not None and not all(math.isfinite(b) for b in bounds):
        return None
    return bounds  # type: ignore[return-value]


def _degrees_problem(bounds, crs: pyproj.CRS, degrees: bool, likely) -> Implausible | None:
    """Degrees in a projected CRS, or metres in a geographic one."""
    xmin, ymin = bounds[0], bounds[1]
    name = _named(crs)
    if crs.is_geographic:
        return None if degrees else Implausible(
            f"the coordinates are not longitude/latitude (e.g. {xmin:.2f}, {ymin:.2f}), but {name} is a geographic CRS in degrees",
            _named(likely))
    return Implausible(f"the coordinates look like longitude/latitude degrees (e.g. {xmin:.6f}, {ymin:.6f}), but {name} "
                       "is a projected CRS in metres", _named(likely))


def _zone_problem(bounds, crs: pyproj.CRS, likely) -> Implausible | None:
    """The Gauss-Krüger zone number in the eastings against the one the CRS's false easting puts there."""
    xmin, _, xmax, _ = bounds
    name = _named(crs)
    found, own = easting_zone(xmin, xmax), declared_zone(crs)
    if found is not None and found != own:
        declared_part = (f"whose eastings carry zone {own} (false easting {_parameter(crs, 'False easting'):.0f})" if own is not None
                         else "whose eastings carry no zone number (false easting 500000)")
        return Implausible(f"the eastings carry the Gauss-Krüger zone number {found} (e.g. {xmin:.2f}), but {name} is a CRS "
                           f"{declared_part}", _named(prefixed_zone_crs(found)))
    if own is not None and found is None and 100_000 <= xmin and xmax < 1_000_000:
        return Implausible(f"the eastings carry no zone number (e.g. {xmin:.2f}), but {name} puts zone {own} in front of "
                           f"them (false easting {_parameter(crs, 'False easting'):.0f})", _named(likely))
    return None


def _area_problem(bounds, crs: pyproj.CRS, likely) -> Implausible | None:
    """The coordinates' centre outside the CRS's area of use (with a margin)."""
    xmin, ymin, xmax, ymax = bounds
    area = crs.area_of_use
    if area is None:
        return None
    try:
        lon, lat = transformer(crs, crs.geodetic_crs).transform((xmin + xmax) / 2, (ymin + ymax) / 2)
    except (CRSError, pyproj.exceptions.ProjError):
        return None
    name = _named(crs)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return Implausible(f"the coordinates (centre {(xmin + xmax) / 2:.2f}, {(ymin + ymax) / 2:.2f}) are no place in {name}", _named(likely))
    if (area.west - LON_MARGIN <= lon <= area.east + LON_MARGIN) and (area.south - LAT_MARGIN <= lat <= area.north + LAT_MARGIN):
        return None
    return Implausible(f"the coordinates' centre lies at {lon:.3f}E {lat:.3f}N in {name}, outside its area of use "
                       f"({area.name}: {area.west:g}..{area.east:g}E, {area.south:g}..{area.north:g}N)", _named(likely))
