"""The county overall allocation scheme (县级自然资源资产总体配置方案) as an input document, and the county a
county submission assembles from its units: models, and a loader as careful as the submission's."""

from __future__ import annotations

import os
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field, PrivateAttr, ValidationError, field_validator

from rulecheck.diagnostics import Diagnostic, InputError
from rulecheck.model import crs as crs_mod
from rulecheck.model.documents import (
    AssemblyPath,
    Date,
    Direction,
    Feature,
    Money,
    Record,
    SchemeRef,
    SourceLoc,
    Submission,
    UnitFinance,
    quick_private_init,
)
from rulecheck.model.loader import type_adapter, Batch, describe_error, Loader, closest_name, raw_line_of, shown_value
from rulecheck.model.sources import LocDict, SourceError, load_yaml, no_gc, read_text_limited

SCHEME_SUFFIXES = (".yaml", ".yml")
Phase = Annotated[int, Field(ge=1, le=1000)]
Year = Annotated[int, Field(ge=1900, le=2999)]


class KeyAreaKind(StrEnum):
    """重点整备片区 (assembly_area) or 价值潜力片区 (value_potential)."""

    assembly_area = "assembly_area"
    value_potential = "value_potential"


class SupplyModel(StrEnum):
    """The supply models a rule can read (组合供应模式); the scheme may also describe one in words."""

    single_package = "single_package"
    combined_package = "combined_package"
    phased_packages = "phased_packages"


class Procedure(Record):
    """A step of the scheme's procedure: 审议 by the people's congress standing committee, 审批 by the government."""

    body: str | None = None
    date: Date | None = None


class KeyArea(Feature):
    """A key area the scheme marks (重点整备片区)."""

    kind: KeyAreaKind | None = None
    name: str | None = None


def _split_paths(value: Any) -> Any:
    """A GIS layer holds a list as text ("acquisition,swap"): read it as the list it means."""
    if isinstance(value, str):
        return [part.strip() for part in value.replace("、", ",").replace(";", ",").split(",") if part.strip()]
    return value


class SchemeUnit(Feature):
    """An allocation unit the scheme draws (划示配置单元), with what the scheme fixes for it."""

    name: str | None = None
    direction: Direction | None = None
    key_area: str | None = None
    holder: list[str] | None = None  # 整备主体: a text, or a list when the scheme names several (one per resource)
    gathering: list[AssemblyPath] | None = None  # 权利归集方式
    supply_model: str | None = None  # 组合供应模式: one of SupplyModel, or words
    phase: Phase | None = None  # 实施时序: 1 first
    start_year: Year | None = None
    end_year: Year | None = None
    guidance: str | None = None  # 权益配置指引

    _gathering = field_validator("gathering", mode="before")(_split_paths)

    @field_validator("holder", mode="before")
    @classmethod
    def _one_holder(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Scheme(Record):
    """The county scheme, loaded: its key areas and units with shapely geometries in one projected CRS."""

    id: str
    jurisdiction: str | None = None
    crs: str
    based_on: str | None = None  # the municipal scheme
    organiser: str | None = None  # 组织编制
    reviewed: Procedure | None = None  # 人大常委会审议
    approved: Procedure | None = None  # 人民政府审批
    key_areas: list[KeyArea] = Field(default_factory=list)
    units: list[SchemeUnit] = Field(default_factory=list)
    finance: UnitFinance | None = None  # the county's own account (算大账)

    _path: str = PrivateAttr(default="")  # the scheme file, as the unit or county names it
    _crs_used: str = PrivateAttr(default="")
    _inputs: list = PrivateAttr(default_factory=list)
    _notes: list = PrivateAttr(default_factory=list)


# ---- the county: what a county check knows of each unit, and the ids each unit holds ----------------------


class CountyUnit(Record):
    """One unit submission of a county, as the checks across units see it."""

    id: str  # unit_plan.id
    submission: str  # submission.id
    manifest: str  # the unit's manifest, relative to the county's
    scheme: str | None = None  # the id of the scheme the unit names (its file's id, or the plain id it writes)
    geometry: Any = Field(default=None, exclude=True)  # the unit boundary
    first_supply: Date | None = None  # the earliest supply start of the unit's packages
    revenues_wan_yuan: float = 0.0  # every package's revenues and the unit's own (算小账)
    costs_wan_yuan: float = 0.0
    verdict: str | None = None  # the unit's own check
    phase: str | None = None  # the id of its phase in `county.phases` (the scheme's phase, as text), if the scheme draws it


class CountyPhase(Record):
    """A phase of the scheme's order (实施时序), summarised from the county's units: what the rule on the order of
    phases compares each unit's first supply with."""

    id: str  # the phase number as text ("1")
    phase: int
    units: list[str] = Field(default_factory=list)
    started: Date | None = None  # by then every unit of this phase had started supply (absent: one never does)
    earlier_units: int = 0  # units of earlier phases
    earlier_started: Date | None = None  # by then every unit of every earlier phase had started (absent: one never does)


class CountyMember(Record):
    """An id one unit holds (a right, parcel, asset or package), with the unit that holds it."""

    id: str
    unit: str


class CountyRight(CountyMember):
    pass


class CountyParcel(CountyMember):
    pass


class CountyAsset(CountyMember):
    pass


class CountyPackage(CountyMember):
    pass


class County(Record):
    """A county submission assembled: its units and every id they hold, for the CTY rules across units."""

    id: str = ""
    units: list[CountyUnit] = Field(default_factory=list)
    rights: list[CountyRight] = Field(default_factory=list)
    parcels: list[CountyParcel] = Field(default_factory=list)
    assets: list[CountyAsset] = Field(default_factory=list)
    packages: list[CountyPackage] = Field(default_factory=list)
    phases: list[CountyPhase] = Field(default_factory=list)  # in order


def phases_of(units: list[CountyUnit], scheme: "Scheme") -> list[CountyPhase]:
    """Each unit's phase from the scheme (`unit.phase`), and the phases in order with the dates by which their units,
    and those of every earlier phase, had started supply: one pass over the units, one over the phases."""
    drawn = {entry.id: entry.phase for entry in scheme.units if entry.phase is not None}
    grouped: dict[int, list[CountyUnit]] = {}
    for unit in units:
        number = drawn.get(unit.id)
        if number is not None:
            unit.__dict__["phase"] = str(number)
            grouped.setdefault(number, []).append(unit)
    phases, earlier, earlier_started, complete = [], 0, None, True
    for number in sorted(grouped):
        members = grouped[number]
        starts = [u.first_supply for u in members]
        started = max(starts) if all(s is not None for s in starts) else None
        phases.append(CountyPhase(id=str(number), phase=number, units=[u.id for u in members], started=started,
                                  earlier_units=earlier, earlier_started=earlier_started if complete else None))
        earlier += len(members)
        complete = complete and started is not None
        earlier_started = max(d for d in (earlier_started, started) if d is not None) if complete else None
    return phases


for _model in (Procedure, KeyArea, SchemeUnit, CountyUnit, CountyPhase, CountyMember, CountyRight, CountyParcel,
               CountyAsset, CountyPackage, County):
    quick_private_init(_model)

NO_COUNTY = County()  # outside a county check: no other unit to compare with (the rules across units have nothing to check)


# ---- the loader --------------------------------------------------------------------------------------------

SCHEME_LAYERS = {"key_areas": (KeyArea, "key area"), "units": (SchemeUnit, "scheme unit")}
TOP_LEVEL = ("format", "scheme")


class _SchemeLoader(Loader):
    """The submission loader's machinery (layers in every contract format, field maps, limits, located errors,
    the CRS pass) on a scheme file."""

    INFO_SECTION = "scheme"

    def load(self) -> Scheme:
        data = self.read_scheme()
        self.fail_if_errors()
        self.add_input(self.name)
        scheme = self.validate_scheme(data)
        batches = self.load_layers(data)
        self.check_geometry_limits()
        crs_used = self.settle_crs(data)
        self.check_ids(batches)
        self.fail_if_errors()
        for name, batch in batches.items():
            for record, shape in zip(batch.models, batch.layer.geometries if batch.layer else []):
                record.__dict__["geometry"] = shape
            scheme.__dict__[name] = batch.models
        scheme._crs_used = crs_used
        scheme._inputs = list(self.inputs)
        scheme._notes = list(self.notes)
        return scheme

    def read_scheme(self) -> LocDict | None:
        try:
            self.text = read_text_limited(self.manifest, "max_file_mb")
        except SourceError as exc:
            self.error(self.name, exc.message, line=exc.line, column=exc.column, hint=exc.hint)
            return None
        except OSError as exc:
            self.error(self.name, f"cannot read the scheme: {exc.strerror or exc}")
            return None
        data, problems = load_yaml(self.text, self.name)
        self.diagnostics.extend(problems)
        if problems:
            return None
        if not isinstance(data, LocDict):
            self.error(self.name, "expected a mapping with format and scheme at the top level (a county scheme file)",
                       line=getattr(data, "line", 1))
            return None
        return data

    def validate_scheme(self, data: LocDict) -> Scheme | None:
        if "format" in data and data["format"] != "rulecheck/v1":
            self.manifest_error(data, ("format",), f"unsupported format {shown_value(data['format'])}; expected 'rulecheck/v1'")
        for key in data:
            if key not in TOP_LEVEL:
                suggestion = closest_name(str(key), list(TOP_LEVEL))
                hint = f"did you mean '{suggestion}'?" if suggestion else "a scheme file has format and scheme"
                self.manifest_error(data, (key,), f"unknown field '{key}'", hint)
        section = data.get("scheme")
        if not isinstance(section, LocDict):
            if "scheme" not in data:
                self.error(self.name, "missing required field 'scheme'", line=data.line, field="scheme")
            else:
                self.manifest_error(data, ("scheme",), f"expected a mapping; got {shown_value(section)}")
            return None
        copy = {k: v for k, v in section.items() if k not in SCHEME_LAYERS}
        try:
            scheme = type_adapter(Scheme).validate_python(copy)
        except ValidationError as exc:
            for error in exc.errors():
                message, hint = describe_error(error, Scheme)
                self.manifest_error(data, ("scheme", *error["loc"]), message, hint)
            return None
        self.stamp(scheme, section, section.line)
        return scheme

    def load_layers(self, data: LocDict) -> dict[str, Batch]:
        batches: dict[str, Batch] = {}
        section = data.get("scheme")
        if not isinstance(section, LocDict):
            return batches
        for name, (model, noun) in SCHEME_LAYERS.items():
            value = section.get(name)
            loc = ("scheme", name)
            if value is None:
                continue
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
                batches[name] = batch
        return batches

    def check_ids(self, batches: dict[str, Batch]) -> None:
        for name, batch in batches.items():
            first: dict[str, int] = {}
            for position, record in enumerate(batch.models):
                if record.id not in first:
                    first[record.id] = position
                    continue
                w, original = batch.where(position), batch.where(first[record.id])  # type: ignore[misc]
                field_path, line = w.at("id")
                self.error(w.path, f"duplicate {SCHEME_LAYERS[name][1]} id {record.id!r}; first defined at "
                           f"{original.path}:{original.at('id')[1]}", line=line, field=field_path)


_CACHE: dict[tuple, Scheme] = {}
_CACHE_LOCK = threading.Lock()


def load_scheme(path: str | Path, *, allow_outside: bool = False, shown_as: str | None = None) -> Scheme:
    """Read a scheme file and its layers (relative to its folder, and confined to it unless `allow_outside`).

    `shown_as` is the folder of the scheme as the reader names it (`..` for a unit whose scheme is one folder up):
    every diagnostic and record source is shown under it. Raises InputError with every problem found."""
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, allow_outside, shown_as)
    except OSError:
        key = None
    if key is not None:
        with _CACHE_LOCK:
            cached = _CACHE.get(key)
        if cached is not None:
            return cached
    with no_gc():
        loader = _SchemeLoader(path, None, allow_outside=allow_outside)
        try:
            try:
                scheme = loader.load()
            except InputError as error:
                raise InputError([_shown_under(d, shown_as) for d in error.diagnostics]) from None
        finally:
            loader.layers.clear()
    if shown_as:
        _move_sources(scheme, shown_as)
    scheme._path = _join(shown_as, path.name)
    if key is not None:
        with _CACHE_LOCK:
            if len(_CACHE) > 16:
                _CACHE.clear()
            _CACHE[key] = scheme
    return scheme


def _join(prefix: str | None, name: str) -> str:
    return name if not prefix or prefix == "." else f"{prefix}/{name}"


def _shown_under(diagnostic: Diagnostic, prefix: str | None) -> Diagnostic:
    if not prefix or prefix == "." or Path(diagnostic.path).is_absolute():
        return diagnostic
    from dataclasses import replace

    return replace(diagnostic, path=_join(prefix, diagnostic.path))


def _move_sources(scheme: Scheme, prefix: str) -> None:
    """Every record's source shown relative to the reader's folder, not the scheme's."""
    def move(record: Record) -> None:
        src = record.source
        if src is not None:
            record.__pydantic_private__["_source"] = SourceLoc(_join(prefix, src.path), src.line)

    for record in (scheme, scheme.reviewed, scheme.approved, scheme.finance, *scheme.key_areas, *scheme.units):
        if record is not None:
            move(record)
    scheme._inputs = [_join(prefix, name) for name in scheme._inputs]


# ---- a unit's reference to its scheme ------------------------------------------------------------------------


def why_no_scheme(reference: Any) -> str:
    """Why a unit cannot be checked against a scheme: the text of the indeterminate results."""
    if reference is None:
        return "unit_plan.county_scheme (the unit names no county scheme, so nothing can be checked against it)"
    return (f"the county scheme file: unit_plan.county_scheme names the scheme {str(reference)!r} by its id only, "
            "so nothing can be checked against it (write county_scheme: {path: ../scheme.yaml})")


def scheme_file(manifest: Path, reference: SchemeRef, *, allow_outside: bool, scheme_root: str | Path | None) -> Path:
    """The scheme file a unit names, or an InputError located at `county_scheme.path`.

    The scheme may lie in the unit's folder or under `scheme_root` (by default the folder above the unit's: the
    county's, as in `county_scheme: {path: ../scheme.yaml}`); elsewhere only with `allow_outside`."""
    src = reference.source
    where = dict(line=src.line if src else None, field="unit_plan.county_scheme.path")
    written = reference.path

    def refuse(message: str, hint: str | None = None) -> InputError:
        return InputError([Diagnostic(manifest.name, message, hint=hint, **where)])

    lowered = written.strip().lower()
    if "/vsi" in lowered or "://" in lowered or (len(written) > 2 and written[1] != ":" and ":" in written.split("/")[0]):
        raise refuse(f"{shown_value(written)} is not a file path: URLs and GDAL virtual file systems are never read")
    if Path(written).suffix.lower() not in SCHEME_SUFFIXES:
        raise refuse(f"{shown_value(written)}: a county scheme is a YAML file (.yaml)", "name the scheme's scheme.yaml")
    full = Path(written) if Path(written).is_absolute() else manifest.parent / written
    if not allow_outside:
        home = manifest.absolute().parent  # absolute first: the parent of a bare 'submission.yaml' is '.', not the county's
        roots = [home, Path(scheme_root) if scheme_root is not None else home.parent]
        try:
            resolved = full.resolve()
            inside = any(resolved.is_relative_to(root.resolve()) for root in roots)
        except (OSError, RuntimeError):
            inside = False
        if not inside:
            raise refuse(f"{shown_value(written)} lies outside the submission's folder and the county's folder above it",
                         "put the scheme in the county's folder (../scheme.yaml), or pass --allow-outside "
                         "(allow_outside=True) if you trust it")
    try:
        if not full.is_file():
            why = "is a folder, not a file" if full.is_dir() else "not found"
            raise refuse(f"county scheme {written!r} {why} (relative to {manifest.parent.as_posix() or '.'})")
    except OSError as exc:
        raise refuse(f"cannot open {shown_value(written)}: {exc.strerror or exc}") from None
    return full


def attach_scheme(submission: Submission, manifest: Path, *, allow_outside: bool = False,
                  scheme_root: str | Path | None = None, scheme: Scheme | None = None) -> None:
    """Load the scheme a unit names (`{path: ...}`) and keep it on the submission for the CTY rules, in the unit's
    CRS; a plain id or no reference keeps the reason nothing can be checked against a scheme."""
    reference = submission.unit_plan.county_scheme
    loaded = scheme
    if loaded is None:  # the scheme the unit names (a county check may give the county's instead)
        if not isinstance(reference, SchemeRef):
            submission._scheme = why_no_scheme(reference)
            return
        full = scheme_file(manifest, reference, allow_outside=allow_outside, scheme_root=scheme_root)
        loaded = load_scheme(full, allow_outside=allow_outside, shown_as=os.path.relpath(full.parent, manifest.parent))
    submission._load_notes = list(submission._load_notes) + [f"{loaded._path}: {note}" for note in loaded._notes]
    loaded = in_crs(loaded, submission._crs_used or submission.submission.crs, submission._load_notes)
    submission._scheme = loaded
    submission._inputs = list(submission._inputs) + [n for n in loaded._inputs if n not in submission._inputs]


def in_crs(scheme: Scheme, target_name: str, notes: list) -> Scheme:
    """The scheme with its geometries in the unit's CRS (a copy when they differ: the loaded scheme is shared)."""
    if not target_name or not scheme._crs_used or scheme._crs_used == target_name:
        return scheme
    source, target = crs_mod.parse_crs(scheme._crs_used), crs_mod.parse_crs(target_name)
    if crs_mod.same_crs(source, target):
        return scheme
    copy = scheme.model_copy()
    copy.__pydantic_private__ = dict(scheme.__pydantic_private__)
    for name in ("key_areas", "units"):
        records = getattr(scheme, name)
        moved = crs_mod.reproject(np.array([r.geometry for r in records], dtype=object), source, target) if records else []
        new = []
        for record, shape in zip(records, moved):
            twin = record.model_copy()
            twin.__pydantic_private__ = dict(record.__pydantic_private__)
            twin.__dict__["geometry"] = shape
            new.append(twin)
        copy.__dict__[name] = new
    copy._crs_used = target_name
    notes.append(f"{scheme._path}: the scheme's geometries were reprojected from {scheme._crs_used} to {target_name} "
                 "(the unit's CRS)")
    return copy
