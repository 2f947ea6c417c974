"""The JSON Schema of a submission manifest, generated from the pydantic documents (so it follows the model).

The documents describe a *loaded* submission; a manifest writes some fields differently, and the schema says so:
a feature source (`unit_plan.rights`, `detailed_plan.parcels`, ...) is a path to a layer or a list of records
each with a `geometry`; a geometry (`boundary`, a record's `geometry`) is a path, a WKT text or a GeoJSON object.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from rulecheck.model.documents import Submission

SCHEMA_ID = "urn:rulecheck:submission-manifest:rulecheck-v1"  # a name, not a download address
DIALECT = "https://json-schema.org/draft/2020-12/schema"

_GEOMETRY_FIELDS = ("geometry", "boundary")  # fields the documents keep as shapely objects (typed Any)

_DEFS = {
    "GeometrySource": {
        "description": "A geometry: a path (relative to the manifest) to a GeoJSON geometry, Feature or "
                       "FeatureCollection (whose features are unioned), a WKT text, or a GeoJSON geometry object.",
        "anyOf": [
            {"type": "string", "minLength": 1},
            {"$ref": "#/$defs/GeoJSONGeometry"},
        ],
    },
    "InlineGeometry": {
        "description": "The geometry of an inline record: a GeoJSON geometry object or a WKT text.",
        "anyOf": [
            {"type": "string", "minLength": 1},
            {"$ref": "#/$defs/GeoJSONGeometry"},
        ],
    },
    "GeoJSONGeometry": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"enum": ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
                              "GeometryCollection"]},
            "coordinates": {"type": "array"},
            "geometries": {"type": "array", "items": {"$ref": "#/$defs/GeoJSONGeometry"}},
        },
    },
    "LayerPath": {
        "description": "A path (relative to the manifest) to a GeoJSON FeatureCollection, a Shapefile, or a layer "
                       "of a GDAL format written file.gpkg#layer.",
        "type": "string",
        "minLength": 1,
    },
}


def feature_sources() -> dict[tuple[str, str], type]:
    """(section, field) -> record model, as the loader reads them (one table, the loader's)."""
    from rulecheck.model.loader import FEATURE_SOURCES

    return {key: model for key, (model, _noun) in FEATURE_SOURCES.items()}


def manifest_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a `rulecheck/v1` manifest."""
    from rulecheck.model.loader import FORMAT

    schema = Submission.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    root = {k: v for k, v in schema.items() if k != "$defs"}

    def model_def(model: type) -> dict[str, Any]:
        return root if model is Submission else defs[model.__name__]

    # geometries are written as paths, WKT or GeoJSON; the documents hold them as Any
    for name, definition in [("Submission", root), *defs.items()]:
        for field in _GEOMETRY_FIELDS:
            prop = definition.get("properties", {}).get(field)
            if prop is not None:
                definition["properties"][field] = {"$ref": "#/$defs/GeometrySource", "description": _describe(prop)}

    # a feature source: a layer path, or inline records each with a geometry
    for (section, field), model in feature_sources().items():
        owner = model_def(Submission.model_fields[section].annotation)
        inline_name = f"Inline{model.__name__}"
        inline = copy.deepcopy(defs[model.__name__])
        inline["properties"]["geometry"] = {"$ref": "#/$defs/InlineGeometry"}
        inline["required"] = sorted(set(inline.get("required", [])) | {"id", "geometry"})
        inline["title"] = inline_name
        defs[inline_name] = inline
        owner["properties"][field] = {
            "title": owner["properties"][field].get("title", field),
            "description": f"A feature source: a layer path, or a list of {model.__name__} records each with a geometry.",
            "anyOf": [{"$ref": "#/$defs/LayerPath"}, {"type": "array", "items": {"$ref": f"#/$defs/{inline_name}"}},
                      _mapped_source(model)],
        }

    # an inventory (六项清单): a layer path, or a list of its records (resources and assets may carry a place)
    from rulecheck.model.loader import INVENTORY_SOURCES

    inventories = defs.get("Inventories")
    for field, (model, _noun) in (INVENTORY_SOURCES.items() if inventories is not None else ()):
        records = defs[model.__name__]
        if "geometry" in records.get("properties", {}):
            records["properties"]["geometry"] = {"$ref": "#/$defs/InlineGeometry"}
        inventories["properties"][field] = {
            "title": inventories["properties"][field].get("title", field),
            "description": f"An inventory: a layer path, or a list of {model.__name__} records.",
            "anyOf": [{"$ref": "#/$defs/LayerPath"}, {"type": "array", "items": {"$ref": f"#/$defs/{model.__name__}"}},
                      {"type": "null"}],
        }

    # the layer records themselves are described by their inline twins (a layer's attributes are checked on load)
    text = json.dumps(root) + json.dumps(defs)
    for name in [name for name in defs if f'"#/$defs/{name}"' not in text]:
        del defs[name]

    root["properties"]["format"] = {"const": FORMAT, "default": FORMAT, "title": "Format"}
    defs.update(copy.deepcopy(_DEFS))
    out = {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "rulecheck submission manifest",
        "description": "A submission bundle's manifest (YAML), format rulecheck/v1. "
                       "Reference: docs/bundle-format.md. Generated by `rulecheck schema` from the pydantic documents.",
        **{k: v for k, v in root.items() if k not in ("title", "description")},
        "$defs": dict(sorted(defs.items())),
    }
    return out


def _mapped_source(model) -> dict[str, Any]:
    """A layer with its own field names and units: {path, fields, units} (rulecheck/model/fieldmap.py)."""
    from rulecheck.model.fieldmap import AREA_UNITS, presets

    names = sorted(set(model.model_fields) - {"geometry"})
    areas = [name for name in names if name.endswith("_m2")]
    return {
        "type": "object",
        "description": "A layer with its own field names (a planning database's) and units.",
        "required": ["path"],
        "additionalProperties": False,
        "properties": {
            "path": {"$ref": "#/$defs/LayerPath"},
            "fields": {"anyOf": [
                {"enum": sorted(presets())},
                {"type": "object", "additionalProperties": False,
                 "properties": {"preset": {"enum": sorted(presets())},
                                **{name: {"type": "string", "minLength": 1} for name in names}}},
            ]},
            "units": {"type": "object", "additionalProperties": False,
                      "properties": {name: {"enum": list(AREA_UNITS)} for name in areas}},
        },
    }


def _describe(prop: dict[str, Any]) -> str:
    return prop.get("description") or "A geometry source."


def render_schema() -> str:
    """The schema as the shipped docs/submission.schema.json holds it (stable key order, final newline)."""
    return json.dumps(manifest_schema(), ensure_ascii=False, indent=2) + "\n"
