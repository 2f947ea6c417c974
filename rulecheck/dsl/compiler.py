"""Type-check rule expressions against the bundle schema and compile them into Python closures; a loop is planned
by planner.py, its plan's expressions compiled here, and the two run by joins.py."""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
import math
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Callable

import numpy as np
import shapely

from rulecheck.dsl import ast
from rulecheck.dsl.builtins import (AGGREGATES, BUILTINS, SPECIAL, as_geometry, cached_overlap_areas, prefill_pairs, square_metres,
                                    union_all)
from rulecheck.dsl.ast import CheckError, conjuncts, free_names, is_var, source_text, walk
from rulecheck.dsl.joins import PLAIN_OPS, UNARY_BULK, Join, LoopFns, TextCond, VerdictCond, unary_in_bulk
from rulecheck.dsl.plan import PAIR_FUNCS, Loop, LoopPlan, PlanOptions, current_options
from rulecheck.dsl.planner import plan_loop, plan_requirement
from rulecheck.dsl.schema import (
    ANY, BOOL, DATE, ENUM_VALUES, GEOM, GROUP, NUM, PARENT_FIELDS, ROOTS, STR, T, fields_of, has_id, list_of, num,
)
from rulecheck.dsl.units import (BASE_UNIT, DIMENSION_NAMES, PRODUCTS, QUOTIENTS, UNITS, Quantity, Tolerance, dimension,
                                  to_base)
from rulecheck.dsl.values import CTX, EvalError, Missing, format_value, geom_or_none, is_record, record_id
from rulecheck.model import documents as d
from rulecheck.model.landuse import in_force

Fn = Callable[[dict], Any]


# ---- the evaluation context -------------------------------------------------------------------------


@dataclass
class Context:
    """Everything one run over one submission needs; compiled closures read it from env[CTX]."""

    submission: d.Submission
    as_of: dt.date
    classification: Any
    params: "ParamValues"
    parents: dict[int, Any] = field(default_factory=dict)
    memo: dict[int, Any] = field(default_factory=dict)
    lang: str = "zh"
    visits: int = 0  # records visited (tested, indexed, scanned): what the complexity guard and --timings count

    def __post_init__(self):
        for contract in self.submission.contracts:
            for item in contract.items:
                self.parents[id(item)] = contract
            for duty in contract.duties:
                self.parents[id(duty)] = contract
        for package in self.submission.unit_plan.packages:
            for duty in package.duties:
                self.parents[id(duty)] = package
            for share in package.revenue_sharing:
                self.parents[id(share)] = package


class ParamValues:
    """The parameters in force at `as_of`, and a record of which values the rules used."""

    def __init__(self, params: dict[str, "CompiledParam"], as_of: dt.date):
        self.params = params
        self.as_of = as_of
        self.used: dict[tuple[str, str | None], dict] = {}

    def _in_force(self, name: str):
        param = self.params[name]
        edition = param.edition_at(self.as_of)
        if edition is None:
            return param, Missing(f"parameter {name} has no value in force on {self.as_of}")
        return param, edition

    def scalar(self, name: str):
        param, edition = self._in_force(name)
        if isinstance(edition, Missing):
            return edition
        self._use(param, edition, None)
        return edition.value

    def table(self, name: str, key: str):
        param, edition = self._in_force(name)
        if isinstance(edition, Missing):
            return edition
        value, matched = edition.lookup(str(key))
        if matched is None:
            return Missing(f"{name}[{key}] (no entry for {key})")
        self._use(param, edition, matched)
        return value

    def edition(self, name: str) -> "CompiledEdition | None":
        """The edition of `name` in force on `as_of` (None before the first), recorded as applied: a rule
        whose basis is `source of NAME` cites it."""
        param = self.params.get(name)
        edition = param.edition_at(self.as_of) if param is not None else None
        if edition is not None and not any(slot[0] == name for slot in self.used):
            self._use(param, edition, None, cited_only=True)
        return edition

    def group(self, group):
        """The edition of a dated land-use group in force on `as_of` (None before the first), recorded as applied."""
        slot = ("group:" + group.name, None)
        edition = group.edition_at(self.as_of)
        if slot in self.used:
            return edition
        self.used[slot] = {
            "name": group.name,
            "key": None,
            "kind": "group",
            "value": ", ".join(edition.codes) if edition is not None and edition.codes else "(none)",
            "source": edition.source if edition is not None else group.source,
            "from": edition.valid_from.isoformat() if edition is not None else None,
            "provenance": (edition.provenance if edition is not None else "") or "unstated",
            "provenance_note": "" if edition is not None else f"no edition in force on {self.as_of}: undecided",
            "file": group.defined_in,
        }
        return edition

    def _use(self, param, edition, key, cited_only: bool = False):
        slot = (param.name, key)
        if not cited_only and self.used.get((param.name, None), {}).get("cited_only"):
            del self.used[(param.name, None)]  # the value is read after all: list the value instead
        if slot not in self.used or self.used[slot].get("cited_only"):
            value = edition.value if key is None else edition.table.get(key, edition.otherwise)
            self.used[slot] = {
                "name": param.name,
                "key": key,
                "value": None if cited_only else format_value(value, "en"),
                "source": edition.source,
                "from": edition.valid_from.isoformat(),
                "provenance": edition.provenance or "unstated",
                "provenance_note": edition.provenance_note,
                "file": param.path,
            }
            if cited_only:  # cited as a rule's basis, its value not read
                self.used[slot]["cited_only"] = True


@dataclass
class CompiledEdition:
    valid_from: dt.date
    source: str
    value: Any = None
    text: str = ""  # the source's words, or a paraphrase when `paraphrase`
    paraphrase: bool = False
    provenance: str = ""  # official | secondary | practice ("" = not stated)
    provenance_note: str = ""
    table: dict[str, Any] = field(default_factory=dict)
    codes: bool = False
    otherwise: Any = None
    has_otherwise: bool = False

    def lookup(self, key: str):
        if key in self.table:
            return self.table[key], key
        if self.codes:
            for n in range(len(key) - 1, 1, -1):  # most specific prefix first
                if key[:n] in self.table:
                    return self.table[key[:n]], key[:n]
        if self.has_otherwise:
            return self.otherwise, "otherwise"
        return None, None


@dataclass
class CompiledParam:
    name: str
    title_zh: str
    title_en: str
    type: T
    editions: list[CompiledEdition]
    path: str
    line: int
    is_table: bool

    def edition_at(self, as_of: dt.date) -> CompiledEdition | None:
        return in_force(self.editions, as_of)


# ---- helpers on values ------------------------------------------------------------------------------


PREFILL_MIN = 32  # fewer elements than this: their shared areas one by one cost less than a vectorised pass


def _value_or_none(fn, env):
    try:
        value = fn(env)
    except EvalError:
        return None
    return None if isinstance(value, Missing) else value


def _first_missing(*values):
    for v in values:
        if isinstance(v, Missing):
            return v
    return None


def _first_absent(values, text: str):
    """The first absent element of an aggregate's values (a Missing names its record and field), else None."""
    for v in values:
        if v is None:
            return Missing(f"a value of {text}")
        if isinstance(v, Missing):
            return v
    return None


def _eps(a: float, b: float) -> float:
    return 1e-9 * max(abs(a), abs(b), 1.0)


def _add_years(date: dt.date, years: float) -> dt.date:
    if float(years).is_integer():
        year = date.year + int(years)
        day = min(date.day, calendar.monthrange(year, date.month)[1])
        return date.replace(year=year, day=day)
    return date + dt.timedelta(days=round(years * 365.25))


def _years_between(a: dt.date, b: dt.date) -> float:
    return (a - b).days / 365.25


_AS_THEY_ARE = {str, float, int, bool, type(None), Quantity}


def _plain(value):
    """Enum members compare as their text."""
    if type(value) in _AS_THEY_ARE:  # (the common cases first, without the enum's slow `value` property)
        return value
    if isinstance(value, Enum):
        inner = value._value_
        return inner if isinstance(inner, str) else value
    return value.value if hasattr(value, "value") and not isinstance(value, Quantity) and isinstance(value.value, str) else value


def compare_values(op: str, a, b, tol) -> bool:
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        if a.dim != b.dim:
            raise EvalError(f"cannot compare {a} with {b}: {DIMENSION_NAMES[a.dim]} and {DIMENSION_NAMES[b.dim]}")
        x, y = a.value, b.value
        allow = _eps(x, y)
        if tol is not None:  # float noise on top of the allowance: 1.21 == 1.2 ± 0.01 holds
            if isinstance(tol, Tolerance):
                allow += tol.allowance(x, y)
            elif isinstance(tol, Quantity):
                if tol.dim == "" and tol.unit == "%" and a.dim != "":
                    allow += tol.value * max(abs(x), abs(y))
                else:
                    allow += tol.value
        if op == "==":
            return abs(x - y) <= allow
        if op == "!=":
            return abs(x - y) > allow
        if op == "<=":
            return x <= y + allow
        if op == ">=":
            return x >= y - allow
        if op == "<":
            return x < y - allow if tol is None else x < y + allow
        if op == ">":
            return x > y + allow if tol is None else x > y - allow
    a, b = _plain(a), _plain(b)
    try:
        return PLAIN_OPS[op](a, b)
    except TypeError:
        raise EvalError(f"cannot order {format_value(a)} and {format_value(b)}") from None


# ---- the compiler -------------------------------------------------------------------------------------


@dataclass
class Names:
    """What names a pack may use besides its own variables."""

    params: dict[str, CompiledParam]
    groups: set[str]


class ExprCompiler:
    """Checks one expression in a scope of typed variables and returns (type, closure).

    With `trace`, every non-literal sub-expression records its value into env["$trace"], which is
    how a conflict explains itself (`--explain`)."""

    def __init__(self, names: Names, text: str, trace: bool = False, options: PlanOptions | None = None):
        self.names = names
        self.text = text
        self.trace = trace
        self.options = options if options is not None else current_options()  # how loops are planned
        self.used_vars: set[str] = set()
        self.used_params: set[str] = set()
        # for a rule's loop variable over a collection fixed for the run: that collection, so that a join
        # against the variable can query the index once for all its records
        self.universes: dict[str, Fn] = {}
        self.plans: list[LoopPlan] = []  # how each loop of the rule is enumerated, for `rules validate --plan`

    def source(self, node: ast.Expr) -> str:
        return source_text(self.text, node)

    def type_of(self, node: ast.Expr, scope: dict[str, T]) -> T:
        """The type of an expression, checked (what the planner asks: plan.Typer)."""
        return self.compile(node, scope)[0]

    def compile(self, node: ast.Expr, scope: dict[str, T]) -> tuple[T, Fn]:
        method = getattr(self, "c_" + type(node).__name__)
        t, fn = method(node, scope)
        if isinstance(node, (ast.Comprehension, ast.Quantifier)) and scope and not self.trace \
                and not (free_names(node) & set(scope)):
            # reads nothing of the rule's variables (`union(l for l in control_lines where ...)` in a loop): the
            # same value for every binding, computed once per run
            fn = _once_per_run(fn, id(node))
        if self.trace and not isinstance(node, (ast.Number, ast.String, ast.DateLit, ast.Bool, ast.ListLit)):
            text = self.source(node)
            inner = fn

            def fn(env, inner=inner, text=text):
                value = inner(env)
                trace = env.get("$trace")
                if trace is not None and text not in trace:
                    trace[text] = value
                return value

        return t, fn

    # ---- literals and names ----
    def c_Number(self, node: ast.Number, scope):
        q = Quantity(to_base(node.value, node.unit), dimension(node.unit), node.unit)
        return T("num", q.dim, "%" if node.unit == "%" else None), lambda env: q

    def c_String(self, node, scope):
        value = node.value
        return STR, lambda env: value

    def c_DateLit(self, node, scope):
        value = node.value
        return DATE, lambda env: value

    def c_Bool(self, node, scope):
        value = node.value
        return BOOL, lambda env: value

    def c_ListLit(self, node, scope):
        compiled = [self.compile(item, scope) for item in node.items]
        typed = [t for t, _ in compiled if not (t.kind == "list" and t.arg.kind == "any")]
        elem = typed[0] if typed else (compiled[0][0] if compiled else ANY)
        for t, _ in compiled:
            if not comparable(elem, t):
                raise CheckError(node.span, f"a list mixes {elem} and {t}")
        fns = [fn for _, fn in compiled]
        return list_of(elem), lambda env: [f(env) for f in fns]

    def c_Name(self, node: ast.Name, scope):
        name = node.name
        if name in scope:
            self.used_vars.add(name)
            return scope[name], lambda env: env[name]
        if name in ROOTS:
            return ROOTS[name], _root(name)
        if name in self.names.params:
            self.used_params.add(name)
            param = self.names.params[name]
            if param.is_table:
                return T("table", param.type, "code" if any(e.codes for e in param.editions) else "name"), lambda env: name
            return param.type, lambda env: env[CTX].params.scalar(name)
        if name in self.names.groups and name not in ENUM_VALUES:
            return GROUP, lambda env: name
        if name in ENUM_VALUES:  # also a group (`construction`): `in construction` reads it as the group
            return T("enumlit", tuple(ENUM_VALUES[name]), name), lambda env: name
        kinds = [("variable", list(scope)), ("collection", list(ROOTS)), ("parameter", list(self.names.params)),
                 ("land-use group", sorted(self.names.groups)), ("enumeration value", list(ENUM_VALUES))]
        raise CheckError(node.span, f"unknown name '{name}': no variable, collection, parameter, land-use group or "
                         "enumeration value has this name", _suggest_kind(name, kinds))

    # ---- navigation ----
    def c_Field(self, node: ast.Field, scope):
        obj_t, obj_fn = self.compile(node.obj, scope)
        name = node.name
        span = node.name_span or node.span
        if name.startswith("_"):  # the language reads the bundle's fields, never Python's internals
            raise CheckError(span, f"'{name}' is not a field (names starting with '_' are not readable)")
        declared = getattr(self.names, "extra_fields", {})
        if obj_t.kind == "record":
            return _record_field(obj_t.arg, name, obj_fn, span, declared.get(obj_t.arg))
        if obj_t.kind == "list" and obj_t.arg.kind == "record":
            ft, getter = _record_field(obj_t.arg.arg, name, lambda env: env["$r"], span, declared.get(obj_t.arg.arg))
            flat = ft.kind == "list"
            out_t = list_of(ft.arg) if flat else list_of(ft)

            memo_key = ("flat", id(node))

            def fn(env):
                items = obj_fn(env)
                if isinstance(items, Missing):
                    return items
                ctx = env[CTX]
                cached = ctx.memo.get(memo_key)
                if cached is not None and cached[0] is items:  # the same list as last time: the same answer
                    return cached[1]
                ctx.visits += len(items)
                out = []
                sub = {CTX: ctx}
                for r in items:
                    sub["$r"] = r
                    v = getter(sub)
                    if isinstance(v, Missing) or v is None:
                        continue
                    if flat:
                        out.extend(v)
                    else:
                        out.append(v)
                ctx.memo[memo_key] = (items, out)
                return out

            return out_t, fn
        if obj_t.kind == "dict":

            def fn(env):
                mapping = obj_fn(env)
                if isinstance(mapping, Missing):
                    return mapping
                if name not in mapping:
                    return Missing(f"{name} (not listed)")
                return mapping[name]

            return obj_t.arg, fn
        if obj_t.kind == "any":

            def fn(env):
                rec = obj_fn(env)
                if isinstance(rec, Missing):
                    return rec
                if not is_record(rec) or name not in fields_of(type(rec)):
                    raise EvalError(f"{format_value(rec)} has no field '{name}'")
                value = getattr(rec, name)
                return Missing(f"{name} of {record_id(rec)}") if value is None else value

            return ANY, fn
        raise CheckError(span, f"{self.source(node.obj)} is {obj_t}; it has no field '{name}'")

    def c_Lookup(self, node: ast.Lookup, scope):
        obj_t, obj_fn = self.compile(node.obj, scope)
        key_t, key_fn = self.compile(node.key, scope)
        if obj_t.kind == "table":
            name = obj_fn({})
            if key_t.kind not in ("str", "code", "enum", "enumlit", "any"):
                raise CheckError(node.key.span, f"parameter {name} is looked up by a code or a name, not by {key_t}")

            def fn(env):
                key = key_fn(env)
                if isinstance(key, Missing):
                    return key
                if key is None:
                    return Missing(f"key of {name}")
                return env[CTX].params.table(name, _plain(key))

            return obj_t.arg, fn
        if obj_t.kind == "list" and obj_t.arg.kind == "record" and has_id(obj_t.arg.arg):
            if key_t.kind not in ("str", "code", "any"):
                raise CheckError(node.key.span, f"records are looked up by id (a text), not by {key_t}")
            collection = self.source(node.obj)
            node_key = id(node)

            def fn(env):
                key = key_fn(env)
                if isinstance(key, Missing):
                    return key
                if key is None:
                    return Missing(f"an id to look up in {collection}")
                items = obj_fn(env)
                if isinstance(items, Missing):
                    return items
                index = _id_index(env[CTX], node_key, items)
                found = index.get(str(key))
                return found if found is not None else Missing(f"{collection}[{key}] (no such record)")

            return obj_t.arg, fn
        if obj_t.kind == "dict":

            def fn(env):
                mapping, key = obj_fn(env), key_fn(env)
                missing = _first_missing(mapping, key)
                if missing is not None:
                    return missing
                return mapping.get(str(key), Missing(f"{key} (not listed)"))

            return obj_t.arg, fn
        raise CheckError(node.span, f"{self.source(node.obj)} is {obj_t}; only collections of records, tables of amounts and parameter tables can be looked up with [...]")

    # ---- operators ----
    def c_Compare(self, node: ast.Compare, scope):
        lt, lf = self.compile(node.left, scope)
        rt, rf = self.compile(node.right, scope)
        if not comparable(lt, rt):
            raise CheckError(node.span, f"cannot compare {lt} with {rt}")
        # a percent field (green_min: 30 means 30 %) against a bare number is almost always a forgotten %
        for side, side_t, other in ((node.left, lt, node.right), (node.right, rt, node.left)):
            if side_t.extra == "%" and not isinstance(side, ast.Number) and isinstance(other, ast.Number) and other.unit is None:
                raise CheckError(other.span, f"{self.source(side)} is a percentage; write the number with %",
                                 f"did you mean '{_num_text(other.value)} %'?")
        _check_enum_literal(lt, rt, node.right)
        _check_enum_literal(rt, lt, node.left)
        if node.op not in ("==", "!=") and lt.kind not in ("num", "date", "str", "code", "any"):
            raise CheckError(node.span, f"'{node.op}' needs numbers or dates, not {lt}")
        tf = None
        if node.tolerance is not None:
            tt, tf = self.compile(node.tolerance, scope)
            if tt.kind not in ("num", "tol", "any"):
                raise CheckError(node.tolerance.span, f"a tolerance is a quantity or tolerance(...), not {tt}")
            if tt.kind == "num" and lt.kind == "num" and tt.arg not in ("", None) and lt.arg not in (None, tt.arg):
                raise CheckError(node.tolerance.span, f"a tolerance of {tt} does not fit {lt}")
        op = node.op
        plain_op = PLAIN_OPS[op]

        def fn(env):
            a, b = lf(env), rf(env)
            if tf is None and type(a) is str and type(b) is str:  # ids and codes, the common case, first
                return plain_op(a, b)
            tol = tf(env) if tf is not None else None
            missing = _first_missing(a, b, tol)
            if missing is not None:
                return missing
            if a is None or b is None:
                return Missing(self.source(node.left if a is None else node.right))
            return compare_values(op, a, b, tol)

        return BOOL, fn

    def c_Member(self, node: ast.Member, scope):
        lt, lf = self.compile(node.left, scope)
        rt, rf = self.compile(node.right, scope)
        if node.op == "under":
            if lt.kind not in ("code", "str", "any"):
                raise CheckError(node.left.span, f"'under' needs a land-use code on its left, not {lt}")
            if not (rt.kind in ("code", "str", "any") or (rt.kind == "list" and rt.arg.kind in ("code", "str", "any"))):
                raise CheckError(node.right.span, f"'under' needs a code or a list of codes on its right, not {rt}")

            def fn(env):
                code, prefix = lf(env), rf(env)
                groups = env[CTX].classification.groups
                if type(code) is str and type(prefix) is str and prefix not in groups:
                    return code.startswith(prefix)  # the common case, first
                missing = _first_missing(code, prefix)
                if missing is not None:
                    return missing
                if code is None or prefix is None:
                    return Missing("land-use code")
                prefixes = prefix if isinstance(prefix, list) else [prefix]
                # a class named by a group (a duty's resource "ecological_resource") covers the group's codes
                return any(env[CTX].classification.in_group(str(code), str(p), env[CTX].as_of) if str(p) in groups
                           else str(code).startswith(str(p)) for p in prefixes)

            return BOOL, fn
        negate = node.op == "not in"
        if rt.kind == "enumlit" and rt.extra in self.names.groups:
            rt = GROUP
        if rt.kind == "group":
            if lt.kind not in ("code", "str", "any"):
                raise CheckError(node.left.span, f"membership of a land-use group needs a code, not {lt}")

            def fn(env):
                code, group = lf(env), rf(env)
                if isinstance(code, Missing):
                    return code
                if code is None:
                    return Missing(self.source(node.left))
                classification = env[CTX].classification
                if group not in classification.groups:
                    return Missing(f"land-use group {group}")
                dated = classification.groups[group]
                if dated.editions:  # a dated group: its members on as_of, listed as applied; unknown before
                    if env[CTX].params.group(dated) is None:
                        return Missing(f"land-use group {group} (no edition in force on {env[CTX].as_of})")
                return classification.in_group(str(code), group, env[CTX].as_of) != negate

            return BOOL, fn
        if rt.kind == "list" and rt.arg.kind == "record" and has_id(rt.arg.arg):
            node_key = id(node)

            def fn(env):
                key, items = lf(env), rf(env)
                missing = _first_missing(key, items)
                if missing is not None:
                    return missing
                if key is None:
                    return Missing(self.source(node.left))
                key = record_id(key) if is_record(key) else str(key)
                return (key in _id_index(env[CTX], node_key, items)) != negate

            return BOOL, fn
        if rt.kind == "list":
            if not comparable(lt, rt.arg):
                raise CheckError(node.span, f"cannot look for {lt} in a list of {rt.arg}")
            _check_enum_literal(lt, rt.arg, node.right)
            if isinstance(node.right, ast.ListLit):
                for item in node.right.items:
                    _check_enum_literal(lt, self.compile(item, scope)[0], item)

            def fn(env):
                value, items = lf(env), rf(env)
                missing = _first_missing(value, items)
                if missing is not None:
                    return missing
                if value is None:
                    return Missing(self.source(node.left))
                value = _plain(value)
                env[CTX].visits += len(items)
                if isinstance(value, Quantity):
                    found = any(isinstance(i, Quantity) and compare_values("==", value, i, None) for i in items)
                else:
                    found = any(_plain(i) == value for i in items)
                return found != negate

            return BOOL, fn
        if rt.kind == "any":
            return BOOL, lambda env: Missing("membership")
        raise CheckError(node.right.span, f"'{node.op}' needs a list, a collection or a land-use group on its right, not {rt}")

    def c_BinOp(self, node: ast.BinOp, scope):
        lt, lf = self.compile(node.left, scope)
        rt, rf = self.compile(node.right, scope)
        op = node.op
        if lt.kind == "date" and rt.kind in ("num", "date"):
            dated = self._date_arith(node, lt, rt, lf, rf)
            if dated is not None:
                return dated
        if lt.kind not in ("num", "any") or rt.kind not in ("num", "any"):
            raise CheckError(node.span, f"cannot apply '{op}' to {lt} and {rt}")
        out_t = _arith_type(node, lt, rt)

        def fn(env):
            a, b = lf(env), rf(env)
            missing = _first_missing(a, b)
            if missing is not None:
                return missing
            if a is None or b is None:
                return Missing(self.source(node.left if a is None else node.right))
            return _arith(op, a, b)

        return out_t, fn

    def _date_arith(self, node: ast.BinOp, lt: T, rt: T, lf: Fn, rf: Fn):
        """`date ± years` and `date - date` (in years): (type, closure), else None."""
        op = node.op
        if rt.kind == "num" and op in "+-":
            if rt.arg not in ("time", None):
                raise CheckError(node.right.span, f"a date moves by years, not by {rt}")
            sign = 1 if op == "+" else -1

            def fn(env):
                a, b = lf(env), rf(env)
                missing = _first_missing(a, b)
                if missing is not None:
                    return missing
                if a is None or b is None:
                    return Missing(self.source(node))
                return _add_years(a, sign * b.value)

            return DATE, fn
        if rt.kind == "date" and op == "-":

            def fn(env):
                a, b = lf(env), rf(env)
                missing = _first_missing(a, b)
                if missing is not None:
                    return missing
                return Quantity(_years_between(a, b), "time", "years")

            return num("time"), fn
        return None

    def c_Neg(self, node, scope):
        t, f = self.compile(node.operand, scope)
        if t.kind not in ("num", "any"):
            raise CheckError(node.span, f"cannot negate {t}")

        def fn(env):
            v = f(env)
            return v if isinstance(v, Missing) else Quantity(-v.value, v.dim, v.unit)

        return t, fn

    def c_Convert(self, node: ast.Convert, scope):
        t, f = self.compile(node.operand, scope)
        unit = node.unit
        if t.kind != "num" or (t.arg is not None and t.arg != UNITS[unit][0]):
            raise CheckError(node.span, f"cannot show {t} in {unit}")

        def fn(env):
            v = f(env)
            if isinstance(v, Missing):
                return v
            if v.dim != UNITS[unit][0]:
                raise EvalError(f"cannot show {v} in {unit}")
            return Quantity(v.value, v.dim, unit)

        return t, fn

    def c_Logic(self, node: ast.Logic, scope):
        lt, lf = self.compile(node.left, scope)
        rt, rf = self.compile(node.right, scope)
        for t, side in ((lt, node.left), (rt, node.right)):
            if t.kind not in ("bool", "any"):
                raise CheckError(side.span, f"'{node.op}' needs true/false on both sides, not {t}")
        settles = node.op == "or"  # one false side settles `and`, one true side settles `or`, even if the other is absent

        def fn(env):
            a = lf(env)
            if a is settles:
                return settles
            b = rf(env)
            if b is settles:
                return settles
            m = _first_missing(a, b)
            return (not settles) if m is None else m

        return BOOL, fn

    def c_Not(self, node, scope):
        t, f = self.compile(node.operand, scope)
        if t.kind not in ("bool", "any"):
            raise CheckError(node.span, f"'not' needs true/false, not {t}")

        def fn(env):
            v = f(env)
            return v if isinstance(v, Missing) else not v

        return BOOL, fn

    # ---- functions, quantifiers, aggregates ----
    def c_Call(self, node: ast.Call, scope):
        name = node.func
        if name == "present":
            self._arity(node, 1, 1)
            _, f = self.compile(node.args[0], scope)

            def fn(env):
                v = f(env)
                return not (v is None or isinstance(v, Missing))

            return BOOL, fn
        if name == "known":
            # true when x is there; absent when it is not, so the binding stays undecided: a guard for a document
            # the rule reads (the county scheme) whose absence is neither a pass nor a conflict
            self._arity(node, 1, 1)
            _, f = self.compile(node.args[0], scope)
            what = self.source(node.args[0])

            def fn(env):
                v = f(env)
                if isinstance(v, Missing):
                    return v
                return Missing(what) if v is None else True

            return BOOL, fn
        if name == "default":
            self._arity(node, 2, 2)
            at, af = self.compile(node.args[0], scope)
            bt, bf = self.compile(node.args[1], scope)
            if not comparable(at, bt):
                raise CheckError(node.span, f"default of {at} cannot be {bt}")

            def fn(env):
                v = af(env)
                return bf(env) if v is None or isinstance(v, Missing) else v

            return at, fn
        if name in ("count", "sum", "min", "max") :
            self._arity(node, 1, 1)
            t, f = self.compile(node.args[0], scope)
            if t.kind != "list":
                raise CheckError(node.args[0].span, f"{name}(...) needs a list or a collection, not {t}")
            return self._aggregate(name, node, t.arg, lambda env: f(env))
        builtin = BUILTINS.get(name)
        if builtin is None:
            known = sorted(set(BUILTINS) | set(SPECIAL))
            close = suggest(name, known)
            raise CheckError(node.span, f"unknown function '{name}'",
                             (close + " " if close else "") + f"the functions are {', '.join(known)} (docs/language.md, section 9)")
        self._arity(node, len(builtin.params) - builtin.optional, len(builtin.params))
        arg_types, arg_fns = [], []
        for param_kind, arg in zip(builtin.params, node.args):
            t, f = self.compile(arg, scope)
            if not _accepts(param_kind, t):
                raise CheckError(arg.span, f"{name}(...) expects {_KIND_WORDS[param_kind]} here, not {t}")
            arg_types.append(t)
            arg_fns.append(f)
        result = builtin.result(arg_types) if callable(builtin.result) else builtin.result
        impl = builtin.impl
        geometric = builtin.geometric
        kinds = builtin.params

        if name in UNARY_BULK and len(node.args) == 1 and not self.trace and self.options.pair_conditions:
            var = next((v for v in self.universes if is_var(node.args[0], v)), None)
            if var is not None:
                return result, unary_in_bulk(name, var, self.universes[var], self._general_call(name, impl, kinds, arg_fns, geometric))
        if geometric and kinds[:2] == ("geom", "geom") and len(arg_fns) == 2:
            first_fn, second_fn = arg_fns
            Geometry = shapely.Geometry

            def fn(env):  # the hot path of spatial rules: two geometries, no tolerance
                a, b = first_fn(env), second_fn(env)
                if type(a) is not Geometry and not isinstance(a, Geometry):
                    a = Missing(f"an argument of {name}") if a is None else as_geometry(a)
                    if isinstance(a, Missing):
                        return a
                if type(b) is not Geometry and not isinstance(b, Geometry):
                    b = Missing(f"an argument of {name}") if b is None else as_geometry(b)
                    if isinstance(b, Missing):
                        return b
                return _apply(name, impl, (a, b), True)

            return result, fn

        return result, self._general_call(name, impl, kinds, arg_fns, geometric)

    @staticmethod
    def _general_call(name, impl, kinds, arg_fns, geometric) -> Fn:
        def fn(env):
            values = []
            for kind, f in zip(kinds, arg_fns):
                v = f(env)
                if isinstance(v, Missing):
                    return v
                if v is None:
                    return Missing(f"an argument of {name}")
                if geometric and kind == "geom":
                    v = as_geometry(v)
                    if isinstance(v, Missing):
                        return v
                values.append(v)
            return _apply(name, impl, values, geometric)

        return fn

    def _arity(self, node: ast.Call, low: int, high: int):
        n = len(node.args)
        if not low <= n <= high:
            want = str(low) if low == high else f"{low} to {high}"
            raise CheckError(node.span, f"{node.func}(...) takes {want} argument{'s' if high != 1 else ''}, got {n}")

    def c_Comprehension(self, node: ast.Comprehension, scope):
        if node.func not in AGGREGATES:
            raise CheckError(node.span, f"'{node.func}(... for ...)' is not an aggregate; use one of {', '.join(sorted(AGGREGATES))}")
        iterate, elem_t = self._source(node.source, node.var, node.cond, scope, also=node.element, whole=node)
        inner = dict(scope)
        inner[node.var] = elem_t
        et, ef = self.compile(node.element, inner)

        def values(env):
            out = []
            for sub in iterate(env):
                if isinstance(sub, Missing):
                    return sub
                out.append(ef(sub))
            return out

        paired = self._paired_element(node, scope)
        if paired is not None and not self.trace:
            # `sum(overlap_area(p, unit_plan.boundary) for p in …)`: the shared areas of all the elements with the
            # one other geometry in a vectorised pass first, then the elements as written
            other_fn, var = paired
            # the element is the shared area itself: read from the cache the prefill filled, not called per element
            read_areas = node.element.func == "overlap_area" and len(node.element.args) == 2 \
                and self.options.pair_conditions

            def values(env):
                subs = []
                for sub in iterate(env):
                    if isinstance(sub, Missing):
                        return sub
                    subs.append(sub)
                if len(subs) < PREFILL_MIN and not read_areas:
                    return [ef(sub) for sub in subs]
                other = _value_or_none(other_fn, env)
                other = geom_or_none(other) if isinstance(other, shapely.Geometry) or is_record(other) else None
                if other is None:
                    return [ef(sub) for sub in subs]
                geoms = [geom_or_none(sub[var]) for sub in subs]
                if len(subs) >= PREFILL_MIN and all(g is not None for g in geoms):
                    prefill_pairs(other, np.array(geoms, dtype=object))
                if read_areas:  # as overlap_area gives them (a bulk pass may have computed them before); computed
                    # as written where the run's cache has none
                    return [square_metres(v) if g is not None and v is not None else ef(sub)
                            for g, v, sub in zip(geoms, cached_overlap_areas(other, geoms), subs)]
                return [ef(sub) for sub in subs]

        plan = iterate.plan
        if node.func == "count" and plan is not None and plan.join is not None and not self.trace \
                and isinstance(node.element, ast.Name):
            # `count(p for p in C where p.id == parcel.id)`: the index's own count, without the records (an
            # element that is a name cannot fail, so not evaluating it changes nothing)
            enumerated = values

            def values(env):
                n = plan.count_by_index(env)
                return enumerated(env) if n is None else [None] * n

        elif plan is not None and plan.join is not None and not self.trace and not (free_names(node.element) & set(scope)):
            # `count(x for x in C where x.k == y.k)`: the same values for every outer record of a group
            ungrouped, memo_key = values, ("group", id(node))

            def values(env):
                group = plan.group_key(env)
                if group is None:
                    return ungrouped(env)
                memo = env[CTX].memo.setdefault(memo_key, {})
                if group not in memo:
                    memo[group] = ungrouped(env)
                return memo[group]

        if node.func in ("all", "any"):
            if et.kind not in ("bool", "any"):
                raise CheckError(node.element.span, f"{node.func}(... for ...) needs true/false elements, not {et}")
        return self._aggregate(node.func, node, et, values)

    def _paired_element(self, node: ast.Comprehension, scope):
        """(the other geometry's function, the loop variable) when the element is a pair function of the loop
        variable and a geometry that does not depend on it, else None."""
        element = node.element
        if not (isinstance(element, ast.Call) and element.func in PAIR_FUNCS and len(element.args) >= 2):
            return None
        a, b = element.args[0], element.args[1]
        for mine, other in ((a, b), (b, a)):
            # the other a name or a field of one (`unit_plan.boundary`, `package.boundary`): cheap to read twice
            if is_var(mine, node.var) and node.var not in free_names(other) and all(
                    isinstance(n, (ast.Name, ast.Field)) for n in walk(other)):
                return self.compile(other, scope)[1], node.var
        return None

    def _aggregate(self, func: str, node, elem_t: T, values: Fn):
        # An aggregate never drops a record: an absent element (`village_code of P03`) makes the whole value
        # absent, naming the record and field, so the binding is indeterminate; a rule that means to skip
        # absent values says so in its filter (`… for p in C where present(p.village_code)`).
        text = self.source(node)
        if func == "count":

            def fn(env):
                vs = values(env)
                if isinstance(vs, Missing):
                    return vs
                # (the index's own count gives Nones in place of its records, which are never absent)
                missing = next((v for v in vs if isinstance(v, Missing)), None)
                return missing if missing is not None else Quantity(float(len(vs)), "", None)

            return NUM, fn
        if func in ("list", "distinct"):
            unique = func == "distinct"

            def fn(env):
                vs = values(env)
                if isinstance(vs, Missing):
                    return vs
                missing = _first_absent(vs, text)
                if missing is not None:
                    return missing
                out = list(vs)
                if unique:  # one of each value, in a stable order
                    seen = {}
                    for v in out:
                        seen.setdefault(record_id(v) if is_record(v) else _plain(v), v)
                    out = [seen[k] for k in sorted(seen, key=str)]
                return out

            return list_of(elem_t), fn
        if func == "union":
            if elem_t.kind not in ("geom", "record", "any"):
                raise CheckError(node.span, f"union(...) needs geometries, not {elem_t}")

            def fn(env):
                vs = values(env)
                if isinstance(vs, Missing):
                    return vs
                return union_all(vs)

            return GEOM, fn
        if func in ("all", "any"):
            want = func == "all"

            def fn(env):
                vs = values(env)
                if isinstance(vs, Missing):
                    return vs
                missing = None
                for v in vs:
                    if v is (not want):
                        return not want
                    if isinstance(v, Missing):
                        missing = v
                return want if missing is None else missing

            return BOOL, fn
        if func == "sum":
            if elem_t.kind not in ("num", "any"):
                raise CheckError(node.span, f"sum(...) needs numbers, not {elem_t}")
            dim = elem_t.arg

            def fn(env):
                vs = values(env)
                if isinstance(vs, Missing):
                    return vs
                missing = _first_absent(vs, text)
                if missing is not None:
                    return missing
                if not vs:
                    return Quantity(0.0, dim or "", BASE_UNIT.get(dim or ""))
                first = vs[0]
                if type(first) is Quantity and all(type(v) is Quantity and v.dim == first.dim for v in vs):
                    # what adding them one by one gives (the same order of additions), without a value each time
                    total, unit = first.value, first.unit
                    for v in vs[1:]:
                        total += v.value
                        unit = unit or v.unit
                    return Quantity(total, first.dim, unit)
                out = first
                for v in vs[1:]:
                    out = _arith("+", out, v)
                return out

            return elem_t, fn
        # min / max
        if elem_t.kind not in ("num", "date", "any"):
            raise CheckError(node.span, f"{func}(...) needs numbers or dates, not {elem_t}")

        def fn(env):
            vs = values(env)
            if isinstance(vs, Missing):
                return vs
            missing = _first_absent(vs, text)
            if missing is not None:
                return missing
            if not vs:
                return Missing(f"{func} of nothing")
            key = (lambda v: v.value) if isinstance(vs[0], Quantity) else (lambda v: v)
            return (min if func == "min" else max)(vs, key=key)

        return elem_t, fn

    def c_Quantifier(self, node: ast.Quantifier, scope):
        iterate, elem_t = self._source(node.source, node.var, node.cond, scope, whole=node)
        body_f = None
        if node.body is not None:
            inner = dict(scope)
            inner[node.var] = elem_t
            bt, body_f = self.compile(node.body, inner)
            if bt.kind not in ("bool", "any"):
                raise CheckError(node.body.span, f"'satisfies' needs true/false, not {bt}")
        kind = node.kind

        def fn(env):
            missing = None
            for sub in iterate(env):
                if isinstance(sub, Missing):  # undecided filter: another element may still decide
                    missing = sub
                    continue
                v = body_f(sub) if body_f is not None else True
                if isinstance(v, Missing):
                    missing = v
                    continue
                if kind == "every" and not v:
                    return False
                if kind in ("any", "none") and v:
                    return kind == "any"
            if missing is not None:
                return missing
            return kind in ("every", "none")

        return BOOL, fn

    def _source(self, source: ast.Expr, var: str, cond: ast.Expr | None, scope, also: ast.Expr | None = None,
                whole: ast.Expr | None = None):
        """Iterate `var in source where cond` -> a generator of sub-environments (or a Missing).
        Joins with the outer scope go through an index (the planner's plan, run by joins.Join). `whole`: the comprehension or
        quantifier this is the source of (computed once per run when it reads none of the rule's variables)."""
        st, sf = self.compile(source, scope)
        if st.kind != "list":
            paths = list(ROOTS) + [f"{root}.{f}" for root in ("unit_plan", "detailed_plan") for f in fields_of(ROOTS[root].arg)
                                   if fields_of(ROOTS[root].arg)[f].kind == "list"] + ["contracts.items", "contracts.duties"]
            raise CheckError(source.span, f"{self.source(source)} is {st}; expected a list or a collection",
                             suggest(self.source(source), paths))
        elem_t = st.arg
        inner = dict(scope)
        inner[var] = elem_t
        conditions = self._conditions(cond, inner) if cond is not None else []
        loop = Loop(var, source, cond, inner, scope, also, whole, tuple(self.universes), self.trace)
        loop_plan = plan_loop(loop, self, self.text, self.options)
        plan = Join(loop_plan, self._loop_fns(loop_plan, loop, sf, conditions)) if cond is not None else None
        described = loop_plan.as_dict()
        if all(p.as_dict() != described for p in self.plans):
            self.plans.append(loop_plan)

        def iterate(env):
            if plan is not None:
                yield from plan.candidates(env)
                return
            items = sf(env)
            if isinstance(items, Missing):
                yield items
                return
            env[CTX].visits += len(items)
            for item in items:
                sub = dict(env)
                sub[var] = item
                yield sub

        iterate.plan = plan
        return iterate, elem_t

    def _conditions(self, cond: ast.Expr, scope) -> list[Fn]:
        """Each conjunct of a `where` condition, checked true or false and compiled."""
        out = []
        for part in conjuncts(cond):
            t, f = self.compile(part, scope)
            if t.kind not in ("bool", "any"):
                raise CheckError(part.span, f"a 'where' condition must be true or false, not {t}")
            out.append(f)
        return out

    def _loop_fns(self, plan: LoopPlan, loop: Loop, source_fn: Fn, conditions: list[Fn]) -> LoopFns:
        """The expressions a loop's plan names, compiled: what its executor runs."""
        inner, outer = loop.inner, loop.outer

        def sides(conds):
            return [(self.compile(c.mine, inner)[1], self.compile(c.theirs, outer)[1]) for c in conds]

        fns = LoopFns(source_fn, conditions, text_conds=sides(plan.text_conditions),
                      column_conds=sides(plan.column_conditions),
                      area_tols=[self.compile(c.tolerance, outer)[1] if c.tolerance is not None else None
                                 for c in plan.area_conditions])
        if plan.spatial is not None:
            fns.spatial_other = self.compile(plan.spatial.other, outer)[1]
            fns.universe = self.universes.get(plan.spatial.other_var) if plan.spatial.other_var is not None else None
        if plan.hash_join is not None:
            fns.lookups = [(self.compile(b.mine, inner)[1], self.compile(b.outer, outer)[1]) for b in plan.hash_join.branches]
        return fns


def attach_verdict(join: Join | None, require: ast.Expr, comp: ExprCompiler, scope: dict) -> bool:
    """Give a rule's last loop (its executor, `join`) the rule's requirement to decide in bulk, when its plan can
    (planner.plan_requirement); the plan shown for the loop says so (`rules validate --plan`)."""
    if join is None or join.universe_fn is None:
        return False
    requirement = plan_requirement(join.plan, require, scope, comp, comp.text, comp.options)
    if requirement is None:
        return False
    limit_fn = comp.compile(requirement.limit, scope)[1] if requirement.limit is not None else None
    text_cond = requirement.text_cond
    if text_cond is not None:
        text_cond = TextCond.of(text_cond, comp.compile(text_cond.mine, scope)[1], comp.compile(text_cond.theirs, scope)[1])
    join.verdict = VerdictCond(requirement.op, limit_fn, requirement.text, text_cond)
    join.plan = replace(join.plan, requirement=requirement)
    for n in range(len(comp.plans) - 1, -1, -1):  # the last plan shown in the loop's words
        shown = comp.plans[n]
        if shown.var == join.plan.var and shown.source == join.plan.source:
            comp.plans[n] = replace(shown, requirement=requirement)
            break
    return True


def _apply(name: str, impl, values, repairable: bool):
    """Call a built-in. An invalid geometry (which the GEO rules report) is repaired for measuring."""
    try:
        return impl(*values)
    except shapely.errors.GEOSException as err:
        if not repairable:
            raise EvalError(f"{name}: {err}") from None
    repaired = [shapely.make_valid(v) if isinstance(v, shapely.Geometry) else v for v in values]
    try:
        return impl(*repaired)
    except shapely.errors.GEOSException as err:
        raise EvalError(f"{name}: {err}") from None


_KIND_WORDS = {"geom": "a geometry or a record with one", "tol": "a tolerance (an area or tolerance(...))",
               "num": "a number", "list": "a list or a collection", "code": "a land-use code",
               "dict": "a table of amounts", "date": "a date", "length": "a length (m, km)"}


def _accepts(kind: str, t: T) -> bool:
    if t.kind == "any":
        return True
    if kind == "geom":
        return t.kind == "geom" or (t.kind == "record" and ("geometry" in fields_of(t.arg) or "boundary" in fields_of(t.arg)))
    if kind == "tol":
        return t.kind in ("tol", "num")
    if kind == "num":
        return t.kind == "num"
    if kind == "length":
        return t.kind == "num" and t.arg in ("length", None)
    if kind == "list":
        return t.kind == "list"
    if kind == "code":
        return t.kind in ("code", "str")
    if kind == "dict":
        return t.kind == "dict"
    if kind == "date":
        return t.kind == "date"
    return True


def comparable(a: T, b: T) -> bool:
    if "any" in (a.kind, b.kind):
        return True
    texty = {"str", "code", "enum", "enumlit"}
    if a.kind in texty and b.kind in texty:
        return True
    if a.kind == "num" and b.kind == "num":
        return a.arg is None or b.arg is None or a.arg == b.arg
    if a.kind == "record" and b.kind == "record":
        return True
    if a.kind == "list" and b.kind == "list":
        return comparable(a.arg, b.arg)
    return a.kind == b.kind


def _check_enum_literal(field_t: T, lit_t: T, lit_node) -> None:
    """`award == tendr` is a typo, caught at load: the literal must be a value of the field's enum."""
    if field_t.kind != "enum":
        return
    enum = field_t.arg
    values = [m.value for m in enum]
    if lit_t.kind == "enumlit" and enum not in lit_t.arg or (
        lit_t.kind == "str" and isinstance(lit_node, ast.String) and lit_node.value not in values
    ):
        word = lit_t.extra if lit_t.kind == "enumlit" else lit_node.value
        raise CheckError(lit_node.span, f"'{word}' is not a value of {enum.__name__}; expected one of: {', '.join(values)}",
                         suggest(word, values))


def _arith_type(node: ast.BinOp, lt: T, rt: T) -> T:
    """The type of `left OP right` on numbers: their dimensions added, multiplied or divided (checked)."""
    op, ld, rd = node.op, lt.arg, rt.arg
    if op in "+-":
        if ld is not None and rd is not None and ld != rd:
            raise CheckError(node.span, f"cannot {'add' if op == '+' else 'subtract'} {rt} {'to' if op == '+' else 'from'} {lt}")
        return num(ld if ld is not None else rd)
    if op == "*":
        if ld not in ("", None) and rd not in ("", None) and (ld, rd) not in PRODUCTS:
            raise CheckError(node.span, f"cannot multiply {lt} by {rt}")
        return num(PRODUCTS.get((ld, rd)) or (ld if ld not in ("", None) else rd)) if None not in (ld, rd) else num(None)
    if rd not in ("", None) and ld != rd and (ld, rd) not in QUOTIENTS:
        raise CheckError(node.span, f"cannot divide {lt} by {rt}")
    return num(QUOTIENTS.get((ld, rd)) or ("" if ld == rd else ld)) if None not in (ld, rd) else num(None)


def _arith(op: str, a, b):
    if not isinstance(a, Quantity) or not isinstance(b, Quantity):
        raise EvalError(f"cannot compute {format_value(a)} {op} {format_value(b)}")
    if op in "+-":
        if a.dim != b.dim:
            raise EvalError(f"cannot {'add' if op == '+' else 'subtract'} {b} and {a}")
        return Quantity(a.value + b.value if op == "+" else a.value - b.value, a.dim, a.unit or b.unit)
    if op == "*":
        if a.dim and b.dim:
            product = PRODUCTS.get((a.dim, b.dim))
            if product is None:
                raise EvalError(f"cannot multiply {a} by {b}")
            return Quantity(a.value * b.value, product, BASE_UNIT.get(product))
        dim = a.dim or b.dim
        unit = (a.unit if a.dim else b.unit) if dim else None
        return Quantity(a.value * b.value, dim, unit)
    if b.value == 0:
        raise EvalError(f"division by zero ({a} / {b})")
    if a.dim == b.dim:
        return Quantity(a.value / b.value, "", None)
    if b.dim:
        quotient = QUOTIENTS.get((a.dim, b.dim))
        if quotient is None:
            raise EvalError(f"cannot divide {a} by {b}")
        return Quantity(a.value / b.value, quotient, BASE_UNIT.get(quotient))
    return Quantity(a.value / b.value, a.dim, a.unit)


def _num_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _suggest_kind(word: str, kinds: list[tuple[str, list[str]]]) -> str | None:
    """The nearest name of any kind, saying which kind it is: "did you mean 'max_far'? (a parameter)"."""
    kind_of = {}
    for kind, names in kinds:
        for name in names:
            kind_of.setdefault(name, kind)
    close = difflib.get_close_matches(word, list(kind_of), n=1, cutoff=0.6)
    if not close:
        return None
    kind = kind_of[close[0]]
    return f"did you mean '{close[0]}'? ({'an' if kind[0] in 'aeiou' else 'a'} {kind})"


def suggest(word: str, candidates: list[str]) -> str | None:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def _once_per_run(fn: Fn, key: int) -> Fn:
    memo_key = ("once", key)

    def once(env):
        memo = env[CTX].memo
        if memo_key not in memo:
            memo[memo_key] = fn(env)
        return memo[memo_key]

    return once


def _root(name: str) -> Fn:
    def fn(env):
        ctx = env[CTX]
        if name == "as_of":
            return ctx.as_of
        if name == "submission":
            return ctx.submission.submission
        if name in ("scheme", "county"):
            return _county_root(ctx.submission, name)
        return getattr(ctx.submission, name)

    return fn


def _county_root(submission: d.Submission, name: str):
    """`scheme`: the scheme the unit names, else absent with the reason; `county`: the county of a county check,
    else one without units (rulecheck/model/scheme.py)."""
    from rulecheck.model.scheme import NO_COUNTY, why_no_scheme

    private = submission.__pydantic_private__ or {}
    if name == "county":
        return private.get("_county") or NO_COUNTY
    scheme = private.get("_scheme")
    if scheme is None or isinstance(scheme, str):
        return Missing(scheme or why_no_scheme(submission.unit_plan.county_scheme))
    return scheme


def _id_index(ctx: Context, key: int, items: list) -> dict:
    """{id: record} of a list of records (and, within one contract, its items by right and its duties by duty
    id): built once per list and shared by every rule that looks records up in it."""
    cached = ctx.memo.get(("ids", id(items)))
    if cached is not None and cached[0] is items:
        return cached[1]
    index = {}
    ctx.visits += len(items)
    for item in items:
        index.setdefault(record_id(item), item)
    for item in items:  # within one contract, an item is also found by its right, a duty by its duty id
        alias = getattr(item, "right", None) if isinstance(item, d.ContractItem) else (
            getattr(item, "duty", None) if isinstance(item, d.ContractDuty) else None)
        if alias:
            index.setdefault(alias, item)
    ctx.memo[("ids", id(items))] = (items, index)
    return index


def _declared_field(name: str, t: T, unit: str | None, obj_fn: Fn) -> tuple[T, Fn]:
    """A field a pack declares: read from the record's attributes beyond the contract (a GIS layer's column).
    Absent or empty: the field is absent (indeterminate where it is needed); a value of the wrong kind makes
    the binding undecided, saying so."""

    def fn(env):
        rec = obj_fn(env)
        if isinstance(rec, Missing):
            return rec
        extra = (getattr(rec, "__pydantic_private__", None) or {}).get("_extra") or {}
        v = extra.get(name)
        if v is None or v == "":
            return Missing(f"{name} of {record_id(rec)}")
        try:
            if t.kind == "num":
                if isinstance(v, bool):
                    raise ValueError
                number = float(v)
                if not math.isfinite(number):
                    raise ValueError
                return Quantity(to_base(number, unit), t.arg, unit) if unit else number
            if t.kind == "date":
                return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))
            if t.kind == "bool":
                if not isinstance(v, bool):
                    raise ValueError
                return v
            return str(v)
        except (TypeError, ValueError):
            # there, but not what the pack declared: undecided, never taken as absent (present() is not false)
            raise EvalError(f"{name} of {record_id(rec)} is {v!r}, not {t}") from None

    return t, fn


def _record_field(cls: type, name: str, obj_fn: Fn, span: ast.Span, declared: dict | None = None) -> tuple[T, Fn]:
    fields = fields_of(cls)
    if name not in fields and declared and name in declared:
        t, unit, _, _ = declared[name]
        return _declared_field(name, t, unit, obj_fn)
    if name not in fields:
        raise CheckError(span, f"{cls.__name__} records have no field '{name}'",
                         suggest(name, list(fields) + list(declared or {})))
    ft = fields[name]
    what = name

    def missing(rec):
        return Missing(what, rec)

    if (cls, name) in PARENT_FIELDS:

        def fn(env):
            rec = obj_fn(env)
            if isinstance(rec, Missing):
                return rec
            parent = env[CTX].parents.get(id(rec))
            return parent if parent is not None else missing(rec)

        return ft, fn
    if ft.kind == "num":
        from rulecheck.dsl.schema import DYNAMIC_UNIT_FIELDS, FIELD_UNITS

        if (cls, name) in DYNAMIC_UNIT_FIELDS:

            def fn(env):
                rec = obj_fn(env)
                if isinstance(rec, Missing):
                    return rec
                v = getattr(rec, name)
                if v is None:
                    return missing(rec)
                unit = getattr(rec, "unit", None)
                unit = unit.value if unit is not None else None
                if unit is None:
                    return Missing(f"unit of {record_id(rec)}")
                if unit not in UNITS:  # a resource in m3 or t: no unit the language measures in
                    return Missing(f"{name} of {record_id(rec)} in {unit}")
                return Quantity(to_base(v, unit), dimension(unit), unit)

            return ft, fn
        unit = FIELD_UNITS.get(name)
        if name in ("costs", "revenues"):
            unit = "wan_yuan"
        dim = dimension(unit)

        def fn(env):
            rec = obj_fn(env)
            if isinstance(rec, Missing):
                return rec
            v = getattr(rec, name)
            if v is None:
                return missing(rec)
            return Quantity(to_base(v, unit), dim, unit)

        return ft, fn
    if ft.kind == "dict":

        def fn(env):
            rec = obj_fn(env)
            if isinstance(rec, Missing):
                return rec
            v = getattr(rec, name)
            if v is None:
                return missing(rec)
            if ft.arg.arg == "":  # a table of plain numbers (PLAIN_TABLE_FIELDS)
                return {str(k): Quantity(float(x), "", None) for k, x in v.items()}
            return {k: Quantity(float(x), "money", "wan_yuan") for k, x in v.items()}

        return ft, fn
    def fn(env):
        rec = obj_fn(env)
        if isinstance(rec, Missing):
            return rec
        v = getattr(rec, name)
        return missing(rec) if v is None else v

    return ft, fn


