"""Small submission bundles written into a temporary folder, for the loader tests."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from rulecheck.diagnostics import Diagnostic, InputError
from rulecheck.model.submission import load_submission

# a parcel square of the unit (EPSG:4526 metres, zone prefix 38)
X0, Y0 = 38_401_000, 2_622_000


def square(x: float, y: float, size: float = 100) -> list[list[float]]:
    return [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]


def wkt_square(x: float, y: float, size: float = 100) -> str:
    return "POLYGON ((" + ", ".join(f"{px} {py}" for px, py in square(x, y, size)) + "))"


BASE = f"""\
format: rulecheck/v1
submission:
  id: T-01
  jurisdiction: "441803"
  as_of: 2026-03-01
  crs: EPSG:4526
unit_plan:
  id: U1
  direction: eco_recreation
  boundary: {wkt_square(X0, Y0, 200)}
  rights:
    - id: R1
      kind: forest_management
      land_use: "0301"
      geometry: {wkt_square(X0, Y0)}
  packages:
    - id: PK1
      rights: [R1]
      duties:
        - id: D1
          kind: stewardship
          resource: "03"
          quantity: 10000
          unit: m2
          due: 2030-12-31
detailed_plan:
  id: DP1
  status: draft
  parcels:
    - id: P1
      land_use: "0301"
      geometry: {wkt_square(X0, Y0)}
contracts:
  - id: C1
    package: PK1
    method: lease
    award: listing
    items:
      - right: R1
        parcel: P1
        land_use: "0301"
"""


def write(folder: Path, manifest: str, files: dict[str, str | dict] | None = None, name: str = "submission.yaml") -> Path:
    """Write a manifest (dedented) and its layer files; return the manifest path."""
    folder.mkdir(parents=True, exist_ok=True)
    for relative, content in (files or {}).items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content if isinstance(content, str) else json.dumps(content, indent=2), encoding="utf-8")
    path = folder / name
    path.write_text(textwrap.dedent(manifest), encoding="utf-8")
    return path


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the n-th line containing `needle` (so tests do not hard-code numbers)."""
    seen = 0
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in text:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in {path}")


def load_errors(path: Path) -> list[Diagnostic]:
    with pytest.raises(InputError) as caught:
        load_submission(path)
    return caught.value.diagnostics


def only(diagnostics: list[Diagnostic], **match) -> Diagnostic:
    """The single diagnostic whose attributes equal `match` (fails listing all when there is not exactly one)."""
    found = [d for d in diagnostics if all(getattr(d, k) == v for k, v in match.items())]
    assert len(found) == 1, "\n".join(d.render() for d in diagnostics)
    return found[0]


def feature_collection(features: list[dict], **extra) -> dict:
    return {"type": "FeatureCollection", **extra, "features": features}


def parcel(pid: str, x: float, y: float, land_use: str = "0301", **props) -> dict:
    return {
        "type": "Feature",
        "properties": {"id": pid, "land_use": land_use, **props},
        "geometry": {"type": "Polygon", "coordinates": [square(x, y)]},
    }
