"""Quantities with units: m², ha, 亩, km², m, km, %, years, 万元. Exact conversion factors, one base unit per dimension."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

# dimension names: "" (plain number; % is a plain number shown in percent), area, length, time, money, count
UNITS: dict[str, tuple[str, Fraction]] = {
    "m2": ("area", Fraction(1)),
    "m²": ("area", Fraction(1)),
    "ha": ("area", Fraction(10_000)),
    "mu": ("area", Fraction(2_000, 3)),  # 1 亩 = 10000/15 m²
    "亩": ("area", Fraction(2_000, 3)),
    "km2": ("area", Fraction(1_000_000)),
    "km²": ("area", Fraction(1_000_000)),
    "m": ("length", Fraction(1)),
    "km": ("length", Fraction(1_000)),
    "%": ("", Fraction(1, 100)),
    "years": ("time", Fraction(1)),
    "year": ("time", Fraction(1)),
    "年": ("time", Fraction(1)),
    "wan_yuan": ("money", Fraction(1)),
    "万元": ("money", Fraction(1)),
    "count": ("count", Fraction(1)),
    "person": ("count", Fraction(1)),
    "人": ("count", Fraction(1)),
    # compound units (a price per area, an area per person): base units wan_yuan per m², m² per person
    "wan_yuan/m2": ("money/area", Fraction(1)),
    "wan_yuan/ha": ("money/area", Fraction(1, 10_000)),
    "wan_yuan/mu": ("money/area", Fraction(3, 2_000)),
    "万元/公顷": ("money/area", Fraction(1, 10_000)),
    "万元/亩": ("money/area", Fraction(3, 2_000)),
    "yuan/m2": ("money/area", Fraction(1, 10_000)),
    "元/平方米": ("money/area", Fraction(1, 10_000)),
    "m2/person": ("area/count", Fraction(1)),
    "m²/人": ("area/count", Fraction(1)),
}

# the dimension of a product or quotient of two dimensions, where the language has one (else not allowed)
PRODUCTS = {("money/area", "area"): "money", ("area", "money/area"): "money",
            ("area/count", "count"): "area", ("count", "area/count"): "area"}
QUOTIENTS = {("money", "area"): "money/area", ("area", "count"): "area/count",
             ("money", "money/area"): "area", ("area", "area/count"): "count"}

# how each unit is written in a report, by language
DISPLAY = {
    "m2": ("m²", "m²"), "m²": ("m²", "m²"), "ha": ("公顷", "ha"), "mu": ("亩", "mu"), "亩": ("亩", "mu"),
    "km2": ("km²", "km²"), "km²": ("km²", "km²"), "m": ("米", "m"), "km": ("千米", "km"), "%": ("%", "%"),
    "years": ("年", "years"), "year": ("年", "years"), "年": ("年", "years"), "wan_yuan": ("万元", "wan yuan"),
    "万元": ("万元", "wan yuan"), "count": ("个", ""), "person": ("人", "persons"), "人": ("人", "persons"),
    "wan_yuan/m2": ("万元/平方米", "wan yuan/m²"), "wan_yuan/ha": ("万元/公顷", "wan yuan/ha"),
    "wan_yuan/mu": ("万元/亩", "wan yuan/mu"), "万元/公顷": ("万元/公顷", "wan yuan/ha"), "万元/亩": ("万元/亩", "wan yuan/mu"),
    "yuan/m2": ("元/平方米", "yuan/m²"), "元/平方米": ("元/平方米", "yuan/m²"),
    "m2/person": ("平方米/人", "m²/person"), "m²/人": ("平方米/人", "m²/person"),
}

DIMENSION_NAMES = {"": "a plain number", "area": "an area", "length": "a length", "time": "a duration",
                   "money": "an amount of money", "count": "a count", "money/area": "a price per area",
                   "area/count": "an area per person"}

BASE_UNIT = {"area": "m2", "length": "m", "time": "years", "money": "wan_yuan", "count": "count", "": None,
             "money/area": "wan_yuan/ha", "area/count": "m2/person"}


def dimension(unit: str | None) -> str:
    return UNITS[unit][0] if unit else ""


def to_base(value: float, unit: str | None) -> float:
    """The value in its dimension's base unit, by exact factors (90 亩 is exactly 60,000 m²)."""
    if not unit:
        return value
    factor = UNITS[unit][1]
    if factor.denominator == 1:
        return value * factor.numerator if factor.numerator != 1 else value
    return value * factor.numerator / factor.denominator


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number in the base unit of its dimension, remembering the unit it is best shown in."""

    value: float
    dim: str = ""
    unit: str | None = None  # display unit

    @classmethod
    def of(cls, value: float, unit: str | None) -> "Quantity":
        return cls(to_base(value, unit), dimension(unit), unit)

    def shown(self, unit: str | None = None) -> float:
        unit = unit or self.unit
        if not unit:
            return self.value
        factor = UNITS[unit][1]
        return self.value * factor.denominator / factor.numerator

    def format(self, lang: str = "en", unit: str | None = None) -> str:
        unit = unit or self.unit or BASE_UNIT.get(self.dim)
        if not unit:
            return _format_number(self.value)
        shown = _SHOWN.get(unit)
        if shown is None:
            factor = UNITS[unit][1]
            shown = _SHOWN[unit] = (factor.denominator, factor.numerator, DISPLAY[unit])
        denominator, numerator, labels = shown
        number = _format_number(self.value * denominator / numerator)  # as shown(unit), without Fraction's properties
        label = labels[0 if lang == "zh" else 1]
        if not label:
            return number
        return f"{number}{label}" if unit == "%" else f"{number} {label}"

    def __str__(self) -> str:
        return self.format("en")


def _format_number(x: float) -> str:
    if x != x:  # NaN
        return "NaN"
    whole, size = round(x), abs(x)
    if abs(x - whole) < 1e-9 and size < 1e15:
        return f"{int(whole):,}" if size >= 10_000 else str(int(whole))
    if size >= 100:
        text = f"{x:,.2f}" if size >= 10_000 else f"{x:.2f}"
    else:
        text = f"{x:.4g}" if size < 1 else f"{x:.3f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# a display unit's scale and labels: (denominator, numerator of its factor, (zh label, en label)), made on first use
_SHOWN: dict[str, tuple[int, int, tuple[str, str]]] = {}


@dataclass(frozen=True, slots=True)
class Tolerance:
    """An absolute tolerance, a relative one, or either (the larger allowance wins)."""

    absolute: Quantity | None = None
    relative: float | None = None  # fraction, 0.005 for 0.5 %

    def allowance(self, a: float, b: float) -> float:
        allow = self.absolute.value if self.absolute is not None else 0.0
        if self.relative is not None:
            allow = max(allow, self.relative * max(abs(a), abs(b)))
        return allow

    def format(self, lang: str = "en") -> str:
        parts = []
        if self.absolute is not None:
            parts.append(self.absolute.format(lang))
        if self.relative is not None:
            parts.append(Quantity(self.relative, "", "%").format(lang))
        return (" 或 " if lang == "zh" else " or ").join(parts)
