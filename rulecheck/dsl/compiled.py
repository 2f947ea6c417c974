"""A compiled rule and how it runs: its loops bound, its requirement checked, each conflict made (subjects,
place, message, expected and actual, basis in force); the outcome of a rule over a submission."""

from __future__ import annotations

import datetime as dt
import json
import weakref
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Iterator

import numpy as np
import shapely

from rulecheck.citations import not_yet_in_force
from rulecheck.dsl import ast
from rulecheck.dsl.compiler import Context, ExprCompiler, Names
from rulecheck.dsl.parallel import COSTLY_CHUNK, geos_map
from rulecheck.dsl.joins import Passed
from rulecheck.dsl.schema import COLLECTION_OF, T
from rulecheck.model.landuse import in_force
from rulecheck.dsl.values import CTX, EvalError, Missing, format_value, geom_or_none, is_record, record_id
from rulecheck.vocabulary import SEVERITIES


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
    # the steps as compiled (a `where` joined to its loop makes new nodes): the run's memo keys some values by a
    # node's id, which stays unique only while the node lives, so the nodes live as long as the rule
    merged_steps: tuple = ()

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
            edition = in_force(editions, as_of)  # editions are in date order (checked when a pack loads)
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
            geom_value = geom_or_none(place)
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
