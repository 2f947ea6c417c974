"""The conflicts as a GeoJSON FeatureCollection (one feature per conflict that has a geometry), for GIS review."""

from __future__ import annotations


from .common import epsg_urn, is_waived, localized, subjects_line
from .json_report import dumps_indented


def render(record: dict, *, lang: str) -> str:
    """Features numbered as in the other formats; a ``crs`` member names the submission CRS so GDAL reads it."""
    features = []
    for number, conflict in enumerate(record.get("conflicts") or [], start=1):
        if not conflict.get("geometry"):
            continue
        features.append({
            "type": "Feature",
            "id": number,
            "properties": {
                "number": number,
                "rule": conflict.get("rule", ""),
                "severity": conflict.get("severity", ""),
                "title": localized(conflict, "title", lang),
                "message": localized(conflict, "message", lang),
                "subjects": subjects_line(conflict),
                "expected": conflict.get("expected"),
                "actual": conflict.get("actual"),
                "waived": is_waived(conflict),
                **({"status": conflict["status"]} if conflict.get("status") else {}),
            },
            "geometry": conflict["geometry"],
        })
    collection: dict = {"type": "FeatureCollection", "name": "conflicts"}
    urn = epsg_urn((record.get("submission") or {}).get("crs"))
    if urn:
        collection["crs"] = {"type": "name", "properties": {"name": urn}}
    collection["features"] = features
    return dumps_indented(collection, indent=1) + "\n"
