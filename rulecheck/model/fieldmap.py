"""Feature sources written as a mapping: a layer with its own field names (a planning database's) and units.

    parcels:
      path: layers/xxgh.gdb#DKDY
      fields: {id: DKBH, far_max: RJL}     # or `planning-db` (a shipped preset), or {preset: planning-db, ...}
      units: {area_m2: ha}                 # the source field's unit, converted on load

The loader reads `path` as any feature source, then renames each record's attributes to the contract's
names and converts the units, before the records are validated; errors name the source field too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

KEYS = ("path", "fields", "units")
# the unit of an area field in the source -> square metres per unit (1 亩 = 10000/15 m²)
AREA_UNITS = {"m2": 1.0, "ha": 10_000.0, "mu": 10_000.0 / 15}


@lru_cache(maxsize=1)
def _preset_file() -> dict[str, dict]:
    text = resources.files("rulecheck.data").joinpath("field_presets.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def presets() -> dict[str, dict[str, str]]:
    """Preset name -> {contract field: source field}, from rulecheck/data/field_presets.yaml."""
    return {name: dict(entry["fields"]) for name, entry in _preset_file().items()}


def preset_others(name: str) -> frozenset[str]:
    """The database's own fields a preset knows are not the contract's (never taken for a misspelling)."""
    return frozenset((_preset_file().get(name) or {}).get("others") or ())


def distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`, letter case ignored.

    >>> distance("far_mx", "far_max"), distance("RLJ", "RJL"), distance("LAND_USE", "land_use")
    (1, 1, 0)
    """
    a, b = a.lower(), b.lower()
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def allowed_edits(name: str) -> int:
    """How many edits still make a misspelling of `name`: none but letter case for a name of two letters (id:
    fid and OID are other fields), one up to seven letters, two beyond (village_cd for village_code)."""
    return 0 if len(name) <= 2 else 1 if len(name) <= 7 else 2


def near(word: str, names: list[str] | set[str]) -> str | None:
    """The name `word` is most likely a misspelling of (the nearest within `allowed_edits`), or None.

    >>> near("far_mx", ["far_max", "far_min"]), near("FID", ["id"]), near("remarks", ["far_max"])
    ('far_max', None, None)
    """
    best = None
    for name in sorted(names):
        if name == word:
            return None
        d = distance(word, name)
        if d <= allowed_edits(name) and (best is None or d < best[0]):
            best = (d, name)
    return best[1] if best else None


@dataclass
class FieldMap:
    """Contract field -> source field, which of them the manifest wrote itself, and source units of area fields."""

    fields: dict[str, str] = field(default_factory=dict)
    explicit: set[str] = field(default_factory=set)
    units: dict[str, str] = field(default_factory=dict)
    preset: str | None = None
    seen: set[str] = field(default_factory=set)  # the layer's own attribute names, once applied

    def source_of(self, name: str) -> str | None:
        return self.fields.get(name)

    def apply(self, records: list[Any]) -> tuple[list[Any], list[str]]:
        """Records renamed to the contract's names and converted to its units; and the explicitly mapped source
        fields no record has (a typo in the mapping must not read as 'absent')."""
        seen: set[str] = set()
        out = []
        for record in records:
            if not isinstance(record, dict):
                out.append(record)
                continue
            seen.update(record)
            renamed = {key: value for key, value in record.items() if key not in self.fields.values()}
            for name, source in self.fields.items():
                if source in record:
                    renamed[name] = record[source]
            for name, unit in self.units.items():
                value = renamed.get(name)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    renamed[name] = value * AREA_UNITS[unit]
            out.append(renamed)
        missing = sorted(self.fields[name] for name in self.explicit if self.fields[name] not in seen) if records else []
        self.seen = seen
        return out, missing


def parse(value: dict, model_fields: set[str]) -> tuple[str | None, FieldMap | None, list[tuple[tuple, str, str | None]]]:
    """(path, FieldMap, problems) of a mapping feature source; each problem is (key path, message, hint)."""
    problems: list[tuple[tuple, str, str | None]] = []
    for key in value:
        if key not in KEYS:
            problems.append(((key,), f"unknown field '{key}' of a feature source", f"known: {', '.join(KEYS)}"))
    path = value.get("path")
    if not isinstance(path, str) or not path.strip():
        problems.append((("path",), "a feature source written as a mapping needs 'path' (the layer)", None))
        path = None
    mapping = FieldMap()
    fields = value.get("fields")
    written: dict = {}
    preset = None
    if isinstance(fields, str):
        preset = fields
    elif isinstance(fields, dict):
        written = dict(fields)
        preset = written.pop("preset", None)
    elif fields is not None:
        problems.append((("fields",), "'fields' is a preset name or a mapping {contract field: source field}", None))
    if preset is not None:
        if preset not in presets():
            problems.append((("fields",), f"no field preset {preset!r}", f"presets: {', '.join(presets())}"))
        else:
            mapping.fields.update(presets()[preset])
            mapping.preset = preset
    for name, source in written.items():
        if name not in model_fields:
            problems.append((("fields", name), f"'{name}' is not a field of these records",
                             f"fields: {', '.join(sorted(model_fields - {'geometry'}))}"))
        elif not isinstance(source, str) or not source:
            problems.append((("fields", name), f"the source field of '{name}' must be a name (text)", None))
        else:
            mapping.fields[name] = source
            mapping.explicit.add(name)
    units = value.get("units")
    if isinstance(units, dict):
        for name, unit in units.items():
            if not str(name).endswith("_m2") or name not in model_fields:
                problems.append((("units", name), f"units can be given for area fields (…_m2) only, not '{name}'", None))
            elif unit not in AREA_UNITS:
                problems.append((("units", name), f"unknown area unit {unit!r}", f"units: {', '.join(AREA_UNITS)}"))
            else:
                mapping.units[name] = unit
    elif units is not None:
        problems.append((("units",), "'units' is a mapping {area field: m2 | ha | mu}", None))
    return path, mapping, problems
