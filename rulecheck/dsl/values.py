"""Run-time values of the language: missing data, evaluation errors, and how values print in reports."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import shapely
from pydantic import BaseModel

from rulecheck.dsl.units import Quantity, Tolerance


class Missing:
    """An absent value. It spreads through every operation and makes the outcome indeterminate,
    unless the rule asks `present(x)` or gives `default(x, y)`."""

    __slots__ = ("what",)

    def __init__(self, what: str):
        self.what = what

    def __repr__(self) -> str:
        return f"Missing({self.what!r})"

    def __bool__(self) -> bool:  # never used as a truth value by mistake
        raise TypeError("Missing has no truth value")


class EvalError(Exception):
    """A value the rule cannot work with at run time (say, a duty counted in km compared with an area)."""


def record_id(record) -> str:
    ident = getattr(record, "id", None)
    return str(ident) if ident is not None else type(record).__name__


def is_record(value) -> bool:
    return isinstance(value, BaseModel)


def format_value(value, lang: str = "en", full: bool = False) -> str:
    """A value as a reviewer reads it in a message or an explanation."""
    if isinstance(value, Missing):
        return "（缺失）" if lang == "zh" else "(missing)"
    if isinstance(value, Quantity):
        return value.format(lang)
    if isinstance(value, Tolerance):
        return value.format(lang)
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("true" if value else "false")
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return Quantity(value).format(lang)
    if isinstance(value, shapely.Geometry):
        if value.is_empty:
            return "（空几何）" if lang == "zh" else "(empty geometry)"
        return f"{value.geom_type}({Quantity(value.area, 'area', 'm2').format(lang)})"
    if isinstance(value, (list, tuple)):
        shown = [format_value(v, lang, full) for v in (value if full else value[:8])]
        if len(value) > 8 and not full:
            shown.append(f"… (+{len(value) - 8})")
        return "[" + ", ".join(shown) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v, lang)}" for k, v in value.items()) + "}"
    if is_record(value):
        return record_id(value)
    if value is None:
        return "（缺失）" if lang == "zh" else "(missing)"
    return str(value)
