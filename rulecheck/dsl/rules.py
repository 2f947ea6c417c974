"""Rule packs: load and check them, compile every rule once, and run the compiled rules over a submission."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import hashlib
import json
import re
import weakref
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import shapely

from rulecheck.citations import not_yet_in_force
from rulecheck.diagnostics import Diagnostic, InputError
from rulecheck.dsl import ast
from rulecheck.dsl.compiler import (
    CTX, CheckError, CompiledEdition, CompiledParam, Context, ExprCompiler, Names, _comparable, _geom_or_none, _suggest,
    free_names,
)
from rulecheck.dsl.cache import parse_file_cached
from rulecheck.dsl.parallel import COSTLY_CHUNK, geos_map
from rulecheck.dsl.patches import patch_problem  # a misspelt patch field is found at load, not at `rules test`
from rulecheck.dsl.planner import Passed, attach_verdict
from rulecheck.dsl.schema import COLLECTION_OF, ENUM_VALUES, T, has_id
from rulecheck.dsl.values import EvalError, Missing, format_value, is_record, record_id

FAMILY_ORDER = ["GEO", "REF", "LAY", "IND", "DUT", "SUP", "FIN", "DOC", "CTY"]
SEVERITIES = ("error", "warning", "info")


def default_rule_paths() -> list[Path]:
    """The built-in packs: `rules/` beside the package (source checkout or editable install)."""
    here = Path(__file__).resolve().parents[2] / "rules"
    if not here.is_dir():
        here = Path(__file__).resolve().parents[1] / "packs"
    return [here]


def rule_files(paths: list[str | Path], builtin: bool = False) -> tuple[list[tuple[Path, str]], list[Diagnostic]]:
    files, diags = [], []
    display = _builtin_name if builtin else _display
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(path.rglob("*.rule"))
            # province override examples are passed with --params, never loaded by default
            found = [f for f in found if "provinces" not in f.relative_to(path).parts]
            files.extend((f, display(f)) for f in found)
        elif path.exists():
            files.append((path, display(path)))
        else:
            diags.append(Diagnostic(str(p), "no such rule file or folder"))
    return files, diags


def _builtin_name(path: Path) -> str:
    """A shipped pack is named by the package, never by where it is installed: `rulecheck:sup.rule`."""
    return "rulecheck:" + path.resolve().relative_to(default_rule_paths()[0].resolve()).as_posix()


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# ---- compiled rules ------------------------------------------------------------------------------------


# how a conflict resting on a figure of provenance `unverified` is marked, in each report language
UNVERIFIED_MARK = {"zh": "〔数值待核〕", "en": "[figure unverified] "}


@dataclass
class CompiledRule:
    rule: ast.Rule
    path: str
    text: str
    steps: list  # (kind, var, fn-or-iterate, type)
    require: Any
    at: Any
    messages: dict[str, list]  # lang -> parts (str | (expr_text, fn))
    expected: dict[str, list] | None  # lang -> template parts
    actual: dict[str, list] | None
    subject_vars: list[str]
    names: Names
    params_used: tuple[str, ...] = ()
    traced_require: Any = None  # compiled on the first conflict asked to explain itself
    operand_fns: Any = None  # on the first conflict: the require's text, or a comparison's left text and sides
    plans: list = field(default_factory=list)  # how each loop is enumerated (planner), for `rules validate --plan`
    severity_fn: Any = None  # `severity A when COND else B`: COND compiled in the rule's scope

    def severity_of(self, env: dict) -> str:
        """The severity of a conflict: the rule's, or chosen by its condition on this binding. A condition that
        cannot be decided gives the graver of the two: an undecided condition never lowers a conflict."""
        r = self.rule
        if self.severity_fn is None or r.severity_else is None:
            return r.severity
        try:
            verdict = self.severity_fn(env)
        except EvalError:
            verdict = None
        if isinstance(verdict, bool):
            return r.severity if verdict else r.severity_else
        return min((r.severity, r.severity_else), key=SEVERITIES.index)

    def _scope(self) -> dict[str, T]:
        return {var: t for _, var, _, t in self.steps if var}

    @property
    def id(self) -> str:
        return self.rule.id

    def source_text(self) -> str:
        """The rule as written in its pack: from its `rule` line to the next declaration (its tests excluded),
        without the blank and comment lines that trail it."""
        from rulecheck.dsl.parser import DECL_START

        lines = self.text.splitlines()
        start = max(self.rule.span.line - 1, 0)
        end = start + 1
        while end < len(lines) and not DECL_START.match(lines[end]):
            end += 1
        body = lines[start:end]
        while body and (not body[-1].strip() or body[-1].lstrip().startswith("#")):
            body.pop()
        return "\n".join(body) + "\n"

    @property
    def family(self) -> str:
        return self.rule.family

    def applies(self, as_of: dt.date) -> bool:
        r = self.rule
        return (r.applies_from is None or r.applies_from <= as_of) and (r.applies_until is None or as_of <= r.applies_until)

    def not_in_force(self, ctx: Context) -> dict | None:
        """Why the rule is no law on the run's `as_of` although its `applies` allows it: its basis (for `basis
        source of PARAM`, the edition in force) cites a text of the register that had not yet taken effect
        (`text`, `commenced`). None when its basis was law that day, or names no registered text. (No conflict
        ever cites a text not yet in force. Before a parameter's first edition the rule runs, and what needs the
        figure is undecided: nothing is known of the law then, not that there was none.)"""
        memo_key = ("not-in-force", id(self))
        if memo_key in ctx.memo:
            return ctx.memo[memo_key]
        # the edition by date (not through ctx.params, which would list it among the parameters applied)
        basis = self.basis_at(ctx.as_of, None, ctx.classification)
        # a text whose commencement the register does not know (or that it does not have) stops nothing
        late = [c for c in not_yet_in_force(basis.get("citation", ""), ctx.as_of) if c.date is not None]
        last = max(late, key=lambda c: c.date) if late else None
        found = None if last is None else {
            "text": f"《{last.title}》" + (f"（{last.version}）" if last.version else ""), "commenced": last.date.isoformat()}
        ctx.memo[memo_key] = found
        return found

    def basis_at(self, as_of: dt.date | None = None, params=None, classification=None) -> dict:
        """The rule's basis: its own, or for `basis source of NAME` the source and words of the edition of the
        parameter (or dated land-use group) NAME in force on `as_of` (`params`: the run's ParamValues, which
        records the edition as applied; `classification`: the run's, for a group). Without a date, every
        edition, each with the date from which it applies."""
        r = self.rule
        if r.basis_param is None:
            return {"citation": r.basis, "text": r.basis_text, "paraphrase": r.basis_paraphrase}
        name = r.basis_param
        param = self.names.params.get(name)
        groups = getattr(classification or getattr(self.names, "classification", None), "groups", {})
        group = groups.get(name) if param is None else None
        editions = param.editions if param is not None else (group.editions if group is not None else ())
        if as_of is None:
            return {"citation": "；".join(f"{e.valid_from.isoformat()} 起：{e.source}" for e in editions),
                    "text": "", "paraphrase": False, "param": name,
                    "editions": [{"from": e.valid_from.isoformat(), "citation": e.source, "text": e.text,
                                  "paraphrase": e.paraphrase, "provenance": e.provenance or "unstated"}
                                 for e in editions]}
        if params is not None:
            edition = params.edition(name) if param is not None else (params.group(group) if group is not None else None)
        else:
            edition = next((e for e in reversed(editions) if e.valid_from <= as_of), None)
        if edition is None:
            return {"citation": "", "text": "", "paraphrase": False, "param": name, "from": None}
        return {"citation": edition.source, "text": edition.text, "paraphrase": edition.paraphrase,
                "param": name, "from": edition.valid_from.isoformat(),
                "provenance": edition.provenance or "unstated"}

    def catalog(self, as_of: dt.date | None = None) -> dict:
        r = self.rule
        return {
            "id": r.id,
            "family": r.family,
            "severity": r.severity,
            **({"severity_otherwise": r.severity_else} if r.severity_else else {}),
            "title": {"zh": r.title_zh, "en": r.title_en},
            "basis": self.basis_at(as_of),
            "tags": list(r.tags),
            "waivable": r.waivable,
            "applies": {"from": r.applies_from.isoformat() if r.applies_from else None,
                        "until": r.applies_until.isoformat() if r.applies_until else None},
            "source": {"path": self.path, "line": r.span.line},
            "params": list(self.params_used),
        }

    # ---- evaluation ----
    def bindings(self, env: dict, i: int = 0) -> Iterator[tuple[str, dict, Any]]:
        """Every binding of the rule's variables that passes its filters: ('ok', env, None), or
        ('indeterminate', env, Missing) where a filter could not be decided, or ('passed', env, n) for n bindings
        of the last loop whose requirement the plan decided holds (counted, not bound)."""
        if i == len(self.steps):
            yield "ok", env, None
            return
        kind, var, fn, _ = self.steps[i]
        if kind == "for":
            last = i + 1 == len(self.steps)  # each binding is yielded here, without a generator per binding
            for sub in fn(env):
                if type(sub) is Passed:  # the last loop decided the requirement of these bindings in bulk: it holds
                    yield "passed", env, sub.n
                    continue
                if isinstance(sub, Missing):
                    yield "indeterminate", env, sub
                    continue
                if last:
                    yield "ok", sub, None
                else:
                    yield from self.bindings(sub, i + 1)
        elif kind == "let":
            sub = dict(env)
            try:
                sub[var] = fn(env)
            except EvalError as err:
                yield "indeterminate", env, Missing(str(err))
                return
            yield from self.bindings(sub, i + 1)
        else:
            try:
                verdict = fn(env)
            except EvalError as err:
                yield "indeterminate", env, Missing(str(err))
                return
            if isinstance(verdict, Missing):
                yield "indeterminate", env, verdict
            elif verdict:
                yield from self.bindings(env, i + 1)

    def run(self, ctx: Context, explain: bool = False) -> "RuleResult":
        result = RuleResult(self)
        if not self.applies(ctx.as_of):
            result.status = "not_applicable"
            return result
        late = self.not_in_force(ctx)
        if late is not None:  # its law had not yet taken effect: not applicable, and says why
            result.status = "not_applicable"
            result.not_in_force = late
            return result
        env = {CTX: ctx}
        for state, binding, missing in self.bindings(env):
            if state == "passed":  # `missing` holds how many
                result.checked += missing
                continue
            result.checked += 1
            if state == "indeterminate":
                result.indeterminate.append(self._indeterminate(binding, missing, ctx))
                continue
            try:
                verdict = self.require(binding)
            except EvalError as err:
                verdict = Missing(str(err))
            if isinstance(verdict, Missing):
                result.indeterminate.append(self._indeterminate(binding, verdict, ctx))
            elif not verdict:
                result.conflicts.append(self._conflict(binding, ctx, explain))
        _as_geojson(result.conflicts, ctx.memo.setdefault(_PLACES_MADE, {}))
        if result.conflicts:
            result.status = "fail"
        elif result.indeterminate:
            result.status = "indeterminate"
        elif result.checked:
            result.status = "pass"
        else:
            result.status = "not_applicable"
        return result

    def _subjects(self, env: dict) -> list[dict]:
        out, seen = [], set()
        for var in self.subject_vars:
            value = env.get(var)
            for rec in (value if isinstance(value, list) else (value,)):
                cls = type(rec)
                record = _RECORD_CLASSES.get(cls)
                if record is None:  # a record: not absent, not Missing, a model (is_record), asked once per class
                    record = _RECORD_CLASSES[cls] = is_record(rec)
                if not record:
                    continue
                collection = COLLECTION_OF.get(cls)
                if collection is None:
                    collection = cls.__name__.lower()
                ident = record_id(rec)
                key = (collection, ident)
                if key in seen:
                    continue
                seen.add(key)
                src = getattr(rec, "source", None)
                out.append({"collection": collection, "id": ident,
                            "source": {"path": src.path, "line": src.line} if src else None})
        return out

    def _indeterminate(self, env, missing: Missing, ctx) -> dict:
        return {"rule": self.id, "subjects": self._subjects(env), "missing": missing.what}

    def _render(self, parts, env, lang: str, seen: dict | None = None) -> str:
        """A template filled in for a binding; `seen` keeps each expression's value by its key (_compile_rule), so the
        Chinese and English messages (and expected/actual) of one conflict evaluate a placeholder once."""
        if seen is None:
            seen = {}
        out = []
        for part in parts:
            if part.__class__ is not tuple:  # the template's own text (compile_template makes each expression a tuple)
                out.append(part)
                continue
            source, fn, kind = part
            value = seen.get(source, _UNSEEN)
            if value is _UNSEEN:
                try:
                    value = fn(env)
                except EvalError as err:
                    value = Missing(str(err))
                seen[source] = value
            text = format_value(value, lang)
            if kind == "code" and isinstance(value, str):  # a land-use code is shown with its class name
                try:
                    name = env[CTX].classification.name(value, lang)
                    text = f"{value}（{name}）" if lang == "zh" else f"{value} ({name})"
                except KeyError:
                    pass
            out.append(text)
        return "".join(out)

    def _conflict(self, env: dict, ctx: Context, explain: bool) -> dict:
        r = self.rule
        seen: dict = {}
        messages = {lang: self._render(parts, env, lang, seen) for lang, parts in self.messages.items()}
        expected, actual = self._expected_actual(env, ctx.lang, seen)
        geometry = None
        try:  # where the conflict is: the `at` clause, else the geometry of the first subject that has one
            places = ([self.at(env)] if self.at is not None
                      else [getattr(env.get(var), "geometry", None) for var in self.subject_vars])
        except EvalError:
            places = []
        for place in places:
            geom_value = _geom_or_none(place)
            if geom_value is not None:
                if not geom_value.is_empty:
                    geometry = geom_value  # made GeoJSON with the rule's other conflicts (_as_geojson)
                break
        severity = r.severity if self.severity_fn is None else self.severity_of(env)
        unverified = self._unverified(ctx)
        if unverified:
            # a figure nobody could check against a text: the conflict says so in every format and does not block
            # on its own (at most a warning); a province pack supplying the figure with better provenance lifts it
            messages = {lang: UNVERIFIED_MARK.get(lang, UNVERIFIED_MARK["en"]) + text for lang, text in messages.items()}
            if severity == "error":
                severity = "warning"
        conflict = {
            "rule": r.id,
            "family": r.family,
            "severity": severity,
            "title": r.title_zh if ctx.lang == "zh" else r.title_en,
            "message": messages[ctx.lang],
            "basis": self._basis_line(ctx),
            "titles": {"zh": r.title_zh, "en": r.title_en},
            "messages": messages,
            "subjects": self._subjects(env),
            "expected": expected,
            "actual": actual,
            "geometry": geometry,
            "explanation": self._explain(env, ctx.lang) if explain else [],
            "waiver": None,
        }
        if unverified:
            conflict["unverified"] = True
            conflict["unverified_params"] = list(unverified)
            conflict["severity_written"] = r.severity
        return conflict

    def _unverified(self, ctx: Context) -> tuple[str, ...]:
        """The parameters and dated groups this rule reads or cites whose edition in force on as_of has provenance
        `unverified`, the same for every conflict of the rule in a run: found once."""
        memo_key = ("unverified", id(self))
        found = ctx.memo.get(memo_key)
        if found is None:
            names = dict.fromkeys((*self.params_used, *((self.rule.basis_param,) if self.rule.basis_param else ())))
            groups = getattr(ctx.classification, "groups", {}) or {}
            out = []
            for name in names:
                param = ctx.params.params.get(name)
                if param is not None:
                    edition = param.edition_at(ctx.as_of)
                elif name in groups and getattr(groups[name], "editions", None):
                    edition = groups[name].edition_at(ctx.as_of)
                else:
                    edition = None
                if edition is not None and getattr(edition, "provenance", "") == "unverified":
                    out.append(name)
            found = ctx.memo[memo_key] = tuple(out)
        return found

    def _basis_line(self, ctx: Context) -> str:
        """The basis as printed, the same for every conflict of the rule in a run: made once."""
        memo_key = ("basis-line", id(self))
        line = ctx.memo.get(memo_key)
        if line is None:
            line = ctx.memo[memo_key] = basis_line(self.basis_at(ctx.as_of, ctx.params, ctx.classification))
        return line

    def _expected_actual(self, env, lang: str, seen: dict | None = None) -> tuple[str, str]:
        if self.expected is not None or self.actual is not None:
            return (self._render((self.expected or {}).get(lang, []), env, lang, seen),
                    self._render((self.actual or {}).get(lang, []), env, lang, seen))
        req = self.rule.require
        if self.operand_fns is None:  # on the first conflict: the require's text (or its sides') and their functions
            comp = ExprCompiler(self.names, self.text)
            if not isinstance(req, ast.Compare):
                self.operand_fns = comp.source(req)
            else:
                sides = (req.left, req.right, req.tolerance)
                scope = self._scope()
                self.operand_fns = (comp.source(req.left),
                                    [comp.compile(side, scope)[1] if side is not None else None for side in sides])
        if not isinstance(req, ast.Compare):
            return (self.operand_fns, "false")
        left_text, fns = self.operand_fns
        lv, rv, tv = (_value_or_missing(fn, env) for fn in fns)
        tol = f" ± {format_value(tv, lang)}" if req.tolerance is not None else ""
        return (f"{left_text} {req.op} {format_value(rv, lang)}{tol}", f"{left_text} = {format_value(lv, lang)}")

    def _explain(self, env, lang: str) -> list[dict]:
        if self.traced_require is None:
            _, self.traced_require = ExprCompiler(self.names, self.text, trace=True).compile(self.rule.require, self._scope())
        sub = dict(env)
        sub["$trace"] = {}
        try:
            self.traced_require(sub)
        except EvalError as err:
            sub["$trace"]["error"] = Missing(str(err))
        return [{"expr": text, "value": format_value(value, lang)} for text, value in sub["$trace"].items()]


_UNSEEN = object()  # no value yet for a template's expression
_PLACES_MADE = ("places-made",)  # ctx.memo key: the run's conflict places reduced (_as_geojson)
_RECORD_CLASSES: dict[type, bool] = {}  # class -> whether its values are records (subjects of a conflict)


def _as_geojson(conflicts: list[dict], made: dict | None = None) -> None:
    """Each conflict's place as a GeoJSON geometry, its coordinates to the millimetre where the geometry is
    valid (a reduced invalid one could change shape), in a few vectorised calls for all of a rule's conflicts.

    `made`: the places already reduced in the run, by the place's identity (a weak reference tells a living place
    from a dead one whose id was reused): a parcel that is the place of conflicts of several rules is checked and
    reduced once. The same geometry object always reduces to the same geometry."""
    placed = [c for c in conflicts if c["geometry"] is not None]
    if not placed:
        return
    if made is None:
        made = {}
    reduced: list = [None] * len(placed)
    todo: dict[int, list[int]] = {}  # id of a place not reduced yet -> the conflicts placed there
    places = []
    for i, conflict in enumerate(placed):
        place = conflict["geometry"]
        key = id(place)
        known = made.get(key)
        if known is not None and known[0]() is place:
            reduced[i] = place if known[1] is None else known[1]
        elif key in todo:
            todo[key].append(i)
        else:
            todo[key] = [i]
            places.append(place)
    if places:
        geoms = np.array(places, dtype=object)
        valid = shapely.is_valid(geoms)
        geoms[valid] = geos_map(_to_millimetres, geoms[valid], min_chunk=COSTLY_CHUNK)
        for place, geom, at in zip(places, geoms.tolist(), todo.values()):
            # an invalid place is kept as it is: None, never the place itself (which would then never be gone)
            forget = partial(_forget_place, made, id(place))
            made[id(place)] = (weakref.ref(place, forget), None if geom is place else geom)
            for i in at:
                reduced[i] = geom
    for conflict, geometry in zip(placed, geojson_objects(reduced)):
        conflict["geometry"] = geometry


def geojson_objects(geoms: list) -> list:
    """`json.loads(shapely.to_geojson(g))` for each geometry, equal value for value: a polygon's is made from its
    coordinates (GEOS writes each coordinate in the shortest text that reads back as the same number, so the
    parsed text holds exactly the polygon's own numbers); any other geometry, and a polygon with a Z or M
    coordinate, an empty one or one with a coordinate that is not a finite number, is written and parsed (the
    text of them all parsed at once)."""
    out: list = [None] * len(geoms)
    arr = np.array(geoms, dtype=object) if geoms else np.empty(0, dtype=object)
    plain = shapely.get_type_id(arr) == 3
    plain &= ~shapely.has_z(arr) & ~shapely.is_empty(arr)
    if hasattr(shapely, "has_m"):
        plain &= ~shapely.has_m(arr)
    polygons = np.flatnonzero(plain)
    if len(polygons):
        rings, owner = shapely.get_rings(arr[polygons], return_index=True)
        xy = shapely.get_coordinates(rings)
        if np.isfinite(xy).all():
            points = xy.tolist()  # [x, y] lists, made in C
            ends = np.cumsum(shapely.get_num_coordinates(rings)).tolist()
            ring_counts = np.bincount(owner, minlength=len(polygons)).tolist()
            start = ring = 0
            for at, count in zip(polygons.tolist(), ring_counts):
                coordinates = []
                for end in ends[ring:ring + count]:
                    coordinates.append(points[start:end])
                    start = end
                ring += count
                out[at] = {"type": "Polygon", "coordinates": coordinates}
        else:
            polygons = polygons[:0]
    rest = np.ones(len(arr), dtype=bool)
    rest[polygons] = False
    if rest.any():
        written = shapely.to_geojson(arr[rest]).tolist()
        for at, geometry in zip(np.flatnonzero(rest).tolist(), json.loads("[" + ",".join(written) + "]")):
            out[at] = geometry
    return out


def _forget_place(made: dict, key: int, ref: weakref.ref) -> None:
    """A place is gone: its reduced geometry is not kept (unless its id already names a newer place)."""
    known = made.get(key)
    if known is not None and known[0] is ref:
        del made[key]


def _to_millimetres(geoms):
    return shapely.set_precision(geoms, 0.001)


PARAPHRASE_MARK = "〔大意〕"


def basis_line(basis: dict) -> str:
    """A basis as the one line reports print: ``citation：words``, a paraphrase marked 〔大意〕."""
    line = basis.get("citation", "")
    if basis.get("text"):
        line += "：" + (PARAPHRASE_MARK if basis.get("paraphrase") else "") + basis["text"]
    return line


def _value_or_missing(fn, env):
    if fn is None:
        return None
    try:
        return fn(env)
    except EvalError as err:
        return Missing(str(err))


@dataclass
class RuleResult:
    rule: CompiledRule
    status: str = "pass"
    checked: int = 0
    conflicts: list[dict] = field(default_factory=list)
    indeterminate: list[dict] = field(default_factory=list)
    not_in_force: dict | None = None  # CompiledRule.not_in_force, when that made it not applicable

    def outcome(self) -> dict:
        out = {
            "rule": self.rule.id,
            "status": self.status,
            "checked": self.checked,
            "failed": len(self.conflicts),
            "indeterminate": len(self.indeterminate),
        }
        if self.not_in_force is not None:
            out["not_in_force"] = dict(self.not_in_force)
        return out


# ---- the rule set -------------------------------------------------------------------------------------


@dataclass
class RuleSet:
    rules: list[CompiledRule]
    params: dict[str, CompiledParam]
    packs: list[str]
    sha256: str
    tests: list[tuple[ast.RuleTest, str, Path]]  # test, display path, file path
    warnings: list[Diagnostic]
    # what one's own packs replaced on purpose: {kind: param|rule, name, by, replaces, how: override|params file}
    overrides: list[dict] = field(default_factory=list)
    # the fields packs declare beyond the contract: {record class: {name: (T, unit, declaration, where)}}
    declared_fields: dict = field(default_factory=dict)
    # the families packs declare: {code: (title zh, title en or None)}
    families: dict = field(default_factory=dict)

    def by_id(self) -> dict[str, CompiledRule]:
        return {r.id: r for r in self.rules}

    def select(self, select: list[str] | None = None, ignore: list[str] | None = None, *,
               origin: str = "<arguments>", labels: tuple[str, str] = ("select", "ignore")) -> list[CompiledRule]:
        """The rules named by `select` (every rule when empty), less those named by `ignore`, in pack order.

        A pattern is a rule id (``IND-002``) or a family prefix (``IND``, ``IND-``), in any letter case
        (``ind`` is ``IND``). A pattern naming no loaded rule is an InputError (located at `origin`, the
        field being the option in `labels`) with the nearest ids or families as a hint: a typo must not
        check fewer rules than asked, or none, and pass."""
        diagnostics: list[Diagnostic] = []

        def named(patterns: list[str] | None, label: str) -> set[str]:
            ids: set[str] = set()
            for pattern in patterns or []:
                hit = self.matching(pattern)
                if not hit:
                    message, hint = self.unknown_pattern(pattern)
                    diagnostics.append(Diagnostic(origin, message, field=label, hint=hint))
                ids |= hit
            return ids

        chosen, dropped = named(select, labels[0]), named(ignore, labels[1])
        if diagnostics:
            raise InputError(diagnostics)
        return [r for r in self.rules if (not select or r.id in chosen) and r.id not in dropped]

    def matching(self, pattern: str) -> set[str]:
        """The ids of the loaded rules a select/ignore pattern names (empty when it names none)."""
        key = str(pattern).strip().upper()
        family = key[:-1] if key.endswith("-") else key
        return {r.id for r in self.rules if r.id.upper() == key or r.family.upper() == family}

    def unknown_pattern(self, pattern: str) -> tuple[str, str]:
        """The message and hint for a pattern naming no loaded rule (a rule id such as in a waiver, or a family)."""
        key = str(pattern).strip().upper()
        families = sorted({r.family for r in self.rules}, key=lambda f: rule_sort_key(f + "-"))
        family = key.rstrip("-")
        if family in CONTRACT_FAMILIES:
            return (f"no rule of family {family} in the loaded rule packs",
                    f"the loaded packs have the families {', '.join(families)}")
        return f"no rule or family {pattern!r}", suggest_rules(pattern, [r.id for r in self.rules])

    def catalog(self) -> list[dict]:
        return [r.catalog() for r in self.rules]

    def param_catalog(self) -> list[dict]:
        """Every parameter with each dated edition, its source and values (for `rules list`)."""
        out = []
        for name in sorted(self.params):
            param = self.params[name]
            editions = []
            for e in param.editions:
                if param.is_table:
                    values = {k: format_value(v, "en", full=True) for k, v in e.table.items()}
                    if e.has_otherwise:
                        values["otherwise"] = format_value(e.otherwise, "en", full=True)
                else:
                    values = format_value(e.value, "en", full=True)
                editions.append({"from": e.valid_from.isoformat(), "source": e.source, "text": e.text,
                                 "paraphrase": e.paraphrase, "provenance": e.provenance or "unstated",
                                 "provenance_note": e.provenance_note, "values": values})
            out.append({"name": name, "title": {"zh": param.title_zh, "en": param.title_en}, "editions": editions,
                        "source": {"path": param.path, "line": param.line}})
        return out


# the family prefixes bundle-format.md names; a pack may add more
CONTRACT_FAMILIES = ("GEO", "REF", "LAY", "IND", "DUT", "SUP", "FIN", "DOC", "CTY")


_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})  # the key is upper-cased: l is L


def suggest_rules(word: str, rule_ids: list[str]) -> str:
    """A hint for an unknown rule id or family: the nearest ids and families, else where to look them up."""
    key = str(word).strip().upper()
    families = sorted({i.split("-", 1)[0] for i in rule_ids}, key=lambda f: rule_sort_key(f + "-"))
    listing = "`rulecheck rules list` lists every rule"
    if "-" in key.strip("-"):
        family = key.split("-", 1)[0]
        same = sorted((i for i in rule_ids if i.startswith(family + "-")), key=rule_sort_key)
        close = difflib.get_close_matches(key, same or sorted(rule_ids, key=rule_sort_key), n=3, cutoff=0.6)
        # a letter typed for a digit (IND-01O, IND-0l0): the id it stands for comes first
        number = key.split("-", 1)[1]
        read = f"{family}-{number.translate(_DIGIT_LOOKALIKES)}"
        if read != key and read in rule_ids:
            close = [read] + [c for c in close if c != read][:2]
        if same:
            listing = f"family {family} has {len(same)} rules, {same[0]} to {same[-1]}; " + listing
    else:
        close = difflib.get_close_matches(key.rstrip("-"), families, n=3, cutoff=0.5)
    if close:
        return f"did you mean {' or '.join(close)}? ({listing})"
    return f"give a rule id such as IND-002 or a family: {', '.join(families)} ({listing})"


def rule_sort_key(rule_id: str) -> tuple:
    family = rule_id.split("-", 1)[0]
    return (FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER), rule_id)


def _diag(path: str, text: str, span: ast.Span, message: str, hint=None, severity="error") -> Diagnostic:
    from rulecheck.dsl.parser import _line_text  # one cached split per text: many diagnostics stay linear

    excerpt = _line_text(text, span.line) or None
    return Diagnostic(path, message, line=span.line or None, column=span.column or None, excerpt=excerpt, hint=hint,
                      severity=severity)


def _compile_param(param: ast.Param, path: str, text: str, names: Names, diags: list[Diagnostic]) -> CompiledParam | None:
    comp = ExprCompiler(names, text)
    ptype: T | None = None
    editions = []
    is_table = None
    env = {}

    def value_of(expr):
        nonlocal ptype
        t, fn = comp.compile(expr, {})
        if ptype is None:
            ptype = t
        elif not _comparable(ptype, t):
            raise CheckError(expr.span, f"parameter {param.name} mixes {ptype} and {t}")
        return fn(env)

    previous = None
    for edition in param.editions:
        if previous is not None and edition.valid_from <= previous:
            diags.append(_diag(path, text, edition.span, f"editions of {param.name} must be in date order"))
        previous = edition.valid_from
        table = edition.value is None
        if is_table is None:
            is_table = table
        elif is_table != table:
            diags.append(_diag(path, text, edition.span, f"parameter {param.name} is a table in one edition and a single value in another"))
            continue
        try:
            cited = dict(text=edition.text, paraphrase=edition.paraphrase, provenance=edition.provenance,
                         provenance_note=edition.provenance_note)
            if not table:
                editions.append(CompiledEdition(edition.valid_from, edition.source, value=value_of(edition.value), **cited))
                continue
            compiled = CompiledEdition(edition.valid_from, edition.source, codes=any(e.key_is_code for e in edition.entries),
                                       **cited)
            for entry in edition.entries:
                value = value_of(entry.value)
                if entry.key is None:
                    compiled.otherwise, compiled.has_otherwise = value, True
                elif entry.key in compiled.table:
                    diags.append(_diag(path, text, entry.span, f"key {entry.key} appears twice in {param.name}"))
                else:
                    if not entry.key_is_code and entry.key not in ENUM_VALUES:
                        diags.append(_diag(path, text, entry.span, f"'{entry.key}' is not a value of any enumeration",
                                           _suggest(entry.key, list(ENUM_VALUES))))
                    if entry.key_is_code and names.classification is not None and not names.classification.is_known(entry.key):
                        diags.append(_diag(path, text, entry.span, f"'{entry.key}' is not a land-use code",
                                           _suggest_code(names.classification, entry.key)))
                    compiled.table[entry.key] = value
            editions.append(compiled)
        except CheckError as err:
            diags.append(_diag(path, text, err.span, err.args[0], err.hint))
        except EvalError as err:
            diags.append(_diag(path, text, edition.span, str(err)))
    if ptype is None:
        return None
    return CompiledParam(param.name, param.title_zh, param.title_en, ptype, editions, path, param.span.line, bool(is_table))


FIELD_TYPES = ("number", "text", "code", "date", "bool")


def _expand_predicates(packs, diags: list[Diagnostic]):
    """The packs with every use of a `predicate` replaced by its condition (rulecheck.dsl.predicates); a wrong
    declaration or use is an error where it is written, and that rule is left out."""
    import dataclasses

    from rulecheck.dsl.builtins import BUILTINS
    from rulecheck.dsl.predicates import PredicateError, check_declaration, expand, uses

    declared: dict[str, ast.PredicateDecl] = {}
    for pack, _, _ in packs:
        for decl in getattr(pack, "predicates", ()):
            problem = check_declaration(decl, set(BUILTINS))
            if problem is None and decl.name in declared:
                problem = PredicateError(f"predicate {decl.name} is declared twice (also at line "
                                         f"{declared[decl.name].span.line} of {declared[decl.name].span.path})", decl.span)
            if problem is not None:
                diags.append(_diag(pack.path, pack.text, problem.span, problem.message, problem.hint))
                continue
            declared[decl.name] = decl
    if not declared:
        return packs
    out = []
    for pack, file, kind in packs:
        rules = []
        # a predicate is used in the pack that declares it (its text is that pack's, for messages and plans)
        own = {name: decl for name, decl in declared.items() if decl.span.path == pack.path}
        for rule in pack.rules:
            if not uses(rule, set(declared)):
                rules.append(rule)
                continue
            try:
                elsewhere = next((n for n in _calls(rule) if n.func in declared and n.func not in own), None)
                if elsewhere is not None:
                    raise PredicateError(f"predicate {elsewhere.func} is declared in {declared[elsewhere.func].span.path}, "
                                         "not in this pack", elsewhere.span, "a predicate is used in the pack that declares it")
                rules.append(expand(rule, own))
            except PredicateError as err:
                diags.append(_diag(pack.path, pack.text, err.span, err.message, err.hint))
        out.append((dataclasses.replace(pack, rules=tuple(rules)), file, kind))
    return out


def _calls(node):
    from rulecheck.dsl.predicates import walk_nodes

    return [n for n in walk_nodes(node) if isinstance(n, ast.Call)]


def _declared_families(packs, diags: list[Diagnostic]) -> dict[str, tuple[str, str | None]]:
    """`family ZJ "浙江省补充规则"`: the families packs add, {code: (title zh, title en)}; a contract family or one
    declared twice is an error at its line."""
    out: dict[str, tuple[str, str | None]] = {}
    for pack, _, _ in packs:
        for decl in getattr(pack, "families", ()):
            if not re.fullmatch(r"[A-Z]{2,5}", decl.code):
                diags.append(_diag(pack.path, pack.text, decl.span, f"family {decl.code}: a family is 2 to 5 capital letters"))
            elif decl.code in FAMILY_ORDER:
                diags.append(_diag(pack.path, pack.text, decl.span, f"family {decl.code} is a family of the contract",
                                   "a pack's own family has a code of its own"))
            elif decl.code in out:
                diags.append(_diag(pack.path, pack.text, decl.span, f"family {decl.code} is declared twice"))
            else:
                out[decl.code] = (decl.title_zh, decl.title_en)
    return out


def _declared_fields(packs, diags: list[Diagnostic]) -> dict[type, dict[str, tuple]]:
    """The fields packs add to the contract's records: {record class: {name: (T, unit, declaration, path)}}.

    Each is checked where it is declared: the collection must exist (with the nearest name), the name must not
    be a field the contract already has, the type must be one the language knows, a unit only on a number."""
    from rulecheck.dsl.schema import ROOTS, fields_of
    from rulecheck.dsl.units import UNITS, dimension

    out: dict[type, dict[str, tuple]] = {}
    for pack, _, _ in packs:
        for decl in getattr(pack, "fields", ()):
            def refuse(message, hint=None, span=decl.span):
                diags.append(_diag(pack.path, pack.text, span, message, hint))

            current = ROOTS.get(decl.path[0])
            if current is None:
                refuse(f"field {decl.text()}: '{decl.path[0]}' is not a collection", _suggest(decl.path[0], list(ROOTS)))
                continue
            ok = True
            for step in decl.path[1:]:
                while current.kind == "list":
                    current = current.arg
                if current.kind != "record" or step not in fields_of(current.arg):
                    known = list(fields_of(current.arg)) if current.kind == "record" else []
                    refuse(f"field {decl.text()}: {current} has no field '{step}'", _suggest(step, known))
                    ok = False
                    break
                current = fields_of(current.arg)[step]
            while ok and current.kind == "list":
                current = current.arg
            if not ok:
                continue
            if current.kind != "record":
                refuse(f"field {decl.text()}: {'.'.join(decl.path)} is {current}, not a collection of records")
                continue
            cls = current.arg
            if decl.name in fields_of(cls):
                refuse(f"field {decl.text()}: {cls.__name__} records already have the field '{decl.name}'",
                       "a declared field adds a column the contract lacks; this one is read as the contract says")
                continue
            if decl.type not in FIELD_TYPES:
                refuse(f"field {decl.text()}: '{decl.type}' is not a type of field", f"the types are {', '.join(FIELD_TYPES)}",
                       span=decl.type_span or decl.span)
                continue
            if decl.unit is not None and decl.type != "number":
                refuse(f"field {decl.text()}: only a number has a unit, not a {decl.type}")
                continue
            unit = None if decl.unit is None else next((u for u in UNITS if u == decl.unit), decl.unit)
            t = {"number": T("num", dimension(unit), "%" if unit == "%" else None), "text": T("str"), "code": T("code"),
                 "date": T("date"), "bool": T("bool")}[decl.type]
            seen = out.setdefault(cls, {}).get(decl.name)
            if seen is not None and (seen[0], seen[1]) != (t, unit):
                refuse(f"field {decl.text()} is declared again with another type or unit (also in {seen[3]})")
                continue
            out[cls][decl.name] = (t, unit, decl, f"{pack.path}:{decl.span.line}")
    return out


def _suggest_code(classification, code):
    s = classification.suggest(code)
    return f"did you mean '{s}'?" if s else None


def _compile_rule(rule: ast.Rule, path: str, text: str, names: Names, diags: list[Diagnostic]) -> CompiledRule | None:
    # only this rule's diagnostics are looked at (diags only grows here): counting every earlier one again made
    # validating a pack quadratic in its rules
    first = len(diags)
    seen = {}
    for kind, span in rule.clauses:
        if kind in seen and kind != "message":
            diags.append(_diag(path, text, span, f"rule {rule.id} has two '{kind}' clauses"))
        if kind == "message" and kind in seen:
            diags.append(_diag(path, text, span, f"rule {rule.id} has two 'message' clauses"))
        seen[kind] = span
    for required in ("title", "severity", "basis", "message"):
        if required not in seen:
            diags.append(_diag(path, text, rule.span, f"rule {rule.id} has no '{required}' clause"))
    if rule.family not in FAMILY_ORDER and rule.family not in getattr(names, "families", {}):
        diags.append(_diag(path, text, rule.span, f"unknown family '{rule.family}' in rule id {rule.id}",
                           f"families are {', '.join(FAMILY_ORDER)}; declare one of your own with "
                           f"'family {rule.family} \"名称\"'", severity="warning"))
    dated_groups = [g.name for g in getattr(getattr(names, "classification", None), "groups", {}).values() if g.editions]
    if rule.basis_param is not None and rule.basis_param not in names.params and rule.basis_param not in dated_groups:
        span = dict(rule.clauses).get("basis", rule.span)
        diags.append(_diag(path, text, span,
                           f"the basis of rule {rule.id} names {rule.basis_param}, which is not a parameter or a dated group",
                           _suggest(rule.basis_param, list(names.params) + dated_groups)))
    comp = ExprCompiler(names, text)
    scope: dict[str, T] = {}
    steps = []
    declared: list[tuple[str, ast.Span]] = []
    subject_vars = []
    # a `where` right after a `for each` joins that loop's filter, so spatial predicates can use the index
    merged: list = []
    for step in rule.steps:
        if isinstance(step, ast.WhereStep) and merged and isinstance(merged[-1], ast.ForStep):
            prev = merged[-1]
            cond = step.cond if prev.cond is None else ast.Logic(step.span, "and", prev.cond, step.cond)
            merged[-1] = dataclasses.replace(prev, cond=cond)
        else:
            merged.append(step)
    ok = True
    for step in merged:
        try:
            if isinstance(step, ast.ForStep):
                if step.var in scope:
                    raise CheckError(step.span, f"'{step.var}' is already bound in rule {rule.id}")
                iterate, elem_t = comp._source(step.source, step.var, step.cond, scope, also=rule.require)
                if not (free_names(step.source) & set(scope)):  # the loop's collection is fixed for the run
                    # what the loop can bind: the records passing its own filter (a join against it queries only those)
                    plan = getattr(iterate, "plan", None)
                    comp.universes[step.var] = plan.kept if plan is not None else comp.compile(step.source, scope)[1]
                scope = dict(scope)
                scope[step.var] = elem_t
                steps.append(("for", step.var, iterate, elem_t))
                declared.append((step.var, step.span))
                if elem_t.kind == "record" and has_id(elem_t.arg):
                    subject_vars.append(step.var)
            elif isinstance(step, ast.LetStep):
                if step.var in scope:
                    raise CheckError(step.span, f"'{step.var}' is already bound in rule {rule.id}")
                t, fn = comp.compile(step.value, scope)
                scope = dict(scope)
                scope[step.var] = t
                steps.append(("let", step.var, fn, t))
                declared.append((step.var, step.span))
                if (t.kind == "record" and has_id(t.arg)) or (
                    t.kind == "list" and t.arg.kind == "record" and has_id(t.arg.arg)
                ):
                    subject_vars.append(step.var)
            else:
                t, fn = comp.compile(step.cond, scope)
                if t.kind not in ("bool", "any"):
                    raise CheckError(step.cond.span, f"a 'where' condition must be true or false, not {t}")
                steps.append(("where", None, fn, t))
        except CheckError as err:
            diags.append(_diag(path, text, err.span, err.args[0], err.hint))
            ok = False
            break
    require = at = severity_fn = None
    messages: dict[str, list] = {}
    expected = actual = None
    if ok and rule.subjects is not None:  # `subjects a, b`: only these name a conflict's subjects
        span = rule.subjects_span or rule.span
        chosen = []
        for var in rule.subjects:
            t = scope.get(var)
            if t is None:
                diags.append(_diag(path, text, span, f"'subjects' names '{var}', which the rule does not bind",
                                   _suggest(var, list(scope))))
            elif not ((t.kind == "record" and has_id(t.arg)) or (t.kind == "list" and t.arg.kind == "record" and has_id(t.arg.arg))):
                diags.append(_diag(path, text, span, f"'subjects' names '{var}', which is {t}, not records with ids"))
            else:
                chosen.append(var)
                comp.used_vars.add(var)
        subject_vars = chosen
    if ok:
        # each hole of the templates keyed by its expression (AST nodes compare by structure, not position): the
        # holes of one expression share a value in a conflict (_render's `seen`), and no two expressions do
        hole_keys: dict = {}

        def compile_template(template: ast.Template | None):
            if template is None:
                return None
            parts = []
            plans, comp.plans = comp.plans, []  # the plan shown is the rule's loops and require, not its messages
            try:
                for part in template.parts:
                    if isinstance(part, str):
                        parts.append(part)
                    else:
                        t, fn = comp.compile(part, scope)
                        parts.append((hole_keys.setdefault(part, len(hole_keys)), fn, t.kind))
            finally:
                comp.plans = plans
            return parts

        universes = comp.universes
        for what in ("require", "at", "message_zh", "message_en", "expected", "actual", "severity_when"):
            node = getattr(rule, what)
            if node is None:
                continue
            # what is evaluated only for a conflict (its place, its message) joins per record, never in bulk for
            # every record the loops can bind: a rule with few conflicts would pay for all of them
            comp.universes = universes if what == "require" else {}
            try:
                if what == "severity_when":
                    plans, comp.plans = comp.plans, []
                    try:
                        t, severity_fn = comp.compile(node, scope)
                    finally:
                        comp.plans = plans
                    if t.kind not in ("bool", "any"):
                        raise CheckError(node.span, f"'severity … when' needs a condition (true or false), not {t}")
                    if rule.severity_else == rule.severity:
                        raise CheckError(node.span, f"'severity {rule.severity} when … else {rule.severity_else}' chooses between the same severity")
                elif what == "require":
                    t, require = comp.compile(node, scope)
                    if t.kind not in ("bool", "any"):
                        raise CheckError(node.span, f"'require' must be true or false, not {t}")
                elif what == "at":
                    t, at = comp.compile(node, scope)
                    if t.kind not in ("geom", "record", "any"):
                        raise CheckError(node.span, f"'at' must give a geometry, not {t}")
                elif what.startswith("message"):
                    messages[what[-2:]] = compile_template(node)
                else:  # expected / actual: one text for both languages, or zh and en
                    texts = [compile_template(t) for t in node]
                    both = {"zh": texts[0], "en": texts[-1]}
                    if what == "expected":
                        expected = both
                    else:
                        actual = both
            except CheckError as err:
                diags.append(_diag(path, text, err.span, err.args[0], err.hint))
        comp.universes = universes
        for var, span in declared:
            if var not in comp.used_vars:
                diags.append(_diag(path, text, span, f"'{var}' is bound but never used", severity="warning"))
    if any(d.severity == "error" for d in diags[first:]):
        return None
    messages.setdefault("zh", [rule.title_zh])
    messages.setdefault("en", [rule.title_en])
    if steps and steps[-1][0] == "for" and rule.require is not None:
        last = getattr(steps[-1][2], "plan", None)
        if attach_verdict(last, rule.require, comp, scope):  # shown with the last loop's plan (--plan)
            shown = next((p for p in reversed(comp.plans) if p.get("var") == last.var and p.get("source") == last.texts["source"]), None)
            if shown is not None:
                shown["requirement"] = last.verdict.text
    return CompiledRule(rule, path, text, steps, require, at, messages, expected, actual, subject_vars, names,
                        tuple(sorted(comp.used_params | ({rule.basis_param} if rule.basis_param in names.params else set()))),
                        plans=comp.plans, severity_fn=severity_fn)


def load_rules(paths: list[str | Path] | None = None, params: list[str | Path] | None = None,
               classification=None, add: list[str | Path] | None = None) -> RuleSet:
    """Parse, check and compile rule packs and parameter override files.

    `paths` replace the built-in rules (default: the built-in packs); `add` are one's own packs added to them.
    The built-in parameters are always there underneath: a pack's own `param` adds to them, and replacing one
    is written `override param NAME` (or given in a `params` file). Raises InputError with every error found."""
    rule_set, diags = _load(paths, params, classification, add)
    errors = [d for d in diags if d.severity == "error"]
    if errors:
        raise InputError(diags)
    return rule_set


def validate(paths: list[str | Path] | None = None, params: list[str | Path] | None = None,
             add: list[str | Path] | None = None) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) of the given packs, for `rulecheck rules validate`."""
    return _load(paths, params, None, add)[1]


def validated(paths: list[str | Path] | None = None, params: list[str | Path] | None = None,
              add: list[str | Path] | None = None, stand_in: Path | None = None) -> tuple[RuleSet, list[Diagnostic]]:
    """The compiled rules (those without errors) and every diagnostic, for `rulecheck rules validate --plan` (and
    the language server, whose unsaved copy of a file is a `stand_in` for it)."""
    return _load(paths, params, None, add, stand_in)


def all_pairs_warnings(rule_set) -> list[Diagnostic]:
    """A warning for every loop of one's own rules that `--plan` marks "!" (all pairs), at its `for each`, with the
    rewrite that removes it (the shipped packs have none: tests/test_complexity.py)."""
    from rulecheck.dsl.planner import all_pairs_advice

    out = []
    for rule in rule_set.rules:
        if rule.path.startswith("rulecheck:"):
            continue
        for plan in rule.plans or []:
            advice = all_pairs_advice(plan)
            if advice is None:
                continue
            text, start = rule.text, rule.rule.span.start
            at = text.find(f"for each {plan['var']} in", start)
            at = at if at >= 0 else start
            line = text.count("\n", 0, at) + 1
            column = at - (text.rfind("\n", 0, at) + 1) + 1
            excerpt = text.split("\n")[line - 1]
            out.append(Diagnostic(rule.path, f"rule {rule.id}: {advice[0]}", line=line, column=column,
                                  severity="warning", excerpt=excerpt, hint=advice[1]))
    return out



def _load(paths, params, classification, add=None, stand_in: Path | None = None) -> tuple[RuleSet, list[Diagnostic]]:
    """`stand_in`: a file that one of `paths` stands in for (the editor's unsaved copy of it): not loaded again
    from the built-in packs underneath.

    The cyclic collector is paused meanwhile: parsing and compiling make many small objects and few cycles, and
    each full collection walks everything made so far, which made a big pack's validation superlinear (a 1.5 MB
    pack spent a third of its time in the collector)."""
    from rulecheck.model.sources import no_gc

    with no_gc():
        return _load_packs(paths, params, classification, add, stand_in)


def _load_packs(paths, params, classification, add=None, stand_in: Path | None = None) -> tuple[RuleSet, list[Diagnostic]]:
    from rulecheck.model.landuse import load_classification

    classification = classification or load_classification()
    own, diags = rule_files(list(paths or []) + list(add or []))
    # the packs that replace the built-in rules (`--rules`, `rules validate/test DIR`) are the whole rule set:
    # a parameter they declare again replaces the built-in one (a fork of `rules/` loads as it is)
    replacing = {f.resolve() for f, _ in rule_files(list(paths or []))[0]}
    # underneath one's own packs: the built-in parameters (always), and the built-in rules unless `paths`
    # replaces them; a built-in file also named among one's own is loaded once, under the name given
    builtin_dir = default_rule_paths()[0]
    base_files, _ = rule_files([builtin_dir] if not paths else [builtin_dir / "params"], builtin=True)
    named = {f.resolve() for f, _ in own} | ({Path(stand_in).resolve()} if stand_in else set())
    base = [(f, d) for f, d in base_files if f.resolve() not in named]
    files = own + base
    param_files, pdiags = rule_files(list(params or []))
    diags += pdiags
    parsed = [(parse_file_cached(file, display), file, display) for file, display in files]
    parsed += [(parse_file_cached(file, display), file, display) for file, display in param_files]
    base_set = set(base)
    layer = {}
    for _, file, display in parsed:
        layer[(file, display)] = "base" if (file, display) in base_set else "own"
    for file, display in param_files:
        layer[(file, display)] = "params"
    packs = []
    digest = hashlib.sha256()
    for (pack, pd), file, display in parsed:
        diags += pd
        packs.append((pack, file, layer[(file, display)]))
        digest.update(display.encode() + b"\0" + pack.text.encode() + b"\0")
    packs = _expand_predicates(packs, diags)
    families = _declared_families(packs, diags)
    names = Names({}, set(classification.groups))
    names.classification = classification  # type: ignore[attr-defined]
    names.extra_fields = _declared_fields(packs, diags)  # type: ignore[attr-defined]
    names.families = families  # type: ignore[attr-defined]
    # parameters first (rules refer to them): the built-in ones, then one's own (adding; `override param`
    # replaces a built-in one), then the --params files (replacing by name)
    declared: dict[str, tuple[ast.Param, str, str]] = {}
    where: dict[str, str] = {}
    overrides: list[dict] = []
    order = {"base": 0, "own": 1, "params": 2}
    shipped_dir = builtin_dir.resolve()

    is_shipped: dict[Path, bool] = {}  # asked once per parameter and rule; resolving a path is system calls

    def shipped(file: Path) -> bool:  # a built-in pack, also when named by its path (`--rules rules/`)
        if file not in is_shipped:
            is_shipped[file] = Path(file).resolve().is_relative_to(shipped_dir)
        return is_shipped[file]

    builtin_names: set[str] = set()  # parameters and rule ids the built-in packs declare
    for pack, file, kind in sorted(packs, key=lambda p: (order[p[2]], not shipped(p[1]))):
        for param in pack.params:
            here = f"{pack.path}:{param.span.line}"
            known = param.name in declared
            from_base = known and param.name in builtin_names and kind == "own" and not shipped(file)
            if kind == "params":
                if not known:
                    diags.append(_diag(pack.path, pack.text, param.span, f"{param.name} overrides no known parameter",
                                       _suggest(param.name, list(declared))))
                    continue
                overrides.append({"kind": "param", "name": param.name, "by": here, "replaces": where[param.name],
                                  "how": "params file"})
            elif param.override and not from_base:
                diags.append(_diag(pack.path, pack.text, param.span,
                                   f"'override param {param.name}' replaces no built-in parameter"
                                   + (f" (it is declared in {where[param.name]}, not built in)" if known else ""),
                                   None if known else _suggest(param.name, list(declared))))
                continue
            elif from_base and not param.override and Path(file).resolve() in replacing:
                overrides.append({"kind": "param", "name": param.name, "by": here, "replaces": where[param.name],
                                  "how": "rules"})
            elif from_base and not param.override:
                diags.append(_diag(pack.path, pack.text, param.span,
                                   f"parameter {param.name} is already a built-in parameter ({where[param.name]})",
                                   f"write 'override param {param.name}' to replace it on purpose, or choose another name"))
                continue
            elif known and not param.override:
                diags.append(_diag(pack.path, pack.text, param.span,
                                   f"parameter {param.name} is declared twice (also in {where[param.name]})"))
                continue
            elif param.override:
                overrides.append({"kind": "param", "name": param.name, "by": here, "replaces": where[param.name],
                                  "how": "override"})
            declared[param.name] = (param, pack.path, pack.text)
            where[param.name] = here
            if shipped(file) and kind != "params":
                builtin_names.add(param.name)
    for name, (param, path, text) in declared.items():
        compiled = _compile_param(param, path, text, names, diags)
        if compiled is not None:
            names.params[name] = compiled
    rules: dict[str, CompiledRule] = {}
    first: dict[str, str] = {}
    tests = []
    for pack, file, kind in sorted(packs, key=lambda p: (order[p[2]], not shipped(p[1]))):
        for rule in pack.rules:
            here = f"{pack.path}:{rule.span.line}"
            from_base = rule.id in first and rule.id in builtin_names and kind == "own" and not shipped(file)
            if rule.override and not from_base:
                diags.append(_diag(pack.path, pack.text, rule.span, f"'override rule {rule.id}' replaces no built-in rule"
                                   + (f" (it is declared in {first[rule.id]}, not built in)" if rule.id in first
                                      else " (the built-in rules are loaded with `check --add-rules` or `--with-builtin`)")))
                continue
            if from_base and not rule.override:
                diags.append(_diag(pack.path, pack.text, rule.span, f"rule {rule.id} is already a built-in rule ({first[rule.id]})",
                                   f"write 'override rule {rule.id}' to replace it on purpose, or choose another id"))
                continue
            if rule.id in first and not from_base:
                diags.append(_diag(pack.path, pack.text, rule.span, f"rule {rule.id} is declared twice (also in {first[rule.id]})"))
                continue
            if from_base:
                overrides.append({"kind": "rule", "name": rule.id, "by": here, "replaces": first[rule.id], "how": "override"})
                rules.pop(rule.id, None)
            first[rule.id] = here
            if shipped(file) and not from_base:
                builtin_names.add(rule.id)
            compiled = _compile_rule(rule, pack.path, pack.text, names, diags)
            if compiled is not None:
                rules[rule.id] = compiled
        if kind != "base" or not own:  # `rules test` runs one's own tests, not the built-in packs' underneath
            tests.extend((t, pack.path, file) for t in pack.tests)
    all_rule_ids = {r.id for pack, _, _ in packs for r in pack.rules}
    unreadable = {rule_id for pack, _, _ in packs for rule_id in getattr(pack, "broken", ())}
    for test, path, file in tests:
        pack_text = next(p.text for p, f, _ in packs if f == file)
        for rule_id in {test.rule} | {e.rule for e in test.expectations}:
            if rule_id not in all_rule_ids and rule_id not in unreadable:
                diags.append(_diag(path, pack_text, test.span, f"test '{test.name}' names rule {rule_id}, which no pack declares",
                                   _suggest(rule_id, sorted(all_rule_ids))))
        for patch in test.patches:
            problem = patch_problem(patch, names.extra_fields)
            if problem:
                diags.append(_diag(path, pack_text, problem[1], problem[0]))
    ordered = [rules[k] for k in sorted(rules, key=rule_sort_key)]
    rule_set = RuleSet(ordered, names.params, [display for _, display in files + param_files], digest.hexdigest(), tests,
                       [d for d in diags if d.severity == "warning"], overrides, names.extra_fields, families)
    return rule_set, diags
