"""The `with`/`without` patches of the rule tests: which paths and values the documents' contract admits
(checked when a pack loads) and how one is applied to a loaded submission."""

from __future__ import annotations

import functools

import shapely
from pydantic import TypeAdapter

from rulecheck.dsl import ast
from rulecheck.dsl.schema import FIELD_UNITS
from rulecheck.dsl.units import UNITS, Quantity
from rulecheck.dsl.values import record_id


class PatchError(Exception):
    pass


# ---- patch paths: only the contract's fields ------------------------------------------------------

_ROOTS = {"submission": "SubmissionInfo", "unit_plan": "UnitPlan", "detailed_plan": "DetailedPlan", "contracts": "list[Contract]"}


def _root_type(root: str):
    from rulecheck.model import documents

    if root == "contracts":
        return list[documents.Contract]
    return getattr(documents, _ROOTS[root]) if root in _ROOTS else None


def _unwrap(annotation):
    """`X | None` -> X (the first non-None member of a union)."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(members[0]) if members else annotation
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation


def check_patch_path(patch: ast.Patch, declared: dict | None = None) -> str | None:
    """Why a `with` patch names no field of the contract (a message), or None when it does (`patch_problem`)."""
    problem = patch_problem(patch, declared)
    return problem[0] if problem else None


def patch_problem(patch: ast.Patch, declared: dict | None = None) -> tuple[str, ast.Span] | None:
    """Why a `with` patch cannot apply, and where (the step or the value at fault), or None when it can.

    Walks the documents' models: a field step must name a model field, a field a pack declares for that record
    (`declared`: {record class: {name: (T, unit, declaration, where)}}) or a finance item under costs or
    revenues; an id step must follow a list of records. Nothing else (no `__class__`, no method) is reachable.
    The value is then checked as the loader would check it (units, enumerations, land-use codes, the type a
    declared field was given)."""
    import typing

    from pydantic import BaseModel

    current = _root_type(patch.root)
    if current is None:
        return f"a patch starts at submission, unit_plan, detailed_plan or contracts, not {patch.root}", patch.span
    for i, step in enumerate(patch.path):
        at = step.span if step.span.line else patch.span
        current = _unwrap(current)
        origin = typing.get_origin(current)
        if step.kind == "field":
            if origin is dict:
                current = typing.get_args(current)[1]
                continue
            if not (isinstance(current, type) and issubclass(current, BaseModel)):
                return f"'.{step.name}' follows something that has no fields", at
            own = (declared or {}).get(current, {})
            if step.name not in current.model_fields and step.name in own:
                if i != len(patch.path) - 1:
                    return f"'.{step.name}' is a declared field: nothing follows it", at
                t, unit, _, where = own[step.name]
                problem = _declared_value_problem(patch, t, unit, where)
                return (problem, _value_span(patch)) if problem else None
            if step.name not in current.model_fields:
                import difflib

                names = list(current.model_fields) + sorted(own)
                close = difflib.get_close_matches(step.name, names, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f"; its fields: {', '.join(names)}"
                return f"{current.__name__} has no field '{step.name}'{hint}", at
            current = current.model_fields[step.name].annotation
        else:
            if origin is not list:
                return f"[{step.name}] needs a list of records before it", at
            current = typing.get_args(current)[0]
    problem = _check_patch_value(patch)
    return (problem, _value_span(patch)) if problem else None


def _value_span(patch: ast.Patch) -> ast.Span:
    span = getattr(patch.value, "span", None)
    return span if span is not None and span.line else patch.span


def _declared_value_problem(patch: ast.Patch, t, unit: str | None, where: str) -> str | None:
    """Why a `with` value does not fit the type its pack declared for the field (`field …: number wan_yuan`)."""
    if patch.kind != "set":
        return None
    try:
        _declared_value(_literal(patch.value), t, unit)
    except PatchError as err:
        return f"{patch.text()}: {err} (declared in {where})"
    return None


def _in_unit(value: Quantity, unit: str | None, what: str):
    """A quantity as a field in `unit` stores it (a plain number where the field has no unit), or a PatchError
    naming `what` when the dimensions differ."""
    if unit is None:
        if value.dim:
            raise PatchError(f"{what} is a plain number, not {value}")
        return value.shown() if value.unit else value.value
    if UNITS[unit][0] != value.dim:
        raise PatchError(f"{what} is in {unit}, not {value}")
    return value.shown(unit)


def _declared_value(value, t, unit: str | None):
    """A literal as a declared field holds it among the record's attributes beyond the contract (as a layer's
    column would: a number in the declared unit)."""
    import datetime as dt

    kind = t.kind
    if kind == "num":
        if isinstance(value, Quantity):
            return _in_unit(value, unit, "the field")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if unit is not None and unit != "%":
                raise PatchError(f"the field is in {unit}: write the unit, e.g. {value:g} {unit}")
            return value
        raise PatchError(f"the field is a number{' in ' + unit if unit else ''}, not {value!r}")
    if kind in ("str", "code"):
        if not isinstance(value, str):
            raise PatchError(f"the field is a {'code' if kind == 'code' else 'text'}: write it in quotes, not {value!r}")
        return value
    if kind == "date":
        if not isinstance(value, dt.date):
            raise PatchError(f"the field is a date (2026-03-01), not {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise PatchError(f"the field is true or false, not {value!r}")
        return value
    return value


def _check_patch_value(patch: ast.Patch) -> str | None:
    """Why a `with` value cannot go into its field (a unit of another dimension, a text for a number, a name
    that is no value of the field's enumeration, bad WKT), found at validate as `rules test` would find it."""
    import typing

    from pydantic import BaseModel

    if patch.kind != "set" or not patch.path or patch.path[-1].kind != "field":
        return None
    owner = _root_type(patch.root)
    for step in patch.path[:-1]:
        owner = _unwrap(owner)
        if typing.get_origin(owner) is list:
            owner = typing.get_args(owner)[0]
        elif step.kind == "field" and isinstance(owner, type) and issubclass(owner, BaseModel):
            owner = owner.model_fields[step.name].annotation
        else:
            return None  # a table of amounts (costs, revenues): any amount
    owner = _unwrap(owner)
    name = patch.path[-1].name
    if not (isinstance(owner, type) and issubclass(owner, BaseModel)) or name == "quantity":
        return None  # a duty's quantity is in the unit the record gives: known only when it runs
    try:
        value = _literal(patch.value)
        _convert(_blank(owner), name, value)
        _check_code(name, value)
    except PatchError as err:
        return f"{patch.text()}: {err}"
    return None


def _check_code(name: str, value) -> None:
    """A land-use code (a record's land_use, a duty's resource written as digits) of the classification, as the
    loader checks it: `with … land_use = "1010"` is refused, with the nearest code."""
    if not isinstance(value, str) or not (name == "land_use" or (name == "resource" and value.isdigit())):
        return
    from rulecheck.model.landuse import load_classification

    classification = load_classification()
    if not classification.is_known(value):
        close = classification.suggest(value)
        raise PatchError(f"unknown land-use code {value!r}" + (f"; did you mean '{close}'?" if close else ""))


def _match(record, key: str) -> bool:
    if record_id(record) == key:
        return True
    for alias in ("right", "parcel", "duty"):
        if getattr(record, alias, None) == key and not hasattr(record, "geometry"):
            return True
    return False


def _literal(expr: ast.Expr):
    if isinstance(expr, ast.Number):
        return Quantity.of(expr.value, expr.unit) if expr.unit else expr.value
    if isinstance(expr, (ast.String, ast.DateLit, ast.Bool)):
        return expr.value
    if isinstance(expr, ast.Name):
        return expr.name  # an enum value
    if isinstance(expr, ast.ListLit):
        return [_literal(i) for i in expr.items]
    if isinstance(expr, ast.Neg):
        inner = _literal(expr.operand)
        if isinstance(inner, Quantity):
            return Quantity(-inner.value, inner.dim, inner.unit)
        return -inner
    raise PatchError("a patch value must be a literal (number, text, date, true/false, list or WKT text)")


def _convert(owner, name: str, value):
    """A literal as the field of `owner` stores it (m², percent, years; enums and dates validated)."""
    if name in ("geometry", "boundary"):
        if not isinstance(value, str):
            raise PatchError(f"{name} is set with a WKT text")
        try:
            return shapely.from_wkt(value)
        except shapely.errors.GEOSException as err:
            raise PatchError(f"bad WKT: {err}") from None
    if isinstance(value, Quantity):
        unit = FIELD_UNITS.get(name)
        if name == "quantity":
            unit = getattr(owner, "unit", None)
            unit = unit.value if unit is not None else None
        return _in_unit(value, unit, name)
    fields = type(owner).model_fields
    if name in fields:
        try:
            return _field_adapter(type(owner), name).validate_python(value)
        except Exception as err:  # pydantic's ValidationError: say what the field wanted
            errors = err.errors() if hasattr(err, "errors") else []
            said = errors[0]["msg"] if errors else str(err).splitlines()[-1].strip()
            raise PatchError(f"{name} cannot be {value!r}: {said}") from None
    return value


@functools.lru_cache(maxsize=None)
def _field_adapter(cls: type, name: str) -> TypeAdapter:
    """The validator of one model field (building one costs more than using it: every pack's tests ask again)."""
    return TypeAdapter(cls.model_fields[name].annotation)


@functools.lru_cache(maxsize=None)
def _blank(cls: type):
    """A record of `cls` with no field set, standing for the patched record when a patch is checked (read only)."""
    return cls.model_construct()


class MissingRecord(PatchError):
    """A `with` names a record the given submission does not have: said once, with the ids it does have."""


def apply_patch(submission, patch: ast.Patch, declared: dict | None = None) -> None:
    """Apply one `with`/`without` to the loaded submission; `declared`: the fields the packs declare, by record
    class (set among the record's attributes beyond the contract, where a GIS layer's column would be)."""
    if patch.root not in ("submission", "unit_plan", "detailed_plan", "contracts"):
        raise PatchError(f"a patch starts at submission, unit_plan, detailed_plan or contracts, not {patch.root}")
    node = submission.submission if patch.root == "submission" else getattr(submission, patch.root)
    steps = list(patch.path)
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        if step.kind == "field" and isinstance(node, dict):  # finance costs and revenues, by item
            node, done = _patch_amount(node, step, patch, last)
        elif step.kind == "field":
            node, done = _patch_field(node, step, patch, last, declared)
        else:
            node, done = _patch_record(node, step, patch, steps[:i], last)
        if done:
            return
    raise PatchError(f"'{patch.text()}' does not end at a field (to set) or a record (to remove)")


def _patch_amount(node: dict, step, patch: ast.Patch, last: bool):
    """A step into a table of amounts: (the next node, whether the patch is done)."""
    if last and patch.kind == "set":
        value = _literal(patch.value)
        node[step.name] = value.shown("wan_yuan") if isinstance(value, Quantity) else float(value)
        return node, True
    if last and patch.kind == "remove":
        node.pop(step.name, None)
        return node, True
    return node.get(step.name), False


def _patch_declared(node, step, patch: ast.Patch, own: dict) -> None:
    """Set or remove a field a pack declares, among the record's attributes beyond the contract."""
    private = node.__pydantic_private__
    extra = dict(private.get("_extra") or {})  # a copy: the cached fixture's records share theirs
    if patch.kind == "set":
        t, unit, _, _ = own[step.name]
        extra[step.name] = _declared_value(_literal(patch.value), t, unit)
    else:
        extra.pop(step.name, None)
    private["_extra"] = extra


def _patch_field(node, step, patch: ast.Patch, last: bool, declared: dict | None):
    """A step into a field of a record: (the next node, whether the patch is done)."""
    own = (declared or {}).get(type(node), {})
    if last and step.name in own and step.name not in type(node).model_fields:
        _patch_declared(node, step, patch, own)
        return node, True
    if step.name not in getattr(type(node), "model_fields", {}):  # only the contract's fields, never an attribute
        raise PatchError(f"{type(node).__name__} has no field '{step.name}'")
    if last and patch.kind == "set":
        value = _literal(patch.value)
        _check_code(step.name, value)
        setattr(node, step.name, _convert(node, step.name, value))
        return node, True
    if last and patch.kind == "remove":  # the field becomes absent (its default)
        if step.name not in type(node).model_fields:
            raise PatchError(f"{type(node).__name__} has no field '{step.name}'")
        info = type(node).model_fields[step.name]
        setattr(node, step.name, info.get_default(call_default_factory=True))
        return node, True
    if not hasattr(node, step.name):
        raise PatchError(f"{type(node).__name__} has no field '{step.name}'")
    return getattr(node, step.name), False


def _patch_record(node, step, patch: ast.Patch, before: list, last: bool):
    """A step to a record of a list, by id: (the record, whether the patch is done)."""
    if not isinstance(node, list):
        raise PatchError(f"[{step.name}] needs a list of records before it")
    found = [r for r in node if _match(r, step.name)]
    if not found:
        import difflib

        ids = sorted({str(record_id(r)) for r in node if record_id(r) is not None})
        where = patch.root + "".join(f".{s.name}" if s.kind == "field" else f"[{s.name}]" for s in before)
        close = difflib.get_close_matches(step.name, ids, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        shown = ", ".join(ids[:12]) + (f" … ({len(ids)} in all)" if len(ids) > 12 else "")
        raise MissingRecord(f"no record '{step.name}' in {where}{hint} (its ids: {shown or 'none'})")
    if last and patch.kind == "remove":
        node.remove(found[0])
        return node, True
    return found[0], False
