"""The conflicts as a GeoJSON FeatureCollection (one feature per conflict that has a geometry), for GIS review."""

from __future__ import annotations

from .common import epsg_urn
from .json_report import dumps_indented
from .record import Conflict, Report


def render(record: dict | Report, *, lang: str) -> str:
    """Features numbered as in the other formats; a ``crs`` member names the submission CRS so GDAL reads it."""
    report = Report.of(record)
    features = [_feature(number, conflict, lang) for number, conflict in enumerate(report.conflicts, start=1)
                if conflict.geometry]
    collection: dict = {"type": "FeatureCollection", "name": "conflicts"}
    urn = epsg_urn(report.submission.crs)
    if urn:
        collection["crs"] = {"type": "name", "properties": {"name": urn}}
    collection["features"] = features
    return dumps_indented(collection, indent=1) + "\n"


def _feature(number: int, conflict: Conflict, lang: str) -> dict:
    return {
        "type": "Feature",
        "id": number,
        "properties": {
            "number": number,
            "rule": conflict.rule,
            "severity": conflict.severity,
            "title": conflict.localized("title", lang),
            "message": conflict.localized("message", lang),
            "subjects": conflict.subjects_line,
            "expected": conflict.expected,
            "actual": conflict.actual,
            "waived": conflict.waived,
            **({"status": conflict.status} if conflict.status else {}),
        },
        "geometry": conflict.geometry,
    }
