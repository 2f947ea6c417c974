"""Geometries from GeoJSON mappings: a coordinate that is not finite is refused whichever way the geometry is built
(the builders check their positions; GEOS refuses them in a GeometryCollection)."""

from __future__ import annotations

import math

from rulecheck.model.geometry import from_geojson_mappings

RING = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0], [0.0, 0.0]]


def test_non_finite_coordinates_are_refused_in_every_kind_of_geometry():
    bad_ring = [[0.0, 0.0], [math.inf, 0.0], [10.0, 10.0], [0.0, 0.0]]
    mappings = [
        {"type": "Polygon", "coordinates": [RING]},
        {"type": "Polygon", "coordinates": [bad_ring]},
        {"type": "Point", "coordinates": [math.nan, 1.0]},
        {"type": "LineString", "coordinates": [[0.0, 0.0], [1.0, -math.inf]]},
        {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1.0, 2.0]}]},
        # an integer too large for a float (json.loads reads 400 digits as one): GEOS refuses it
        {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [10**400, 1.0]},
                                                      {"type": "Polygon", "coordinates": [RING]}]},
        {"type": "MultiPolygon", "coordinates": [[RING], [RING]]},
        {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [math.inf, 1.0]}]},
    ]
    shapes, errors = from_geojson_mappings(mappings)
    assert sorted(errors) == [1, 2, 3, 5, 7]
    assert all("infinite or out of range" in errors[p] for p in (1, 2, 3)), errors
    assert errors[5].startswith("unreadable GeometryCollection") and errors[7].startswith("unreadable GeometryCollection")
    assert [shape is None for shape in shapes] == [False, True, True, True, False, True, False, True]
    assert shapes[0].area == 100 and shapes[6].area == 200
