"""The JSON report: the record itself (the public contract of bundle-format.md), without the map layers."""

from __future__ import annotations

import json


def render(record: dict, *, lang: str) -> str:
    """The record as indented UTF-8 JSON, keys in the record's own order; `layers` (map data for html) left out."""
    public = {key: value for key, value in record.items() if key != "layers"}
    return json.dumps(public, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
