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
