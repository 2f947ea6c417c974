"""Load a submission bundle (YAML manifest, GeoJSON/GeoPackage/Shapefile layers) into a Submission, or say where it is wrong."""

from __future__ import annotations

import codecs
import difflib
import itertools
import operator
import re
import types
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Union, get_args, get_origin

import numpy as np
import pyproj
import shapely
from pydantic import BaseModel, TypeAdapter, ValidationError

from rulecheck.diagnostics import Diagnostic, InputError
from rulecheck.model import crs as crs_mod
from rulecheck.model import geometry as geo
from rulecheck.model.documents import (
    BOUND_UNITS,
    Asset,
    Condition,
    Contract,
    ControlLine,
    DetailedPlan,
    Demand,
    Fund,
    Parcel,
    Policy,
    Record,
    Resource,
    Right,
    SourceLoc,
    Submission,
    SubmissionInfo,
    UnitPlan,
)
from rulecheck.limits import current as current_limits
from rulecheck.model.sources import (
    GeoJSONSyntaxError,
    GeoJSONText,
    LocDict,
    LocList,
    SourceError,
    decode_utf8,
    load_yaml,
    no_gc,
    parse_geojson,
    read_limited,
    read_text_limited,
    source_line,
)

FORMAT = "rulecheck/v1"
TOP_LEVEL = {"format": None, "submission": SubmissionInfo, "unit_plan": UnitPlan, "detailed_plan": DetailedPlan, "contracts": list[Contract]}
REQUIRED_TOP_LEVEL = ("submission", "unit_plan", "detailed_plan")
GEOJSON_SUFFIXES = (".geojson", ".json")
# the layer formats the contract names (GeoJSON, GeoPackage, Shapefile, FileGDB); GDAL opens no other
LAYER_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".gdb")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]+:")  # http:, CSV:, GPKG:, ... (one letter would be a drive)
OUTSIDE_HINT = "copy the file into the submission's folder, or pass --allow-outside (allow_outside=True) if you trust it"
MAX_LANDUSE_REPORTS = 20  # per unknown code and collection; the rest are counted

# feature sources: (section, field) -> (model, singular noun for messages)
FEATURE_SOURCES: dict[tuple[str, str], tuple[type[Record], str]] = {
    ("unit_plan", "rights"): (Right, "right"),
    ("detailed_plan", "parcels"): (Parcel, "parcel"),
    ("detailed_plan", "control_lines"): (ControlLine, "control line"),
}

# the six inventories of unit_plan.inventories: each a list of records or a feature source (a layer)
INVENTORY_SOURCES: dict[str, tuple[type[Record], str]] = {
    "resources": (Resource, "resource"),
    "assets": (Asset, "asset"),
    "funds": (Fund, "fund"),
    "conditions": (Condition, "condition"),
    "demands": (Demand, "demand"),
    "policies": (Policy, "policy"),
}


# ---- where a record is ------------------------------------------------------------------------------


@dataclass
class _Where:
    """A record's place: the file as written, its line, its field path, and where each of its keys is."""

    path: str
    line: int | None
    field: str
    key_line: Callable[[str], int | None] = lambda key: None
    label: str = ""  # e.g. "parcel P-0412" for messages about a layer's feature
    aliases: dict[str, str] = field(default_factory=dict)  # contract field -> the layer's own name (a field mapping)

    def at(self, *parts: Any) -> tuple[str, int | None]:
        """(field path, line) of a key under this record; a mapped field is named as the layer names it too."""
        text = self.field
        for position, part in enumerate(parts):
            if position == 0 and isinstance(part, str) and part in self.aliases:
                part = f"{self.aliases[part]} ({part})"
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
        line = self.key_line(str(parts[0])) if parts and isinstance(parts[0], str) else None
        return text, line or self.line


def _tag(label: str) -> str:
    return f" ({label})" if label else ""


def _field_path(prefix: str, loc: tuple[Any, ...]) -> str:
    text = prefix
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def raw_line_of(raw: Any, loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest element of `loc` present in the YAML data (a missing key: its mapping's line)."""
    line = getattr(raw, "line", None)
    current = raw
    for part in loc:
        if isinstance(current, LocDict) and part in current:
            line, current = current.key_line(part), current[part]
        elif isinstance(current, LocList) and isinstance(part, int) and 0 <= part < len(current):
            line, current = current.item_line(part), current[part]
        else:
            break
    return line


# ---- pydantic errors -> diagnostics -------------------------------------------------------------------


def _record_class(annotation: Any) -> type[BaseModel] | None:
    origin = get_origin(annotation)
    if origin is list:
        return _record_class(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _record_class(arg)
            if found is not None:
                return found
        return None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


@lru_cache(maxsize=None)
def _record_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of a model that can hold records (a model, a list of them, optional): those `stamp` visits."""
    return tuple(name for name, info in model.model_fields.items() if _record_class(info.annotation) is not None)


def _model_at(root: Any, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model = _record_class(root)
    for part in loc:
        if model is None:
            return None
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        model = _record_class(info.annotation) if info is not None else None
    return model


_EXPECTED = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "date_type": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "a date without a time of day",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "finite_number": "a finite number",
}


def shown_value(value: Any) -> str:
    """A value as a message shows it: a mapping or a list by its kind, else its repr cut to 60 characters."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@lru_cache(maxsize=None)
def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of a record model that hold a list (`access`, `conditions`, ...)."""
    names = set()
    for name, info in model.model_fields.items():
        kinds = [info.annotation, *get_args(info.annotation)]
        if any(kind is list or get_origin(kind) is list for kind in kinds):
            names.add(name)
    return frozenset(names)


def _json_lists(records: list[dict[str, Any]], model: type[BaseModel]) -> list[dict[str, Any]]:
    """A list attribute of a GDAL layer arrives as text: a GeoPackage keeps a string list as JSON (GDAL's
    StringList with the JSON subtype), e.g. `["按规划条件开发建设", "不得擅自改变土地用途"]`. Text that parses as a
    JSON array of strings becomes that list; any other text is left for validation to name ("expected a list")."""
    import json

    fields = _list_fields(model)
    if not fields or not records:
        return records
    present = [name for name in sorted(fields) if any(isinstance(r.get(name), str) for r in records)]
    if not present:
        return records
    out = []
    for record in records:
        changed = None
        for name in present:
            text = record.get(name)
            if isinstance(text, str) and text.lstrip().startswith("["):
                try:
                    value = json.loads(text)
                except ValueError:
                    continue
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    changed = changed or dict(record)
                    changed[name] = value
        out.append(changed or record)
    return out


def closest_name(word: str, choices: list[str], cutoff: float = 0.6) -> str | None:
    """The choice closest to a misspelt word, or None."""
    match = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    return match[0] if match else None


def describe_error(error: dict[str, Any], root: Any) -> tuple[str, str | None]:
    """A pydantic error as (message, hint) saying what was expected."""
    kind, loc = error["type"], error["loc"]
    name = loc[-1] if loc else ""
    if kind == "missing":
        return f"missing required field '{name}'", None
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        choices = sorted(model.model_fields) if model is not None else []
        suggestion = closest_name(str(name), choices)
        hint = f"did you mean '{suggestion}'?" if suggestion else (f"known fields: {', '.join(choices)}" if choices else None)
        return f"unknown field '{name}'", hint
    if kind in ("enum", "literal_error"):
        values = re.findall(r"'([^']*)'", (error.get("ctx") or {}).get("expected", ""))
        got = error.get("input")
        hint = None
        if isinstance(got, str):
            suggestion = closest_name(got, values, cutoff=0.75)
            hint = f"did you mean '{suggestion}'?" if suggestion else None
        return f"expected one of: {', '.join(values)}; got {shown_value(got)}", hint
    if kind in _BOUND_WORDS:
        ctx = error.get("ctx") or {}
        bound = next((ctx[k] for k in ("gt", "ge", "lt", "le") if k in ctx), None)
        field_name = next((str(part) for part in reversed(loc) if isinstance(part, str) and part in BOUND_UNITS), str(name))
        unit = BOUND_UNITS.get(field_name)
        return (f"expected a number {_BOUND_WORDS[kind]} {bound:g}{f' ({unit})' if unit else ''}; got {shown_value(error.get('input'))}",
                f"the bound of {field_name} (docs/security.md lists every bound)")
    if kind == "value_error" and "date between" in str(error.get("msg")):
        return f"{str(error['msg']).removeprefix('Value error, ')}; got {shown_value(error.get('input'))}", None
    expected = _EXPECTED.get(kind)
    if expected:
        return f"expected {expected}; got {shown_value(error.get('input'))}", None
    return f"{error['msg']}; got {shown_value(error.get('input'))}", None


_BOUND_WORDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


@lru_cache(maxsize=None)
def type_adapter(annotation: Any) -> TypeAdapter:
    return TypeAdapter(annotation)


# ---- layers of geometries, for the CRS pass -------------------------------------------------------


@dataclass
class _Layer:
    """Geometries read from one source, in the CRS they declare, waiting for the CRS check and reprojection."""

    label: str  # the layer as the user named it: a path, path#layer, or a manifest field path
    geometries: np.ndarray
    crs: pyproj.CRS | None  # the layer's own CRS, None = the manifest's
    where: Callable[[int], _Where]  # the record holding geometry i
    geometry_key: str = "geometry"


@dataclass
class Batch:
    """The records of one feature source, validated into models, with their geometries (in _Layer)."""

    section: str
    name: str
    models: list[Any] = field(default_factory=list)
    sources: list[SourceLoc] = field(default_factory=list)
    where: Callable[[int], _Where] | None = None
    layer: _Layer | None = None


class Loader:
    INFO_SECTION = "submission"  # the section whose `crs` every layer is brought to (a scheme's is `scheme`)

    def __init__(self, manifest: Path, classification: Any, allow_outside: bool = False):
        self.manifest = manifest
        self.allow_outside = allow_outside
        self.limits = current_limits()
        self.base = manifest.parent
        self.name = manifest.name
        self.classification = classification
        self.diagnostics: list[Diagnostic] = []
        self.inputs: list[str] = []
        self.notes: list[str] = []
        self.attributes: list[tuple[type, str, Diagnostic, bool]] = []  # GIS attributes kept aside (name, place, warned)
        self.reprojections: list[dict[str, Any]] = []  # {layer (None: every geometry), from, to}
        self.layers: list[_Layer] = []
        self.declared_fields: dict[type, set[str]] = {}  # fields rule packs declare (a rule test's inline manifest)
        self.text = ""
        self.field_map = None  # the FieldMap of the feature source being read, if it is written as a mapping
        self.field_map_data: Any = None  # the manifest, where the mapping is written (its typos are said there)

    # -- reporting

    def error(self, path: str, message: str, *, line: int | None = None, field: str | None = None, hint: str | None = None, column: int | None = None, severity: str = "error") -> None:
        excerpt = source_line(self.text, line) if path == self.name and line else None
        self.diagnostics.append(
            Diagnostic(path, message, line=line, column=column, field=field, severity=severity, excerpt=excerpt, hint=hint)  # type: ignore[arg-type]
        )

    def manifest_error(self, raw: Any, loc: tuple[Any, ...], message: str, hint: str | None = None) -> None:
        self.error(self.name, message, line=raw_line_of(raw, loc), field=_field_path("", loc), hint=hint)

    def add_input(self, relative: str) -> None:
        if relative not in self.inputs:
            self.inputs.append(relative)

    def fail_if_errors(self) -> None:
        if any(d.severity == "error" for d in self.diagnostics):
            rank: dict[str, int] = {}
            for diagnostic in self.diagnostics:
                rank.setdefault(diagnostic.path, len(rank))
            ordered = sorted(self.diagnostics, key=lambda d: (rank[d.path], d.line or 0))
            raise InputError(ordered)

    # -- the pipeline

    def load(self) -> Submission:
        data = self.read_manifest()
        self.fail_if_errors()
        self.add_input(self.name)
        sections = self.validate_sections(data)
        batches = self.load_feature_sources(data)
        inventories = self.load_inventories(data)
        geometry_sources = self.load_geometry_sources(data)
        self.check_geometry_limits()
        crs_used = self.settle_crs(data)
        # the cross-record checks run on whatever validated, so one broken section hides nothing else
        self.check_land_use(sections, {**batches, **inventories}, data)
        self.check_duplicates(sections, batches, data)
        self.check_inventory_duplicates(inventories)
        self.fail_if_errors()
        submission = self.assemble(data, sections, batches, geometry_sources)
        self.assemble_inventories(submission.unit_plan, inventories)
        submission._manifest = str(self.manifest)
        submission._crs_used = crs_used
        submission._load_notes = list(self.notes)
        submission._reprojections = list(self.reprojections)
        submission._attributes = list(self.attributes)
        submission._inputs = list(self.inputs)
        submission._warnings = [d for d in self.diagnostics if d.severity == "warning"]
        return submission

    def read_manifest(self) -> LocDict | None:
        try:
            if not self.manifest.exists():
                self.error(str(self.manifest), "manifest not found")
                return None
            if self.manifest.is_dir():
                self.error(str(self.manifest), "expected a YAML manifest file, got a folder", hint="name the submission's .yaml file")
                return None
        except OSError as exc:  # e.g. a name longer than the file system allows
            self.error(str(self.manifest)[:200], f"cannot read the manifest: {exc.strerror or exc}")
            return None
        if not self.allow_outside and not self.inside(self.manifest):
            # a bundle's manifest that is a symlink out of its folder (git and tar keep symlinks) is never read: its
            # target (a .netrc, /proc/self/environ) would be echoed back as the excerpt of the first diagnostic
            self.error(str(self.manifest), "the manifest is a symlink to a file outside its own folder; it is not read",
                       hint="give the manifest itself (a file inside the submission's folder), not a link to another file")
            return None
        try:
            self.text = read_text_limited(self.manifest, "max_file_mb")
        except SourceError as exc:
            self.error(self.name, exc.message, line=exc.line, column=exc.column, hint=exc.hint)
            return None
        data, problems = load_yaml(self.text, self.name)
        self.diagnostics.extend(problems)
        if problems:
            return None
        if data is None:
            self.error(self.name, "the manifest is empty; expected a mapping with submission, unit_plan and detailed_plan", line=1)
            return None
        if not isinstance(data, LocDict):
            kind = "a list" if isinstance(data, list) else f"a single value ({shown_value(data)})"
            line = getattr(data, "line", 1)
            self.error(self.name, f"expected a mapping with submission, unit_plan and detailed_plan at the top level, got {kind}", line=line)
            return None
        return data

    def validate_sections(self, data: LocDict) -> dict[str, Any]:
        """Validate each top-level section on its own (so one broken section does not hide another's errors)."""
        if "format" in data and data["format"] != FORMAT:
            self.manifest_error(data, ("format",), f"unsupported format {shown_value(data['format'])}; expected '{FORMAT}'")
        for key in data:
            if key not in TOP_LEVEL:
                suggestion = closest_name(str(key), list(TOP_LEVEL))
                hint = f"did you mean '{suggestion}'?" if suggestion else f"known sections: {', '.join(TOP_LEVEL)}"
                self.manifest_error(data, (key,), f"unknown field '{key}'", hint)
        for key in REQUIRED_TOP_LEVEL:
            if key not in data:
                self.error(self.name, f"missing required field '{key}'", line=data.line, field=key)
        sections: dict[str, Any] = {}
        for key, annotation in TOP_LEVEL.items():
            if annotation is None or key not in data:
                continue
            value = self.without_sources(key, data[key])
            try:
                sections[key] = type_adapter(annotation).validate_python(value)
            except ValidationError as exc:
                for error in exc.errors():
                    loc = (key, *error["loc"])
                    message, hint = describe_error(error, annotation)
                    self.manifest_error(data, loc, message, hint)
        return sections

    def without_sources(self, section: str, value: Any) -> Any:
        """A copy of a section with feature and geometry sources taken out (they are loaded on their own)."""
        if not isinstance(value, dict):
            return value
        copy = dict(value)
        for (owner, name) in FEATURE_SOURCES:
            if owner == section:
                copy.pop(name, None)
        if section == "unit_plan":
            copy.pop("boundary", None)
            if isinstance(copy.get("inventories"), dict):  # layers and record lists are loaded on their own
                copy["inventories"] = {k: v for k, v in copy["inventories"].items()
                                       if not (k in INVENTORY_SOURCES and isinstance(v, (str, list)))}
            packages = copy.get("packages")
            if isinstance(packages, list):
                copy["packages"] = [self._package_without_geometry(p) for p in packages]
        return copy

    @staticmethod
    def _package_without_geometry(package: Any) -> Any:
        if not isinstance(package, dict):
            return package
        package = dict(package)
        package.pop("boundary", None)
        duties = package.get("duties")
        if isinstance(duties, list):
            package["duties"] = [{k: v for k, v in d.items() if k != "geometry"} if isinstance(d, dict) else d for d in duties]
        return package

    # -- feature sources

    def load_feature_sources(self, data: LocDict) -> dict[tuple[str, str], Batch]:
        batches: dict[tuple[str, str], Batch] = {}
        for (section, name), (model, noun) in FEATURE_SOURCES.items():
            owner = data.get(section)
            if not isinstance(owner, LocDict) or owner.get(name) is None:
                continue
            value = owner[name]
            loc = (section, name)
            if isinstance(value, str):
                batch = self.feature_file(value, loc, data, model, noun)
            elif isinstance(value, dict):
                batch = self.mapped_features(value, loc, data, model, noun)
            elif isinstance(value, list):
                batch = self.inline_features(value, loc, model, noun)
            else:
                self.manifest_error(data, loc, f"expected a path to a layer or a list of records; got {shown_value(value)}")
                continue
            if batch is not None:
                batches[loc] = batch
        return batches

    def mapped_features(self, value: dict, loc: tuple[str, str], data: LocDict, model: type[Record], noun: str) -> Batch | None:
        """A layer with its own field names and units ({path, fields, units}), read as the contract's records."""
        from rulecheck.model import fieldmap

        path, mapping, problems = fieldmap.parse(value, set(model.model_fields))
        for where, message, hint in problems:
            self.manifest_error(data, (*loc, *where), message, hint)
        if problems or path is None:
            return None
        self.field_map, self.field_map_data = mapping, data
        try:
            return self.feature_file(path, loc, data, model, noun)
        finally:
            self.field_map = None

    def resolve(self, written: str, data: LocDict, loc: tuple[Any, ...]) -> tuple[Path, str | None] | None:
        """The file a manifest path names (and its `#layer`), or None after reporting it missing."""
        file_part, _, layer = written.partition("#")
        refusal = self.confinement(file_part)
        if refusal is not None:
            message, hint = refusal
            self.manifest_error(data, loc, message, hint)
            return None
        path = Path(file_part)
        full = path if path.is_absolute() else self.base / path
        try:
            filegdb = full.suffix.lower() == ".gdb" and full.is_dir()  # a FileGDB is a folder of tables
            if not full.is_file() and not filegdb:
                why = "is a folder, not a file" if full.is_dir() else "not found"
                self.manifest_error(data, loc, f"file {file_part!r} {why} (relative to {self.base.as_posix() or '.'})")
                return None
            sidecars = []
            if full.suffix.lower() == ".shp":
                sidecars = [full.with_suffix(ext) for ext in (".shx", ".dbf", ".prj", ".cpg") if full.with_suffix(ext).is_file()]
            # the FileGDB's own files are checked like sidecars (none may be a symlink out), but are one input
            contents = sorted(full.iterdir()) if filegdb else []
        except OSError as exc:  # a name too long, a loop of symlinks
            self.manifest_error(data, loc, f"cannot open {shown_value(file_part)}: {exc.strerror or exc}")
            return None
        if not self.allow_outside:
            for sidecar in sidecars + contents:
                if not self.inside(sidecar):
                    self.manifest_error(data, loc, f"{sidecar.name!r} is a symlink to a file outside the submission's folder",
                                        OUTSIDE_HINT)
                    return None
        self.add_input(file_part)
        for sidecar in sidecars:
            self.add_input(str(Path(file_part).with_suffix(sidecar.suffix)))
        return full, (layer or None)

    def inside(self, full: Path) -> bool:
        """Whether a path lies in the manifest's folder once every symlink is resolved."""
        try:
            return full.resolve().is_relative_to(self.base.resolve())
        except (OSError, RuntimeError):
            return False

    def confinement(self, file_part: str) -> tuple[str, str | None] | None:
        """Why a layer path may not be read (message, hint), or None: a GDAL virtual file system, a URL or a
        driver prefix never; outside the manifest's folder (absolute, `..`, a symlink out) only with allow_outside."""
        lowered = file_part.strip().lower()
        if lowered.startswith("/vsi") or "/vsi" in lowered or _SCHEME.match(file_part):
            return (f"{shown_value(file_part)} is not a file path: GDAL virtual file systems (/vsi...), URLs and driver prefixes are never read",
                    "name a file inside the submission's folder")
        suffix = Path(file_part).suffix.lower()
        if suffix not in LAYER_SUFFIXES:
            return (f"{shown_value(file_part)}: {suffix or 'a file without a suffix'} is not a layer format rulecheck reads",
                    "layers are GeoJSON (.geojson, .json), GeoPackage (.gpkg#layer), Shapefile (.shp), FileGDB (.gdb#layer)")
        if self.allow_outside:
            return None
        path = Path(file_part)
        if path.is_absolute():
            return (f"{shown_value(file_part)} is an absolute path; a submission reads only files inside its own folder", OUTSIDE_HINT)
        if ".." in path.parts:
            return (f"{shown_value(file_part)} leaves the submission's folder ('..'); a submission reads only files inside its own folder", OUTSIDE_HINT)
        try:
            full = self.base / path
            if full.exists() and not self.inside(full):
                return (f"{shown_value(file_part)} is a symlink to a file outside the submission's folder", OUTSIDE_HINT)
        except OSError:
            return None  # reported where the file is opened
        return None

    def feature_file(self, written: str, loc: tuple[str, str], data: LocDict, model: type[Record], noun: str) -> Batch | None:
        resolved = self.resolve(written, data, loc)
        if resolved is None:
            return None
        full, layer = resolved
        if full.suffix.lower() in GEOJSON_SUFFIXES and layer is None:
            return self.geojson_features(full, written, loc, model, noun)
        return self.gdal_features(full, written, layer, loc, data, model, noun)

    def read_geojson(self, full: Path, written: str) -> GeoJSONText | None:
        try:
            data = read_limited(full, "max_file_mb")
            text = decode_utf8(data, "GeoJSON is UTF-8")
        except SourceError as exc:
            self.error(written, exc.message, line=exc.line, column=exc.column, hint=exc.hint)
            return None
        try:
            # the bytes as read are the text's UTF-8 (unless a BOM was dropped): orjson reads them as they are
            return parse_geojson(text, None if data.startswith(codecs.BOM_UTF8) else data)
        except GeoJSONSyntaxError as exc:
            excerpt = source_line(text, exc.line)
            if excerpt is not None and len(excerpt) > 200:
                excerpt = None  # a one-line file: the column says where
            if not text.lstrip()[:1] in ("{", "["):
                excerpt = None  # not JSON at all: never echo a line of a file that is not a layer
            self.diagnostics.append(Diagnostic(written, str(exc), line=exc.line, column=exc.column, excerpt=excerpt))
            return None

    def layer_crs(self, written: str, document: Any, geojson: GeoJSONText | None) -> tuple[pyproj.CRS | None, bool]:
        """The CRS a GeoJSON document declares with the legacy "crs" member (None: the manifest's); ok flag."""
        if not isinstance(document, dict) or document.get("crs") is None:
            return None, True
        member = document["crs"]
        name = member.get("properties", {}).get("name") if isinstance(member, dict) and isinstance(member.get("properties"), dict) else None
        line = None
        if geojson is not None and geojson.index is not None:
            found = re.search(r'"crs"\s*:', geojson.text)
            line = geojson.index.line(found.start()) if found else None
        if not isinstance(name, str):
            self.error(written, 'unsupported "crs" member; expected {"type": "name", "properties": {"name": "EPSG:..."}}', line=line, field="crs")
            return None, False
        try:
            return crs_mod.parse_crs(name), True
        except ValueError as exc:
            self.error(written, f"unknown CRS {name!r}: {exc}", line=line, field="crs.properties.name")
            return None, False

    def geojson_features(self, full: Path, written: str, loc: tuple[str, str], model: type[Record], noun: str) -> Batch | None:
        parsed = self.read_geojson(full, written)
        if parsed is None:
            return None
        document = parsed.document
        if not isinstance(document, dict) or document.get("type") != "FeatureCollection" or not isinstance(document.get("features"), list):
            got = document.get("type") if isinstance(document, dict) else type(document).__name__
            self.error(written, f"expected a GeoJSON FeatureCollection, got {shown_value(got)}", line=1)
            return None
        declared, crs_ok = self.layer_crs(written, document, parsed)
        features = document["features"]
        lines = parsed.feature_lines()

        with no_gc():
            properties: list[dict[str, Any]] = []
            geometries: list[Any] = []
            bad_structure: dict[int, str] = {}
            for position, feature in enumerate(features):
                if not isinstance(feature, dict) or feature.get("type") != "Feature":
                    bad_structure[position] = f"expected a GeoJSON Feature, got {shown_value(feature.get('type') if isinstance(feature, dict) else feature)}"
                    properties.append({})
                    geometries.append(None)
                    continue
                props = feature.get("properties")
                record = props if isinstance(props, dict) else {}  # the document's own: it is dropped below
                if "id" not in record and feature.get("id") is not None:
                    record["id"] = feature["id"]
                properties.append(record)
                geometries.append(feature.get("geometry"))
            shapes, unreadable = geo.from_geojson_mappings(geometries)
            ids = [record.get("id") for record in properties]
            # the parsed document (a list per vertex) is done with: freed now, while the collector is paused, it
            # costs nothing more; kept (the messages below only need the text and the ids) it would be walked by
            # the first collection after the load
            del document, features, geometries
            parsed.document = None

        def where(position: int) -> _Where:
            record_id = ids[position]
            return _Where(
                written,
                lines[position],
                f"features[{position}].properties",
                lambda key, p=position: parsed.key_line(p, key),
                f"{noun} {record_id}" if record_id is not None else f"{noun} #{position + 1}",
            )

        def geometry_where(position: int) -> _Where:
            base = where(position)
            return _Where(base.path, base.line, f"features[{position}]", base.key_line, base.label)

        for position, message in bad_structure.items():
            self.error(written, message, line=lines[position], field=f"features[{position}]")
        self.report_geometries(shapes, unreadable, geometry_where, skip=bad_structure, model=model)
        return self.build_batch(loc, model, noun, properties, shapes, where, lines, written, gis=True, declared=declared if crs_ok else None,
                                geometry_where=geometry_where, skip=set(bad_structure))

    def gdal_features(self, full: Path, written: str, layer: str | None, loc: tuple[str, str], data: LocDict, model: type[Record], noun: str) -> Batch | None:
        if layer is None:
            try:
                layers = geo.list_layers(str(full))
            except Exception as exc:  # pyogrio raises DataSourceError and friends
                self.manifest_error(data, loc, f"cannot open {written!r} with GDAL: {exc}")
                return None
            if len(layers) != 1:
                self.manifest_error(data, loc, f"{written!r} has {len(layers)} layers; name one as {written}#LAYER", f"layers: {', '.join(layers)}")
                return None
            layer = layers[0]
        try:
            read = geo.read_gdal_layer(str(full), layer)
        except Exception as exc:
            message = str(exc)
            if "not found" in message.lower() or "layer" in message.lower():
                try:
                    message += f" (layers: {', '.join(geo.list_layers(str(full)))})"
                except Exception:
                    pass
            self.manifest_error(data, loc, f"cannot read layer {layer!r} of {written.partition('#')[0]!r}: {message}")
            return None
        label = f"{written.partition('#')[0]}#{layer}"
        declared = None
        if read.crs:
            try:
                declared = crs_mod.parse_crs(read.crs)
            except ValueError as exc:
                self.error(label, f"the layer's CRS cannot be read: {exc}")
        records = read.records
        if full.suffix.lower() == ".shp":
            records = self.untruncate(records, model, label)
        records = _json_lists(records, model)

        def where(position: int) -> _Where:
            record_id = records[position].get("id")
            fid = read.fids[position]
            name = f"{noun} {record_id}" if record_id is not None else f"{noun} #{position + 1}"
            return _Where(label, fid, "", lambda key: None, f"{name}, fid {fid}")

        self.report_geometries(read.geometries, read.unreadable, where, skip={}, model=model)
        return self.build_batch(loc, model, noun, records, read.geometries, where, read.fids, label, gis=True, declared=declared, geometry_where=where)

    def untruncate(self, records: list[dict[str, Any]], model: type[Record], label: str) -> list[dict[str, Any]]:
        """Shapefile field names are cut at 10 characters: give back the model's name where it is unambiguous."""
        if not records:
            return records
        fields = list(model.model_fields)
        renames = {}
        for key in records[0]:
            if key in fields or len(key) != 10:
                continue
            candidates = [f for f in fields if f.startswith(key)]
            if len(candidates) == 1:
                renames[key] = candidates[0]
        if not renames:
            return records
        self.notes.append(f"{label}: Shapefile field names read as " + ", ".join(f"{k} -> {v}" for k, v in sorted(renames.items())))
        return [{renames.get(k, k): v for k, v in record.items()} for record in records]

    def inline_features(self, value: LocList, loc: tuple[str, str], model: type[Record], noun: str) -> Batch | None:
        records: list[dict[str, Any]] = []
        geometry_values: list[Any] = []
        prefix = _field_path("", loc)
        missing_geometry: list[int] = []
        for position, item in enumerate(value):
            if not isinstance(item, dict):
                records.append(item)
                geometry_values.append(None)
                continue
            record = dict(item)
            if "geometry" not in record:
                missing_geometry.append(position)
            geometry_values.append(record.pop("geometry", None))
            records.append(record)
        shapes, unreadable = geo.from_any(geometry_values)
        lines = [value.item_line(i) for i in range(len(value))]

        def where(position: int) -> _Where:
            item = value[position]
            record_id = item.get("id") if isinstance(item, dict) else None
            key_line = item.key_line if isinstance(item, LocDict) else (lambda key: None)
            return _Where(self.name, lines[position], f"{prefix}[{position}]", key_line, f"{noun} {record_id}" if record_id is not None else f"{noun} #{position + 1}")

        for position in missing_geometry:
            w = where(position)
            self.error(self.name, f"missing required field 'geometry' ({w.label})", line=w.line, field=f"{w.field}.geometry",
                       hint="a GeoJSON geometry mapping or a WKT string")
        skip = {p: "" for p in missing_geometry} | {p: "" for p, item in enumerate(value) if not isinstance(item, dict)}
        self.report_geometries(shapes, unreadable, where, skip=skip)
        return self.build_batch(loc, model, noun, records, shapes, where, lines, prefix, gis=False, declared=None, geometry_where=where)

    def report_geometries(self, shapes: np.ndarray, unreadable: dict[int, str], where: Callable[[int], _Where], skip: dict[int, str],
                          model: type[Record] | None = None) -> None:
        for position, message in unreadable.items():
            w = where(position)
            field_path, line = w.at("geometry")
            self.error(w.path, f"unreadable geometry: {message} ({w.label})", line=line, field=field_path)
        optional = getattr(model, "GEOMETRY_OPTIONAL", False)  # inventory records may have no place
        missing = np.flatnonzero(shapely.is_missing(shapes)).tolist() if len(shapes) and not optional else []
        for position in missing:
            if position in unreadable or position in skip:
                continue
            w = where(position)
            field_path, line = w.at("geometry")
            self.error(w.path, f"the feature has no geometry ({w.label})", line=line, field=field_path, hint="every feature needs a geometry")

    def build_batch(self, loc: tuple[str, str], model: type[Record], noun: str, records: list[Any], shapes: np.ndarray,
                    where: Callable[[int], _Where], lines: list[int], label: str, *, gis: bool,
                    declared: pyproj.CRS | None, geometry_where: Callable[[int], _Where], skip: set[int] = frozenset()) -> Batch | None:
        """Validate a layer's records in one call; GIS layers may carry extra attributes (a warning, not an error)."""
        section, name = loc[0], loc[-1]
        source_path = where(0).path if records else label
        if self.field_map is not None:
            records, missing = self.field_map.apply(records)
            self.report_unmapped(loc, missing, source_path)
            aliases, unaliased = dict(self.field_map.fields), where

            def where(position: int) -> _Where:
                found = unaliased(position)
                found.aliases = aliases
                unnamed = f"{noun} #{position + 1}"  # the label was made before the id was mapped
                record = records[position] if position < len(records) else None
                if found.label.startswith(unnamed) and isinstance(record, dict) and record.get("id") is not None:
                    found.label = f"{noun} {record['id']}" + found.label[len(unnamed):]
                return found
        if self.limits.max_records and len(records) > self.limits.max_records:
            self.error(source_path, f"{len(records)} records, over the {self.limits.describe('max_records')}",
                       field=_field_path("", loc))
            return None
        records, extras = self.set_aside_extras(model, records, where, label, gis=gis)
        with no_gc():
            models = self.validated(model, records, where, skip)
            if models is None:
                return None
            # SourceLoc(source_path, line) for each line, made in C (namedtuple's __new__ is this call in Python)
            sources = list(map(tuple.__new__, itertools.repeat(SourceLoc), zip(itertools.repeat(source_path), lines)))
            for record, source in zip(models, sources):
                record.__pydantic_private__["_source"] = source
            if extras is not None and len(extras) == len(models):
                for record, extra in zip(models, extras):
                    if extra:
                        record.__pydantic_private__["_extra"] = extra
        batch = Batch(section, name, models, sources, where)
        batch.layer = _Layer(label, shapes, declared, geometry_where)
        self.layers.append(batch.layer)
        return batch

    def set_aside_extras(self, model: type[Record], records: list[Any], where: Callable[[int], _Where], label: str, *,
                         gis: bool) -> tuple[list[Any], list[dict] | None]:
        """(the records as the model reads them, the attributes kept aside per record or None): beyond the contract
        in a GIS layer (for a field a rule pack declares: a province's column), or the fields the packs declare in a
        rule test's inline manifest."""
        extras = None
        if gis:
            known = set(model.model_fields) | {"geometry"}
            if not set().union(*(r for r in records if isinstance(r, dict))) <= known:
                extras = [{k: v for k, v in r.items() if k not in known} if isinstance(r, dict) else {} for r in records]
            records = self.prepare_gis_records(records, model, where, label)
        elif self.declared_fields.get(model):
            names = self.declared_fields[model]
            extras = [{k: r[k] for k in names if k in r} if isinstance(r, dict) else {} for r in records]
            records = [{k: v for k, v in r.items() if k not in names} if isinstance(r, dict) else r for r in records]
        return records, extras

    def report_unmapped(self, loc: tuple[str, str], missing, source_path: str) -> None:
        """A typo in the manifest's field map: said at its line, with the layer's field nearest to it."""
        for source in missing:
            contract = next(c for c in sorted(self.field_map.explicit) if self.field_map.fields[c] == source)
            nearest = closest_name(source, sorted(self.field_map.seen), cutoff=0.5) or closest_name(
                source.lower(), sorted({s.lower(): s for s in self.field_map.seen}), cutoff=0.5)
            if nearest is not None and nearest not in self.field_map.seen:
                nearest = next(s for s in self.field_map.seen if s.lower() == nearest)
            fields = ", ".join(sorted(self.field_map.seen)[:30])
            self.manifest_error(self.field_map_data, (*loc, "fields", contract),
                                f"no attribute '{source}' (mapped to '{contract}') in any record of this layer ({source_path})",
                                f"did you mean '{nearest}'?" if nearest else f"the layer's fields: {fields}")

    def validated(self, model: type[Record], records: list[Any], where: Callable[[int], _Where], skip: set[int]):
        """The records as models, validated in one call; None (each error said at its record) when one is wrong."""
        try:
            return type_adapter(list[model]).validate_python(records)
        except ValidationError as exc:
            for error in exc.errors():
                position, rest = error["loc"][0], error["loc"][1:]
                if not isinstance(position, int) or position in skip:
                    continue  # a feature that is not a Feature is reported once, as such
                w = where(position)
                message, hint = describe_error({**error, "loc": rest or ("",)}, model) if rest else describe_error(error, list[model])
                field_path, line = w.at(*rest) if rest else (w.field, w.line)
                self.error(w.path, f"{message} ({w.label})", line=line, field=field_path, hint=hint)
        return None

    def prepare_gis_records(self, records: list[dict[str, Any]], model: type[Record], where: Callable[[int], _Where], label: str) -> list[dict[str, Any]]:
        known = set(model.model_fields)
        keys: set[str] = set()
        for record in records:
            keys.update(record)
        unknown = sorted(keys - known - {"geometry"})
        self.check_attributes(records, unknown, known - {"geometry"}, model, where)
        # a null in a GIS layer means "no value": let the field's default apply where None is not a value
        nullable_defaults = [
            n for n, f in model.model_fields.items() if not f.is_required() and f.default is not None
        ]
        drop = set(unknown) | ({"geometry"} & keys)
        if drop:
            records = [{k: v for k, v in record.items() if k not in drop} for record in records]
        for key in nullable_defaults:
            if key in keys:
                for record in records:
                    if key in record and record[key] is None:
                        del record[key]
        return records

    def check_attributes(self, records: list[dict[str, Any]], unknown: list[str], contract: set[str], model: type[Record],
                         where: Callable[[int], _Where]) -> None:
        """A layer's attributes beyond the contract: one a few letters from a contract field (or, with a field
        mapping, from a mapped field the layer lacks) is a misspelling, an error with the name meant, never an
        absent value; the others are kept aside for fields a rule pack declares (checked against them when the
        rules are known) and, without a field mapping, warned about. A planning database's layer (a mapping) has
        many fields of its own: those are not a sign of a typo, and are dropped without a warning."""
        from rulecheck.model import fieldmap

        mapping = self.field_map
        absent: dict[str, str] = {}  # a mapped source field no record has -> its contract field
        others: frozenset[str] = frozenset()
        if mapping is not None:
            # (a field the manifest maps by name and the layer lacks is said at the manifest's line already)
            absent = {source: name for name, source in mapping.fields.items()
                      if source not in mapping.seen and name not in mapping.explicit}
            others = fieldmap.preset_others(mapping.preset) if mapping.preset else frozenset()
        for key in unknown:
            holders = [i for i, r in enumerate(records) if key in r]
            meant = fieldmap.near(key, contract)
            if meant is not None:
                # a record that has the field meant as well loses nothing (ArcGIS's own `Id` beside a mapped id)
                holders = [i for i in holders if meant not in records[i]] or holders
                if all(meant in records[i] for i in holders):
                    meant = None
            w = where(holders[0])
            field_path, line = w.at(key)
            more = f", and {len(holders) - 1} more record{'s' * (len(holders) > 2)}" if len(holders) > 1 else ""
            if meant is None and absent and key not in others:
                source = fieldmap.near(key, list(absent))
                if source is not None:
                    how = f"fields: {mapping.preset}"
                    self.error(w.path, f"attribute '{key}' is not mapped to any field, and no record has '{source}', which {how} "
                               f"maps to '{absent[source]}': a misspelt field would leave '{absent[source]}' unread ({w.label}{more})",
                               line=line, field=field_path, hint=f"did you mean '{source}'? (rename the layer's field, or map "
                               f"it in the manifest: fields: {{{absent[source]}: {key}}})")
                    continue
            if meant is not None:
                self.error(w.path, f"attribute '{key}' is not a field of the contract: a misspelt field would leave "
                           f"'{meant}' unread ({w.label}{more})", line=line, field=field_path, hint=f"did you mean '{meant}'?")
                continue
            if mapping is None:
                self.error(w.path, f"attribute '{key}' is not part of the contract and is ignored ({w.label}{more})", line=line, field=field_path,
                           severity="warning", hint="a rule pack reads it only if it declares it: field COLLECTION.NAME: TYPE")
                place, warned = self.diagnostics[-1], True
            else:
                place, warned = Diagnostic(w.path, "", line=line, field=field_path, severity="warning"), False
            self.attributes.append((model, key, place, warned))

    # -- geometry sources

    def load_geometry_sources(self, data: LocDict) -> dict[tuple[Any, ...], np.ndarray]:
        """unit_plan.boundary, packages[i].boundary, packages[i].duties[j].geometry -> one-element arrays."""
        found: dict[tuple[Any, ...], np.ndarray] = {}
        unit = data.get("unit_plan")
        if not isinstance(unit, LocDict):
            return found
        wanted: list[tuple[Any, ...]] = []
        if unit.get("boundary") is not None:
            wanted.append(("unit_plan", "boundary"))
        packages = unit.get("packages")
        if isinstance(packages, list):
            for i, package in enumerate(packages):
                if not isinstance(package, dict):
                    continue
                if package.get("boundary") is not None:
                    wanted.append(("unit_plan", "packages", i, "boundary"))
                duties = package.get("duties")
                if isinstance(duties, list):
                    for j, duty in enumerate(duties):
                        if isinstance(duty, dict) and duty.get("geometry") is not None:
                            wanted.append(("unit_plan", "packages", i, "duties", j, "geometry"))
        for loc in wanted:
            value: Any = data
            for part in loc:
                value = value[part]
            shape = self.geometry_source(value, loc, data)
            if shape is not None:
                found[loc] = shape
        return found

    def geometry_source(self, value: Any, loc: tuple[Any, ...], data: LocDict) -> np.ndarray | None:
        field_path = _field_path("", loc)
        line = raw_line_of(data, loc)
        key = str(loc[-1])
        manifest_where = lambda _: _Where(self.name, line, _field_path("", loc[:-1]), lambda _key: line, "")
        if isinstance(value, str) and geo.looks_like_wkt(value):
            shapes, errors = geo.from_wkt_strings([value])
            return self.single_geometry(shapes, errors, field_path, None, manifest_where, key)
        if isinstance(value, dict):
            mapping = value.get("geometry") if value.get("type") == "Feature" else value
            shapes, errors = geo.from_geojson_mappings([mapping])
            return self.single_geometry(shapes, errors, field_path, None, manifest_where, key)
        if not isinstance(value, str):
            self.manifest_error(data, loc, f"expected a path, a GeoJSON geometry or WKT text; got {shown_value(value)}")
            return None
        resolved = self.resolve(value, data, loc)
        if resolved is None:
            return None
        full, layer = resolved
        if full.suffix.lower() in GEOJSON_SUFFIXES and layer is None:
            parsed = self.read_geojson(full, value)
            if parsed is None:
                return None
            document = parsed.document
            declared, _ = self.layer_crs(value, document, parsed)
            kind = document.get("type") if isinstance(document, dict) else None
            if kind == "FeatureCollection" and isinstance(document.get("features"), list):
                features = document["features"]
                mappings = [f.get("geometry") if isinstance(f, dict) else None for f in features]
                lines = parsed.feature_lines()
                where = lambda p: _Where(value, lines[p], f"features[{p}]", lambda key, p=p: parsed.key_line(p, key), f"feature #{p + 1}")
            elif kind == "Feature":
                mappings, where = [document.get("geometry")], lambda p: _Where(value, 1, "", lambda key: None, "the feature")
            elif isinstance(kind, str) and (kind in geo._DEPTHS or kind == "GeometryCollection"):
                mappings, where = [document], lambda p: _Where(value, 1, "", lambda key: None, "the geometry")
            else:
                self.error(value, f"expected a GeoJSON geometry, Feature or FeatureCollection, got {shown_value(kind)}", line=1)
                return None
            shapes, errors = geo.from_geojson_mappings(mappings)
            return self.single_geometry(shapes, errors, value, declared, where, "geometry")
        try:
            read = geo.read_gdal_layer(str(full), layer)
        except Exception as exc:
            self.manifest_error(data, loc, f"cannot read {value!r}: {exc}")
            return None
        declared = None
        if read.crs:
            try:
                declared = crs_mod.parse_crs(read.crs)
            except ValueError:
                declared = None
        where = lambda p: _Where(value, read.fids[p], "", lambda key: None, f"feature fid {read.fids[p]}")
        return self.single_geometry(read.geometries, read.unreadable, value, declared, where, "geometry")

    def single_geometry(self, shapes: np.ndarray, errors: dict[int, str], label: str, declared: pyproj.CRS | None,
                        where: Callable[[int], _Where], key: str) -> np.ndarray | None:
        """Report unreadable parts, union what is left into one geometry, and queue it for the CRS pass."""
        for position, message in errors.items():
            w = where(position)
            field_path, line = w.at(key)
            self.error(w.path, f"unreadable geometry: {message}{_tag(w.label)}", line=line, field=field_path)
        if errors:
            return None
        if len(shapes) == 0:  # an empty FeatureCollection or layer: no feature to point at
            self.error(label, "no geometry found: the layer has no features", line=1 if label != self.name else None)
            return None
        present = shapes[~shapely.is_missing(shapes)]
        if len(present) == 0:
            w = where(0)
            field_path, line = w.at(key)
            self.error(w.path, f"no geometry found{_tag(w.label)}", line=line, field=field_path)
            return None
        if len(present) == 1:
            shape = present[0]
        else:
            try:
                shape = shapely.union_all(present)
            except shapely.errors.GEOSException:
                # invalid parts (self-intersections) cannot be unioned as they are; GEO rules report them
                shape = shapely.union_all(shapely.make_valid(present))
                self.notes.append(f"{label}: parts with invalid geometry were repaired to form the union")
        array = np.array([shape], dtype=object)
        self.layers.append(_Layer(label, array, declared, where, key))
        return array

    def check_geometry_limits(self) -> None:
        """Z dropped (with a note: every check is 2D); vertices per geometry and in all held to their limits."""
        total = 0
        for layer in self.layers:
            geometries = layer.geometries
            if not len(geometries):
                continue
            if shapely.has_z(geometries).any():
                layer.geometries[:] = shapely.force_2d(geometries)
                self.notes.append(f"{layer.label}: z coordinates were dropped; rulecheck checks in two dimensions")
            counts = shapely.get_num_coordinates(layer.geometries)
            total += int(counts.sum())
            for position in np.flatnonzero(counts > (self.limits.max_vertices or np.inf)).tolist()[:MAX_LANDUSE_REPORTS]:
                w = layer.where(position)
                field_path, line = w.at(layer.geometry_key)
                self.error(w.path, f"the geometry has {int(counts[position])} vertices{_tag(w.label)}, over the "
                           f"{self.limits.describe('max_vertices')}", line=line, field=field_path)
        if self.limits.max_total_vertices and total > self.limits.max_total_vertices:
            self.error(self.name, f"the submission's geometries have {total} vertices, over the "
                       f"{self.limits.describe('max_total_vertices')}")

    # -- CRS

    def settle_crs(self, data: LocDict) -> str:
        """Check every layer's coordinates against its CRS, bring all to the manifest's CRS, then to metres."""
        info = data.get(self.INFO_SECTION)
        written = info.get("crs") if isinstance(info, dict) else None
        if not isinstance(written, str):
            return ""  # reported by validation (missing or not text)
        try:
            manifest_crs = crs_mod.parse_crs(written)
        except ValueError as exc:
            self.manifest_error(data, (self.INFO_SECTION, "crs"), f"unknown CRS {written!r}: {exc}", "e.g. EPSG:4526 (CGCS2000 / 3-degree Gauss-Kruger zone 38)")
            return ""
        problem = crs_mod.check_usable(manifest_crs)
        if problem:
            self.manifest_error(data, (self.INFO_SECTION, "crs"), problem)
            return ""
        manifest_name = crs_mod.crs_name(manifest_crs)
        if not self.plausible_crs(data, manifest_crs, manifest_name):
            return manifest_name
        for layer in self.layers:
            layer_crs = layer.crs or manifest_crs
            misfit = crs_mod.check_coordinates(layer.geometries, layer_crs)
            if misfit is not None:
                w = layer.where(misfit.index)
                declared = f"the layer's own CRS {crs_mod.crs_name(layer.crs)}" if layer.crs is not None else f"{self.INFO_SECTION}.crs {manifest_name}"
                field_path, line = w.at(layer.geometry_key)
                prefix = "" if layer.label == field_path else f"layer {layer.label}: "
                self.error(w.path, f"{prefix}{misfit.message} (declared: {declared}{'; ' + w.label if w.label else ''})", line=line, field=field_path, hint=misfit.hint)
                continue
            if layer.crs is not None and not crs_mod.same_crs(layer.crs, manifest_crs):
                layer.geometries[:] = crs_mod.reproject(layer.geometries, layer.crs, manifest_crs)
                self.notes.append(f"{layer.label}: reprojected from {crs_mod.crs_name(layer.crs)} to {manifest_name} (the manifest's CRS)")
                self.reprojections.append({"layer": layer.label, "from": crs_mod.crs_name(layer.crs), "to": manifest_name})
        if not manifest_crs.is_geographic or any(d.severity == "error" for d in self.diagnostics):
            return manifest_name
        arrays = [layer.geometries for layer in self.layers if len(layer.geometries)]
        everything = np.concatenate(arrays) if arrays else np.empty(0, dtype=object)
        everything = everything[~shapely.is_missing(everything)]
        if len(everything) == 0:
            return manifest_name
        xmin, ymin, xmax, ymax = shapely.total_bounds(everything)
        centre = (xmin + xmax) / 2
        try:
            target = crs_mod.gk3_zone_crs(centre)
        except ValueError as exc:
            self.manifest_error(data, (self.INFO_SECTION, "crs"), f"{manifest_name} is geographic and {exc}")
            return manifest_name
        for layer in self.layers:
            layer.geometries[:] = crs_mod.reproject(layer.geometries, manifest_crs, target)
        target_name = crs_mod.crs_name(target)
        zone = int(target_name.split(":")[1]) - crs_mod.GK3_EPSG_OFFSET
        self.notes.append(
            f"{self.INFO_SECTION}.crs {manifest_name} is geographic (degrees): every geometry was reprojected to {target_name} "
            f"({target.name}, central meridian {3 * zone}E), the zone of the data's centre ({centre:.3f}E), for areas and distances in metres"
        )
        for entry in self.reprojections:  # a layer of its own CRS went to the manifest's degrees, then on
            entry["to"] = target_name
        self.reprojections.append({"layer": None, "from": manifest_name, "to": target_name})
        return target_name

    def plausible_crs(self, data: LocDict, manifest_crs: pyproj.CRS, manifest_name: str) -> bool:
        """The declared CRS is one planning data are drawn in, and the coordinates given in it (those of layers
        without a CRS of their own) fit it: their zone number, their place. A mismatch is an error at `crs:`
        (or at the layer that declares its own), naming the CRS the coordinates were likely drawn in."""
        own = [layer.geometries for layer in self.layers if layer.crs is None and len(layer.geometries)]
        found = crs_mod.check_plausible(np.concatenate(own) if own else np.empty(0, dtype=object), manifest_crs)
        if found is not None:
            message, hint = self._implausible(found)
            self.manifest_error(data, (self.INFO_SECTION, "crs"), f"the declared CRS does not fit the data: {message}", hint)
            return False
        ok = True
        for layer in self.layers:
            if layer.crs is None:
                continue
            found = crs_mod.check_plausible(layer.geometries, layer.crs)
            if found is not None:
                message, hint = self._implausible(found)
                w = layer.where(0)
                # (a GDAL layer has feature ids, not lines: its CRS has no line to point at)
                line = None if "#" in w.path else 1 if w.path != self.name else w.line
                self.error(w.path, f"layer {layer.label}: its own CRS {crs_mod.crs_name(layer.crs)} does not fit it: {message}",
                           line=line, field="crs", hint=hint)
                ok = False
        return ok

    @staticmethod
    def _implausible(found: Any) -> tuple[str, str | None]:
        if found.likely is None:
            return found.message, "declare the CRS the coordinates were drawn in, or reproject the data to a CGCS2000 Gauss-Krüger zone"
        code = found.likely.split(" ", 1)[0]
        return (f"{found.message}; the coordinates fit {found.likely}",
                f"declare crs: {code} if the data are in it, else reproject them to it")

    # -- the six inventories (unit_plan.inventories): inline records or feature sources, a place optional

    def load_inventories(self, data: LocDict) -> dict[tuple[str, ...], Batch]:
        batches: dict[tuple[str, ...], Batch] = {}
        unit = data.get("unit_plan")
        inventories = unit.get("inventories") if isinstance(unit, LocDict) else None
        if not isinstance(inventories, LocDict):
            return batches  # absent, or not a mapping (validation says so)
        for name, (model, noun) in INVENTORY_SOURCES.items():
            value = inventories.get(name)
            loc = ("unit_plan", "inventories", name)
            if isinstance(value, str):
                batch = self.feature_file(value, loc, data, model, noun)  # type: ignore[arg-type]
            elif isinstance(value, LocList):
                batch = self.inline_inventory(value, loc, model, noun)
            else:
                continue  # absent, or of the wrong shape (validation says so)
            if batch is not None:
                batches[loc] = batch
        return batches

    def inline_inventory(self, value: LocList, loc: tuple[str, ...], model: type[Record], noun: str) -> Batch | None:
        """Inline records; those of a spatial inventory may carry a `geometry` (GeoJSON or WKT)."""
        spatial = "geometry" in model.model_fields
        records = [dict(item) if isinstance(item, dict) else item for item in value]
        geometry_values = [r.pop("geometry", None) if spatial and isinstance(r, dict) else None for r in records]
        shapes, unreadable = geo.from_any(geometry_values)
        lines = [value.item_line(i) for i in range(len(value))]
        prefix = _field_path("", loc)

        def where(position: int) -> _Where:
            item = value[position]
            record_id = item.get("id") if isinstance(item, dict) else None
            key_line = item.key_line if isinstance(item, LocDict) else (lambda key: None)
            return _Where(self.name, lines[position], f"{prefix}[{position}]", key_line,
                          f"{noun} {record_id}" if record_id is not None else f"{noun} #{position + 1}")

        self.report_geometries(shapes, unreadable, where, skip={}, model=model)
        return self.build_batch(loc, model, noun, records, shapes, where, lines, prefix, gis=False, declared=None, geometry_where=where)  # type: ignore[arg-type]

    def check_inventory_duplicates(self, batches: dict[tuple[str, ...], Batch]) -> None:
        for loc, batch in batches.items():
            first: dict[str, int] = {}
            for position, record in enumerate(batch.models):
                if record.id not in first:
                    first[record.id] = position
                    continue
                w, original = batch.where(position), batch.where(first[record.id])  # type: ignore[misc]
                field_path, line = w.at("id")
                self.error(w.path, f"duplicate {INVENTORY_SOURCES[loc[-1]][1]} id {record.id!r}; first defined at {original.path}:{original.at('id')[1]}",
                           line=line, field=field_path)

    @staticmethod
    def assemble_inventories(unit: UnitPlan, batches: dict[tuple[str, ...], Batch]) -> None:
        """Put the inventories' records in place, and name each approval of a package program PACKAGE/RESOURCE."""
        for loc, batch in batches.items():
            spatial = "geometry" in type(batch.models[0]).model_fields if batch.models else False
            if spatial and batch.layer is not None:
                for record, shape in zip(batch.models, batch.layer.geometries):
                    record.__dict__["geometry"] = shape
            unit.inventories.__dict__[loc[-1]] = batch.models  # type: ignore[union-attr]
        for package in unit.packages:
            for approval in (package.program.approvals or []) if package.program is not None else []:
                approval._package_id = package.id

    # -- assembly and cross-record checks

    def assemble(self, data: LocDict, sections: dict[str, Any], batches: dict[tuple[str, str], Batch],
                 geometry_sources: dict[tuple[Any, ...], np.ndarray]) -> Submission:
        for key, value in sections.items():
            raw = data.get(key)
            if isinstance(value, list):
                for i, record in enumerate(value):
                    self.stamp(record, raw[i] if isinstance(raw, list) and i < len(raw) else None, getattr(raw, "line", None))
            else:
                self.stamp(value, raw, getattr(raw, "line", None))
        for contract in sections.get("contracts", []):
            for item in contract.items:
                item._contract_id = contract.id
            for duty in contract.duties:
                duty._contract_id = contract.id
        unit, plan = sections["unit_plan"], sections["detailed_plan"]
        for (section, name), batch in batches.items():
            owner = unit if section == "unit_plan" else plan
            for record, shape in zip(batch.models, batch.layer.geometries if batch.layer else []):
                record.__dict__["geometry"] = shape
            owner.__dict__[name] = batch.models
        for loc, array in geometry_sources.items():
            if loc == ("unit_plan", "boundary"):
                unit.__dict__["boundary"] = array[0]
            elif loc[-1] == "boundary":
                unit.packages[loc[2]].__dict__["boundary"] = array[0]
            else:
                unit.packages[loc[2]].duties[loc[4]].__dict__["geometry"] = array[0]
        return Submission.model_construct(
            format=data.get("format", FORMAT),
            submission=sections["submission"],
            unit_plan=unit,
            detailed_plan=plan,
            contracts=sections.get("contracts", []),
        )

    def stamp(self, record: Any, raw: Any, parent_line: int | None) -> None:
        """Give a YAML record and every record inside it its source: the manifest and the line of its mapping."""
        if not isinstance(record, Record):
            return
        line = raw.line if isinstance(raw, LocDict) else parent_line
        record.__pydantic_private__["_source"] = SourceLoc(self.name, line or 1)
        for name in _record_fields(type(record)):
            value = record.__dict__.get(name)
            sub = raw.get(name) if isinstance(raw, LocDict) else None
            if isinstance(value, Record):
                self.stamp(value, sub, line)
            elif isinstance(value, list) and value and isinstance(value[0], Record):
                for i, item in enumerate(value):
                    self.stamp(item, sub[i] if isinstance(sub, list) and i < len(sub) else None,
                               sub.item_line(i) if isinstance(sub, LocList) else line)

    def _yaml_where(self, data: LocDict, loc: tuple[Any, ...], label: str) -> _Where:
        raw: Any = data
        for part in loc:
            raw = raw[part] if isinstance(raw, (dict, list)) else None
        key_line = raw.key_line if isinstance(raw, LocDict) else (lambda key: None)
        return _Where(self.name, raw_line_of(data, loc), _field_path("", loc), key_line, label)

    def classification_in_force(self, info: SubmissionInfo | None) -> Any:
        if self.classification is not None:
            return self.classification
        try:
            from rulecheck.model.landuse import load_classification
        except ImportError:
            return None
        try:
            return load_classification(jurisdiction=info.jurisdiction if info is not None else None)
        except InputError as exc:
            self.diagnostics.extend(exc.diagnostics)
            return None

    def check_land_use(self, sections: dict[str, Any], batches: dict[tuple[str, str], Batch], data: LocDict) -> None:
        """Every land_use is a code of the classification in force (a duty's resource too, when it is a code)."""
        classification = self.classification_in_force(sections.get("submission"))
        if classification is not None:
            is_known, suggest = classification.is_known, classification.suggest
        else:  # the classification module is not available: accept the shape of a code
            is_known, suggest = (lambda code: isinstance(code, str) and len(code) in (2, 4) and code.isdigit()), (lambda code: None)

        def check(records: list[Any], key: str, where: Callable[[int], _Where], only_codes: bool = False) -> None:
            codes = list(map(operator.attrgetter(key), records))
            unknown = {code for code in set(codes)
                       if code is not None and not (only_codes and not code.isdigit()) and not is_known(code)}
            if not unknown:
                return
            by_code: dict[str, list[int]] = {}
            for position, code in enumerate(codes):
                if code in unknown:
                    by_code.setdefault(code, []).append(position)
            for code, positions in by_code.items():
                suggestion = suggest(code)
                hint = f"did you mean '{suggestion}'?" if suggestion else None
                for position in positions[:MAX_LANDUSE_REPORTS]:
                    w = where(position)
                    field_path, line = w.at(key)
                    self.error(w.path, f"unknown land-use code {code!r} ({w.label})", line=line, field=field_path, hint=hint)
                if len(positions) > MAX_LANDUSE_REPORTS:
                    w = where(positions[MAX_LANDUSE_REPORTS])
                    self.error(w.path, f"unknown land-use code {code!r} in {len(positions) - MAX_LANDUSE_REPORTS} more records not listed",
                               line=w.line, field=w.at(key)[0], hint=hint)

        for batch in batches.values():
            if batch.models and hasattr(batch.models[0], "land_use") and batch.where is not None:
                check(batch.models, "land_use", batch.where)
        for c, contract in enumerate(sections.get("contracts", [])):
            check(contract.items, "land_use",
                  lambda i, c=c, contract=contract: self._yaml_where(data, ("contracts", c, "items", i), f"contract item {contract.id}/{contract.items[i].right}"))
        unit = sections.get("unit_plan")
        for p, package in enumerate(unit.packages if unit is not None else []):
            check(package.duties, "resource",
                  lambda i, p=p, package=package: self._yaml_where(data, ("unit_plan", "packages", p, "duties", i), f"duty {package.duties[i].id}"),
                  only_codes=True)

    def check_duplicates(self, sections: dict[str, Any], batches: dict[tuple[str, str], Batch], data: LocDict) -> None:
        """Ids are unique per collection; a duplicate names both places."""

        def check(records: list[Any], key: Callable[[Any], str], where: Callable[[int], _Where], noun: str, id_field: str = "id") -> None:
            values = list(map(key, records))
            if len(set(values)) == len(values):
                return  # no duplicate (the common case, in one pass)
            first: dict[str, int] = {}
            for position, value in enumerate(values):
                if value not in first:
                    first[value] = position
                    continue
                w, original = where(position), where(first[value])
                field_path, line = w.at(id_field)
                _, original_line = original.at(id_field)
                self.error(w.path, f"duplicate {noun} id {value!r}; first defined at {original.path}:{original_line}", line=line, field=field_path)

        for (section, name), batch in batches.items():
            noun = FEATURE_SOURCES[(section, name)][1]
            if batch.where is not None:
                check(batch.models, operator.attrgetter("id"), batch.where, noun)
        unit = sections.get("unit_plan")
        packages = unit.packages if unit is not None else []
        check(packages, lambda r: r.id, lambda i: self._yaml_where(data, ("unit_plan", "packages", i), f"package {packages[i].id}"), "package")
        for p, package in enumerate(packages):
            check(package.duties, lambda r: r.id, lambda i, p=p: self._yaml_where(data, ("unit_plan", "packages", p, "duties", i), ""), f"duty (package {package.id})")
        contracts = sections.get("contracts", [])
        check(contracts, lambda r: r.id, lambda i: self._yaml_where(data, ("contracts", i), ""), "contract")
        for c, contract in enumerate(contracts):
            check(contract.items, lambda r: r.right, lambda i, c=c: self._yaml_where(data, ("contracts", c, "items", i), ""),
                  f"contract item (right, contract {contract.id})", id_field="right")


# ---- when the rules are known: the attributes kept aside, against the fields the packs declare ----------------


def settle_attributes(submission: Submission, declared: dict[type, dict[str, Any]]) -> list[Diagnostic]:
    """The load's warnings once the rule packs' own fields (`field COLLECTION.NAME: TYPE`) are known: an attribute
    a pack declares is read, not ignored (no warning); one a few letters from a declared field, and not declared
    itself, is a misspelling that would make the pack's rule not applicable: an InputError naming the field meant."""
    from rulecheck.model import fieldmap

    warnings = list(submission._warnings)
    errors: list[Diagnostic] = []
    for model, key, place, warned in submission._attributes:
        names = declared.get(model) or {}
        if key in names:
            if warned:
                warnings = [w for w in warnings if w is not place]
            continue
        meant = fieldmap.near(key, list(names))
        if meant is None:
            continue
        where = names[meant][3] if isinstance(names[meant], tuple) and len(names[meant]) > 3 else "a rule pack"
        errors.append(Diagnostic(place.path, f"attribute '{key}' is not a field the rule packs declare: a misspelt field "
                                 f"would leave '{meant}' unread, and the rules that need it not applicable",
                                 line=place.line, field=place.field, hint=f"did you mean '{meant}'? (declared at {where})"))
        if warned:
            warnings = [w for w in warnings if w is not place]
    if errors:
        raise InputError(errors + warnings)
    return warnings


def diagnostic_record(diagnostic: Diagnostic) -> dict[str, Any]:
    """A load diagnostic as the JSON report lists it (`diagnostics`)."""
    return {"severity": diagnostic.severity, "path": diagnostic.path, "line": diagnostic.line, "column": diagnostic.column,
            "field": diagnostic.field, "message": diagnostic.message, "hint": diagnostic.hint}
