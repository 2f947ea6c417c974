"""What a rule can name: the types of the language, and the collections and fields of the bundle model."""

from __future__ import annotations

import datetime as dt
import types
import typing
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from rulecheck.model import documents as d


@dataclass(frozen=True)
class T:
    """A static type. `kind` is one of: num bool str code date enum enumlit record list dict geom tol
    group table any null. `arg` refines it: the dimension of a num (None: known only at run time), the
    enum class, the record class, the element type of a list or dict, a table's value type."""

    kind: str
    arg: Any = None
    extra: Any = None  # enumlit: the literal's name; table: key kind ("code" or "name")

    def __str__(self) -> str:
        if self.kind == "num":
            from rulecheck.dsl.units import DIMENSION_NAMES

            return "a number of unknown unit" if self.arg is None else DIMENSION_NAMES[self.arg]
        if self.kind == "enum":
            return f"a {self.arg.__name__} value"
        if self.kind == "record":
            return f"a {self.arg.__name__} record"
        if self.kind == "list":
            return f"a list of {self.arg}"
        return {"bool": "true/false", "str": "a text", "code": "a land-use code", "date": "a date",
                "geom": "a geometry", "tol": "a tolerance", "group": "a land-use group", "dict": "a table of amounts",
                "table": "a parameter table", "any": "any value", "null": "nothing", "enumlit": "an enum value"}.get(self.kind, self.kind)


NUM = T("num", "")
BOOL = T("bool")
STR = T("str")
CODE = T("code")
DATE = T("date")
GEOM = T("geom")
TOL = T("tol")
GROUP = T("group")
ANY = T("any")


def num(dim: str | None) -> T:
    return T("num", dim)


def record(cls: type) -> T:
    return T("record", cls)


def list_of(t: T) -> T:
    return T("list", t)


# units of numeric fields, by field name (bundle-format.md: areas in m², money in 万元, percent as numbers)
FIELD_UNITS = {
    "area_m2": "m2",
    "term_years": "years",
    "price_wan_yuan": "wan_yuan",
    "reserve_price_wan_yuan": "wan_yuan",
    "density_max": "%",
    "density_min": "%",
    "green_min": "%",
    "green_max": "%",
    "height_max": "m",
    "admin_share": "%",
    "coverage": "%",
    "share": "%",
    "value_wan_yuan": "wan_yuan",
    "appraised_value_wan_yuan": "wan_yuan",
    "amount_wan_yuan": "wan_yuan",
}
DYNAMIC_UNIT_FIELDS = {(d.Duty, "quantity"), (d.ContractDuty, "quantity")}
# fields read from the record that holds this one (the run's context keeps who holds what), not from the record
PARENT_FIELDS = {(d.ContractItem, "contract"), (d.ContractDuty, "contract"), (d.Duty, "package"), (d.RevenueShare, "package")}
CODE_FIELDS = {"land_use"}

# the collection a record is reported under (bundle-format.md, report subjects)
COLLECTION_OF: dict[type, str] = {
    d.Right: "rights",
    d.Parcel: "parcels",
    d.ControlLine: "control_lines",
    d.Package: "packages",
    d.Duty: "duties",
    d.Contract: "contracts",
    d.ContractItem: "contracts",
    d.ContractDuty: "contracts",
    d.IndicatorProposal: "indicator_proposals",
    d.UnitPlan: "unit_plan",
    d.DetailedPlan: "detailed_plan",
    d.SubmissionInfo: "submission",
    d.Resource: "resources",
    d.Asset: "assets",
    d.Fund: "funds",
    d.Condition: "conditions",
    d.Demand: "demands",
    d.Policy: "policies",
    d.Approval: "packages",  # named PACKAGE/RESOURCE, as a contract item is named CONTRACT/RIGHT
}

# fields computed from the loaded bundle rather than read from it
VIRTUAL_FIELDS: dict[type, dict[str, T]] = {
    d.ContractItem: {"id": STR, "contract": record(d.Contract), "parcel_ids": list_of(STR)},
    d.ContractDuty: {"id": STR, "contract": record(d.Contract)},
    d.Duty: {"package": record(d.Package)},
    d.IndicatorProposal: {"id": STR},
    d.RevenueShare: {"package": record(d.Package)},
    d.Approval: {"id": STR},
}

ROOTS: dict[str, T] = {
    "submission": record(d.SubmissionInfo),
    "unit_plan": record(d.UnitPlan),
    "detailed_plan": record(d.DetailedPlan),
    "contracts": list_of(record(d.Contract)),
    "as_of": DATE,
}

ENUMS: list[type[StrEnum]] = [
    d.Direction, d.RightKind, d.Ownership, d.SupplyMethod, d.Award, d.Scale, d.SeaUse, d.DutyKind,
    d.QuantityUnit, d.PlanStatus, d.ControlLineKind,
    d.Zone, d.ResourceUnit, d.ResourceState, d.FundChannel, d.ConditionKind, d.DemandParty, d.DemandIntent,
    d.PolicyKind, d.AssemblyPath, d.ApprovalStatus, d.RevenueRole,
]
ENUM_VALUES: dict[str, list[type[StrEnum]]] = {}
for _enum in ENUMS:
    for _member in _enum:
        ENUM_VALUES.setdefault(_member.value, []).append(_enum)


def _annotation_type(cls: type, name: str, annotation: Any) -> T:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _annotation_type(cls, name, args[0]) if len(args) == 1 else ANY
    if origin is list:
        (elem,) = typing.get_args(annotation)
        return list_of(_annotation_type(cls, name, elem))
    if origin is dict:
        return T("dict", num("money"))
    if annotation is Any:
        return GEOM
    if isinstance(annotation, type):
        if issubclass(annotation, StrEnum):
            return T("enum", annotation)
        if issubclass(annotation, BaseModel):
            return record(annotation)
        if annotation is bool:
            return BOOL
        if annotation in (float, int):
            if (cls, name) in DYNAMIC_UNIT_FIELDS:
                return num(None)
            unit = FIELD_UNITS.get(name)
            from rulecheck.dsl.units import dimension

            return T("num", dimension(unit), "%" if unit == "%" else None)
        if annotation is dt.date:
            return DATE
        if annotation is str:
            return CODE if name in CODE_FIELDS else STR
    return ANY


_FIELDS_CACHE: dict[type, dict[str, T]] = {}


def fields_of(cls: type) -> dict[str, T]:
    """Every field a rule may read on a record of this class, with its type."""
    if cls not in _FIELDS_CACHE:
        hints = typing.get_type_hints(cls, localns=vars(d))
        out = {name: _annotation_type(cls, name, hints[name]) for name in cls.model_fields}
        out.update(VIRTUAL_FIELDS.get(cls, {}))
        _FIELDS_CACHE[cls] = out
    return _FIELDS_CACHE[cls]


def has_id(cls: type) -> bool:
    return "id" in fields_of(cls)
