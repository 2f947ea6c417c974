"""The join executor: runs a loop's plan (plan.py) with the compiled expressions it names.

It builds and keeps, in the run's memo, what the plan asks for: the source list after the local filters, the
STRtree of its geometries, the hash indexes of its keys (shared by every plan that joins the same collection
on the same key), the bulk query of a spatial join against every outer record at once (its bulk GEOS work on
threads, parallel.py), the shared areas of the candidate pairs; and it enumerates the candidates of one
binding in the order of the source, testing per pair only what the indexes and the bulk pass left undecided.

Semantics are those of testing every candidate in order: a candidate whose key is absent or not a text (so
the index cannot decide it) is always let through and tested, so it stays undecided, never dropped.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable

import numpy as np
import shapely

from rulecheck.dsl.builtins import (as_geometry, cached_area_ids, id_pairs, pair_known_ids, prefill_pair_arrays, prefill_pairs,
                                    square_metres, tolerance_value)
from rulecheck.dsl.parallel import geos_map, query_pairs
from rulecheck.dsl.plan import NO_KEY, LoopPlan
from rulecheck.dsl.units import Quantity
from rulecheck.dsl.values import CTX, EvalError, Missing, geom_or_none, is_record, record_id

Fn = Callable[[dict], Any]
BULK_KEYS = ("bulk-keys",)  # the memo's key for the keys of the bulk queries kept so far


def visit(env: dict, n: int = 1) -> None:
    """Count records visited (candidates tested, records indexed or scanned): the complexity guard's measure."""
    env[CTX].visits += n


# ---- reading values ---------------------------------------------------------------------------------


def all_of(conditions: list[Fn], env: dict):
    """True if every condition holds, False if one fails, else the Missing that left it undecided."""
    verdict = True
    for f in conditions:
        try:
            v = f(env)
        except EvalError as err:
            v = Missing(str(err))
        if v is False:
            return False
        if isinstance(v, Missing):
            verdict = v
    return verdict


def key_text(value) -> str | None:
    """The text a value matches by in `==` and `in` (an enum member by its text), or None when a hash
    index cannot decide it (absent, a number, a record): such values are tested as written."""
    if type(value) is str:
        return value
    inner = value._value_ if isinstance(value, Enum) else getattr(value, "value", None)
    if isinstance(inner, str) and not isinstance(value, Quantity):
        return inner
    return None


# ---- hash joins -------------------------------------------------------------------------------------


@dataclass
class KeyBranch:
    """A plan's `KeyLookup` compiled (its kinds are described there): the loop variable's key and the outer
    value as functions of the environment, with the local key decided once when there is one."""

    kind: str
    var_fn: Fn
    outer_fn: Fn
    var_text: str
    text: str
    # the one variable of the rule the outer side reads, if only one: its keys are then kept per record for the
    # run, and shared by every rule whose outer side reads the same (`item.parcel_ids` in ten IND rules)
    outer_var: str | None = None
    outer_text: str = ""

    def build(self, env: dict, var: str, items: list) -> tuple[dict[str, list[int]], list[int]]:
        """{key: positions in items}, and the positions whose key is not a text (always tested)."""
        index: dict[str, list[int]] = {}
        undecided: list[int] = []
        probe = dict(env)
        visit(env, len(items))
        groups = env[CTX].classification.groups
        for pos, item in enumerate(items):
            probe[var] = item
            try:
                value = self.var_fn(probe)
            except EvalError:
                undecided.append(pos)
                continue
            if self.kind == "has":
                if not isinstance(value, list):
                    undecided.append(pos)
                    continue
                unsure = False
                for v in value:
                    k = key_text(v)
                    if k is not None:
                        positions = index.setdefault(k, [])
                        if not positions or positions[-1] != pos:
                            positions.append(pos)
                    elif v is not None:
                        unsure = True
                if unsure:
                    undecided.append(pos)
                continue
            k = key_text(value)
            if k is None or (self.kind in ("code_under", "under_code") and k in groups):
                undecided.append(pos)
            elif self.kind == "code_under":
                for n in range(len(k) + 1):
                    index.setdefault(k[:n], []).append(pos)
            else:
                index.setdefault(k, []).append(pos)
        return index, undecided

    def outer_keys(self, env: dict) -> tuple[str, ...] | None:
        """The texts the outer value looks up, or None when the index cannot answer (then every candidate is tested)."""
        record = env.get(self.outer_var) if self.outer_var is not None else None
        if not is_record(record):  # a computed value (a `let` list) is not kept: only records live for the run
            return self._outer_keys(env)
        memo = env[CTX].memo
        memo_key = ("outer-keys", self.kind, self.outer_text, self.outer_var, id(record))
        cached = memo.get(memo_key)
        if cached is None or cached[0] is not record:
            cached = (record, self._outer_keys(env))
            memo[memo_key] = cached
        return cached[1]

    def _outer_keys(self, env: dict) -> tuple[str, ...] | None:
        try:
            value = self.outer_fn(env)
        except EvalError:
            return None
        if self.kind == "in":
            if not isinstance(value, list):
                return None
            keys = []
            for v in value:
                k = key_text(v)
                if k is None:
                    if v is not None:
                        return None
                    continue
                keys.append(k)
            return tuple(keys)
        k = key_text(value)
        if k is not None and self.kind in ("code_under", "under_code") and k in env[CTX].classification.groups:
            return None
        if k is not None and self.kind == "under_code":
            return tuple(k[:n] for n in range(len(k) + 1))
        return None if k is None else (k,)


@dataclass
class KeyJoin:
    """An equality/membership conjunct, or an `or` of them: the union of the branches' lookups."""

    branches: list[KeyBranch]
    fn: Fn  # the whole conjunct, tested on candidates the index could not decide (and, for an `or`, on all)
    text: str

    @property
    def exact(self) -> bool:
        # one branch: a candidate found under a text key satisfies the conjunct, no need to test it again
        return len(self.branches) == 1

    def indexes(self, env: dict, var: str, items: list, shared: bool, plan_key: int):
        """One index per branch over `items`: shared by every plan that joins the same collection on the same
        key when the collection is fixed for the run, else the last one kept per plan."""
        ctx = env[CTX]
        out = []
        for n, branch in enumerate(self.branches):
            memo_key = ("keys", id(items), branch.kind, branch.var_text) if shared else ("keys", plan_key, n)
            cached = ctx.memo.get(memo_key)
            if cached is None or cached[0] is not items:
                cached = (items, *branch.build(env, var, items))
                ctx.memo[memo_key] = cached
            out.append(cached[1:])
        return out

    def lookup(self, env: dict, indexes) -> tuple[list[int], set[int]] | None:
        """Sorted positions that may pass, and those of them that must be tested again; None: test them all."""
        if self.exact:  # one branch: the same keys in the same index find the same positions
            branch, (index, undecided) = self.branches[0], indexes[0]
            keys = branch.outer_keys(env)
            if keys is None:
                return None
            memo = env[CTX].memo
            memo_key = ("lookup", id(index), keys)
            cached = memo.get(memo_key)
            if cached is None or cached[0] is not index:
                positions = set(undecided)
                for k in keys:
                    positions.update(index.get(k, ()))
                cached = (index, sorted(positions), set(undecided))
                memo[memo_key] = cached
            return cached[1], cached[2]
        found: set[int] = set()
        retest: set[int] = set()
        for branch, (index, undecided) in zip(self.branches, indexes):
            keys = branch.outer_keys(env)
            if keys is None:
                return None
            for k in keys:
                found.update(index.get(k, ()))
            found.update(undecided)
            retest.update(undecided)
        if not self.exact:
            retest = found
        return sorted(found), retest

    def group(self, env: dict):
        keys = []
        for branch in self.branches:
            k = branch.outer_keys(env)
            if k is None:
                return None
            keys.append(k)
        return tuple(keys)


# ---- conditions between the two records of a spatial join, decided for every candidate pair at once -----


@dataclass
class TextCond:
    """`var.k OP outer` (OP a comparison) or `x under y` between the loop variable and a value of the outer scope,
    decided for many candidates at once where both values are plain texts; any other is tested as written.

    With the outer record of a spatial join (`a.id < b.id`, `right.land_use under p.land_use`) it is decided
    for every candidate pair of the bulk query (`decide`); with any other outer value (`p.land_use under
    duty.resource`) the candidates of each binding for which it is false are dropped together (`drop`)."""

    op: str  # == != < <= > >= under
    var_fn: Fn  # the loop variable's side, given the variable
    other_fn: Fn  # the outer side, given the outer scope
    var_left: bool  # the loop variable's side is on the left
    text: str

    @classmethod
    def of(cls, cond, var_fn: Fn, other_fn: Fn) -> "TextCond":
        """The condition a plan's TextCondition names, with its two sides compiled."""
        return cls(cond.op, var_fn, other_fn, cond.var_left, cond.text)

    def holds(self, mine: str | None, theirs: str | None, groups) -> bool | None:
        """The condition for one loop value and one outer value; None when it is not decided here (an absent
        or non-text value, a land-use group's name as the prefix of `under`)."""
        left, right = (mine, theirs) if self.var_left else (theirs, mine)
        if left is None or right is None:
            return None
        if self.op == "under":
            return None if right in groups else left.startswith(right)
        return PLAIN_OPS[self.op](left, right)

    def decide(self, env: dict, var: str, other: str, candidates: list, outers: list, which, found):
        """(decided, holds) per pair (outers[which[k]], candidates[found[k]])."""
        mine = _texts(env, var, self.var_fn, candidates)
        theirs = _texts(env, other, self.other_fn, outers)
        if self.op == "under":
            # land-use codes are few: decide each distinct (code, prefix) once and look the pairs up
            groups = env[CTX].classification.groups
            mine_of, theirs_of = _factorise(mine), _factorise(theirs)
            table = [[self.holds(a, b, groups) for b in theirs_of[0]] for a in mine_of[0]]
            shape = (len(mine_of[0]), len(theirs_of[0]))
            decided = np.array([[v is not None for v in row] for row in table], dtype=bool).reshape(shape)
            holds = np.array([[v is True for v in row] for row in table], dtype=bool).reshape(shape)
            at = (mine_of[1][found], theirs_of[1][which])
            return decided[at], holds[at]
        left, right = (mine[found], theirs[which]) if self.var_left else (theirs[which], mine[found])
        decided = (left != None) & (right != None)  # noqa: E711 - elementwise on object arrays
        holds = np.zeros(len(left), dtype=bool)
        if decided.any():
            holds[decided] = _PAIR_OPS[self.op](left[decided], right[decided]).astype(bool)
        return decided, holds

    def drop(self, env: dict, column: tuple[list, np.ndarray], indices: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(decided false, decided true): masks of the candidates (positions in the column of the loop variable's
        values, given factorised: its distinct values and each one's position among them), or None when the
        outer value is not a plain text (then nothing is decided). Each distinct value is decided once."""
        try:
            other = self.other_fn(env)
        except EvalError:
            return None
        if type(other) is not str:
            return None
        groups = env[CTX].classification.groups
        distinct, positions = column
        verdicts = [self.holds(v, other, groups) for v in distinct]
        at = positions[indices]
        return (np.array([v is False for v in verdicts], dtype=bool)[at],
                np.array([v is True for v in verdicts], dtype=bool)[at])


@dataclass
class AreaCond:
    """`overlaps(var, other[, tolerance])` with a tolerance fixed for the run, between the loop variable and the
    outer record of a spatial join: decided for every candidate pair from the shared areas the bulk pass
    computed; a pair without one (a geometry GEOS could not work on) is tested as written."""

    tol_fn: Fn | None
    text: str

    def decide(self, env: dict, areas: np.ndarray):
        try:
            tol = tolerance_value(self.tol_fn(env)) if self.tol_fn is not None else 0.0
        except EvalError:
            return np.zeros(len(areas), dtype=bool), np.zeros(len(areas), dtype=bool)
        decided = ~np.isnan(areas)
        return decided, decided & (np.nan_to_num(areas) > tol)


@dataclass(frozen=True, slots=True)
class Passed:
    """Candidate pairs (n of them) whose rule's requirement the bulk pass decided holds: counted as checked,
    nothing more (yielded in place of the bindings, which would only be counted)."""

    n: int


@dataclass
class VerdictCond:
    """`require overlap_area(var, other) OP limit` of a rule whose last loop is this spatial join, with nothing
    left to test per pair: decided for every pair from the bulk pass's shared areas, as compare_values decides
    it (the same allowance for float noise). Pairs that pass are only counted; the others are bound and their
    requirement evaluated as written, so every conflict is made the usual way."""

    op: str
    limit_fn: Fn | None
    text: str
    # or the requirement compares texts of the pair (`right.land_use under parcel.land_use`): decided as the
    # pair conditions are, where both are plain texts
    text_cond: TextCond | None = None

    def passes(self, env: dict, areas: np.ndarray, decided: np.ndarray) -> np.ndarray:
        try:
            limit = self.limit_fn(env)
        except EvalError:
            return np.zeros(len(areas), dtype=bool)
        if not (isinstance(limit, Quantity) and limit.dim == "area"):
            return np.zeros(len(areas), dtype=bool)
        x, y = np.nan_to_num(areas), float(limit.value)
        allow = 1e-9 * np.maximum(np.maximum(np.abs(x), abs(y)), 1.0)
        holds = {"<=": lambda: x <= y + allow, ">=": lambda: x >= y - allow, "<": lambda: x < y - allow,
                 ">": lambda: x > y + allow, "==": lambda: np.abs(x - y) <= allow, "!=": lambda: np.abs(x - y) > allow}[self.op]()
        return decided & holds


def _cached_areas(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The shared area of each pair from the run's cache, NaN where it is not there (or a geometry with itself)."""
    lo, hi = id_pairs(left, right)
    known = cached_area_ids(zip(lo.tolist(), hi.tolist()))
    out = np.array(known, dtype=float)
    out[lo == hi] = np.nan
    return out


PLAIN_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
             ">=": operator.ge}  # how two texts compare (the compiler's too)
_PAIR_OPS = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater,
             ">=": np.greater_equal}


def _factorise(values: np.ndarray) -> tuple[list, np.ndarray]:
    """(the distinct values in order of first appearance, each value's position among them)."""
    seen: dict = {}
    positions = np.fromiter((seen.setdefault(v, len(seen)) for v in values.tolist()), dtype=np.intp, count=len(values))
    return list(seen), positions


def _texts(env: dict, var: str, fn: Fn, records: list) -> np.ndarray:
    """fn per record as an object array: the value where it is a plain text, else None (decided per pair)."""
    probe = dict(env)
    out = np.empty(len(records), dtype=object)
    for pos, record in enumerate(records):
        probe[var] = record
        try:
            value = fn(probe)
        except EvalError:
            continue
        if type(value) is str:
            out[pos] = value
    return out


# ---- one-geometry functions over a loop's records ----------------------------------------------------


# one-geometry functions computed for a whole collection at once: name -> (vectorised shapely call, its value
# as the language's); the results are those of the one-by-one built-ins (builtins.py)
UNARY_BULK = {
    "is_valid": (shapely.is_valid, bool),
    "is_empty": (shapely.is_empty, bool),
    "area": (shapely.area, lambda value: square_metres(float(value))),
    "is_polygonal": (lambda geoms: np.isin(shapely.get_type_id(geoms), (3, 6)), bool),
}


def unary_in_bulk(name: str, var: str, universe_fn: Fn, one_by_one: Fn) -> Fn:
    """`is_valid(parcel)`, `area(parcel)`… with `parcel` a loop over a collection fixed for the run: computed
    for every record the loop can bind in one vectorised call (on every core) the first time it is asked,
    then looked up; anything else (a geometry not among them, a call GEOS refuses) is computed as written."""
    vectorised, wrap = UNARY_BULK[name]

    def table(env):
        universe = universe_fn(env)
        if isinstance(universe, Missing):
            return None
        memo = env[CTX].memo
        memo_key = ("unary", name, id(universe))  # shared by every rule looping over the same records
        cached = memo.get(memo_key)
        if cached is None or cached[0] is not universe:
            geoms = [g for g in map(geom_or_none, universe) if g is not None]
            try:
                values = geos_map(vectorised, np.array(geoms, dtype=object)).tolist() if geoms else []
                cached = (universe, dict(zip(map(id, geoms), values)))  # the records keep the geometries
            except shapely.errors.GEOSException:
                cached = (universe, {})
            memo[memo_key] = cached
        return cached[1]

    def fn(env):
        geom = geom_or_none(env.get(var))
        if geom is not None:
            found = table(env)
            if found is not None:
                value = found.get(id(geom))
                if value is not None:
                    return wrap(value)
        return one_by_one(env)

    return fn


# ---- the executor of a loop's plan ----------------------------------------------------------------------


@dataclass
class LoopFns:
    """The compiled expressions a plan names: the source, each conjunct of the condition (by position), the
    outer geometry of the spatial join and the records it comes from (the outer loop's universe), and the two
    sides of each hash lookup, pair condition and column condition, the tolerance of each area condition."""

    source: Fn
    conjuncts: list[Fn]
    spatial_other: Fn | None = None
    universe: Fn | None = None
    lookups: list[tuple[Fn, Fn]] = field(default_factory=list)
    text_conds: list[tuple[Fn, Fn]] = field(default_factory=list)
    area_tols: list[Fn | None] = field(default_factory=list)
    column_conds: list[tuple[Fn, Fn]] = field(default_factory=list)


class Join:
    """Runs a loop's plan: conjuncts on `var` alone filter the source once per list; a spatial predicate
    against the outer scope queries an STRtree of what is left; an equality or membership against the outer
    scope looks up a hash index; the rest is tested per candidate."""

    def __init__(self, plan: LoopPlan, fns: LoopFns):
        self.plan = plan
        self.var = plan.var
        self.source_fn = fns.source
        self.source_const = plan.source_fixed
        self.key = id(plan.cond)
        part = fns.conjuncts
        self.local_fns = [part[f.at] for f in plan.filters]  # conjuncts reading only `var` (and constants)
        # per local_fns: what it reads of a record (LocalKey), or None
        self.local_keys = [f.key.function() if f.key is not None else None for f in plan.filters]
        self.rest_fns = [part[at] for at in plan.residue]
        spatial = plan.spatial
        self.spatial_other = fns.spatial_other  # the outer geometry of the spatial predicate
        self.spatial_predicate = spatial.predicate if spatial is not None else None
        self.other_var = spatial.other_var if spatial is not None else None  # the outer record's name
        # "filter": the filter itself needs each candidate's shared area; "after": what follows needs each
        # survivor's; computed for all pairs in the bulk pass, else in one vectorised call per outer record
        self.prefill = plan.prefill
        # the records the outer geometry comes from, when fixed for the run (the outer loop's records that pass its
        # own filter): then one bulk query answers every outer record, and the prefill covers all pairs at once
        self.universe_fn = fns.universe
        hashed = plan.hash_join
        self.join: KeyJoin | None = None  # a hash join (only without a spatial predicate)
        self.rest_without_join: list[Fn] = []  # rest_fns minus the join's own conjunct
        if hashed is not None:
            branches = [KeyBranch(b.kind, mine, outer, b.mine_text, b.text, b.outer_var, b.outer_text)
                        for b, (mine, outer) in zip(hashed.branches, fns.lookups)]
            self.join = KeyJoin(branches, part[hashed.at], hashed.text)
            self.rest_without_join = [part[at] for at in plan.residue if at != hashed.at]
        # conditions between the loop variable and the outer record, decided per pair in the bulk query
        self.pair_conds = [TextCond.of(c, *sides) for c, sides in zip(plan.text_conditions, fns.text_conds)]
        # overlaps() of the pair, decided from the bulk pass
        self.area_conds = [AreaCond(tol, c.text) for c, tol in zip(plan.area_conditions, fns.area_tols)]
        decided = {c.at for c in plan.pair_conditions}
        self.rest_without_pairs = [part[at] for at in plan.residue if at not in decided]
        # with the outer scope, dropped per binding at once
        self.column_conds = [TextCond.of(c, *sides) for c, sides in zip(plan.column_conditions, fns.column_conds)]
        decided = {c.at for c in plan.column_conditions}
        self.rest_without_columns = [part[at] for at in plan.residue if at not in decided]
        self.verdict: VerdictCond | None = None  # the rule's requirement, decided in bulk (compiler.attach_verdict)

    @property
    def texts(self) -> dict:
        """The plan in words (LoopPlan.as_dict)."""
        return self.plan.as_dict()

    def describe(self) -> dict:
        return self.plan.as_dict()

    def group_key(self, env: dict):
        """When nothing but the hash join relates the candidates to the outer scope, the outer keys: a
        comprehension's values are then the same for every outer record of the same group."""
        if self.join is None or self.rest_without_join or self.spatial_other is not None or not self.source_const:
            return None
        return self.join.group(env)

    def count_by_index(self, env) -> int | None:
        """How many records a hash join lets through, from its index alone: when nothing but the join and the
        local filter decides, and nothing is undecided (else None: the records are enumerated)."""
        if self.join is None or self.spatial_other is not None or self.rest_without_join or not self.join.exact:
            return None
        prepared = self._prepared(env)
        if isinstance(prepared, Missing):
            return None
        items, _, undecided, _, _, mask = prepared
        if undecided:
            return None
        found = self.join.lookup(env, self.join.indexes(env, self.var, items, self.source_const, self.key))
        if found is None or found[1]:
            return None
        positions = found[0]
        visit(env, len(positions))
        return len(positions) if mask is None else sum(1 for p in positions if mask[p])

    def _bulk(self, env, tree, geoms) -> dict | None:
        """{id(outer geometry): sorted indices of its candidates}, for every record of the universe; memoised."""
        ctx = env[CTX]
        universe = self.universe_fn(env)
        if isinstance(universe, Missing):
            return None
        # plans with conditions decided per pair have their own candidates; the others share one query
        memo_key = ("bulk", id(tree), id(universe), self.spatial_predicate, self.prefill,
                    self.key if self.pair_conds or self.area_conds or self.verdict else None)
        cached = ctx.memo.get(memo_key)
        if cached is not None and cached[0] is universe and cached[1] is tree:
            return cached[2]
        placed = [(r, g) for r, g in ((r, geom_or_none(r)) for r in universe) if g is not None]
        outer = [g for _, g in placed]
        outer_arr = np.array(outer, dtype=object)
        result: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        if len(outer_arr):
            which, found, exact = self._bulk_pairs(env, tree, geoms, placed, outer_arr)
            bounds = np.searchsorted(which, np.arange(len(outer_arr) + 1))
            for i, g in enumerate(outer):
                result[id(g)] = (found[bounds[i] : bounds[i + 1]], None if exact is None else exact[bounds[i] : bounds[i + 1]])
        ctx.memo[memo_key] = (universe, tree, result)
        ctx.memo.setdefault(BULK_KEYS, []).append(memo_key)  # dropped after each family of rules (engine)
        return result

    def _bulk_pairs(self, env, tree, geoms, placed, outer_arr):
        """(outer index, candidate index, exact) of every candidate pair of the bulk query that the conditions
        decided here keep; exact per pair: 0 undecided, 1 the conditions hold, 3 and the rule's requirement holds
        too; None when nothing is decided here."""
        outer = [g for _, g in placed]
        # with conditions on the pair decided here (`a.id < b.id` keeps half the pairs of a self-join), the
        # boxes are queried, the conditions decided, and `intersects` tested only on the pairs they keep
        deferred = self.spatial_predicate == "intersects" and bool(self.pair_conds)
        which, found = self._query(tree, outer_arr, None if deferred else True)
        exact = None
        # a geometry shared by two outer records would mix their pairs: then each pair is tested as written
        if (self.pair_conds or self.area_conds or self.verdict) and len({id(g) for g in outer}) == len(outer):
            exact = np.ones(len(which), dtype=bool)
        if self.pair_conds and exact is not None:
            which, found, exact = self._decide_pairs(env, placed, which, found, exact)
        if deferred:
            hit = geos_map(shapely.intersects, outer_arr[which], geoms[found]) if len(which) else np.zeros(0, dtype=bool)
            which, found = which[hit], found[hit]
            exact = exact[hit] if exact is not None else None
        if self._prefill_in_bulk():
            self._prefill(outer_arr[which], geoms[found])
        if exact is None:
            return which, found, None
        return self._decide_by_areas(env, outer_arr, geoms, placed, which, found, exact)

    def _decide_pairs(self, env, placed, which, found, exact):
        """The pairs the text conditions between the two records do not decide false, and which they decided."""
        visit(env, len(which) * len(self.pair_conds))
        keep = np.ones(len(which), dtype=bool)
        kept = self._prepared(env)[1]
        for cond in self.pair_conds:
            decided, holds = cond.decide(env, self.var, self.other_var, kept, [r for r, _ in placed], which, found)
            keep &= ~decided | holds
            exact &= decided
        return which[keep], found[keep], exact[keep]

    def _decide_by_areas(self, env, outer_arr, geoms, placed, which, found, exact):
        """The pairs the area conditions (from the shared areas) do not decide false, and the rule's requirement
        decided for them (exact 3 where it holds)."""
        by_area = self.verdict is not None and self.verdict.text_cond is None
        areas = _cached_areas(outer_arr[which], geoms[found]) if self.area_conds or by_area else None
        if self.area_conds:
            visit(env, len(which) * len(self.area_conds))
            keep = np.ones(len(which), dtype=bool)
            for cond in self.area_conds:
                decided, holds = cond.decide(env, areas)
                keep &= ~decided | holds
                exact &= decided
            which, found, exact, areas = which[keep], found[keep], exact[keep], areas[keep]
        if self.verdict is not None and self.verdict.text_cond is not None and len(which):
            visit(env, len(which))
            decided, holds = self.verdict.text_cond.decide(env, self.var, self.other_var, self._prepared(env)[1],
                                                            [r for r, _ in placed], which, found)
            exact = (exact & decided & holds) * 2 + exact
        elif by_area:
            decided = exact & ~np.isnan(areas)
            # the limit is read (and its edition recorded as applied) only when some pair is decided by it
            exact = self.verdict.passes(env, areas, decided) * 2 + exact if decided.any() else exact
        return which, found, exact

    def _prefill_in_bulk(self) -> bool:
        """Whether the bulk pass computes the shared areas of every candidate pair: when the filter needs them, or
        what follows does and nothing but the pair conditions (decided before) filters the candidates; else
        the survivors of each binding's filter have theirs computed together (DUT-006 keeps a few parcels of
        a duty's resource out of hundreds in its package)."""
        if self.prefill == "filter":
            return True
        return self.prefill == "after" and not self.column_conds and not self.rest_without_pairs

    @staticmethod
    def _prefill(left, right) -> None:
        """Every pair's shared area in one vectorised pass ("after": what follows needs the survivors'; all
        candidate pairs together cost less than a small call per outer record). A pair is computed once
        whichever way round it comes, and not again if a rule before computed it. A geometry with itself is
        no pair: a join that needs it computes it on its own."""
        lo, hi = id_pairs(left, right)
        order = np.lexsort((hi, lo))  # stable: the first of equal pairs stays first
        lo_s, hi_s = lo[order], hi[order]
        first_of_run = np.ones(len(order), dtype=bool)
        first_of_run[1:] = (lo_s[1:] != lo_s[:-1]) | (hi_s[1:] != hi_s[:-1])
        first = np.sort(order[first_of_run & (lo_s != hi_s)])
        todo = [i for i, a, b in zip(first.tolist(), lo[first].tolist(), hi[first].tolist()) if not pair_known_ids(a, b)]
        prefill_pair_arrays(left[todo], right[todo])

    def _query(self, tree, outer_arr, predicate: str | None | bool = True):
        """(outer index, candidate index) pairs, sorted, each pair once. The tree holds the candidates' parts
        (a basic farmland layer is one multipolygon of thousands of parts): a hit on any part is a hit. With
        predicate None, every pair whose bounding boxes meet (the exact test left to the caller)."""
        which, found = query_pairs(tree, outer_arr, self.spatial_predicate if predicate is True else predicate)
        owner = getattr(tree, "owner", None)
        if owner is not None:
            found = owner[found]
        n = max(int(found.max()) + 1, 1) if len(found) else 1
        # sorted by a stable sort (the query gives the outer indices in order, so it is nearly linear), and each
        # pair once where the tree holds parts (np.unique sorts the slow way: 0.5 s for 800,000 pairs)
        pairs = np.sort(which.astype(np.int64) * n + found, kind="stable")
        if owner is not None and len(pairs) > 1:
            pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
        return pairs // n, pairs % n

    def _tree(self, geoms):
        if self.spatial_predicate != "intersects":  # a bounding-box query (within/covers): whole geometries
            return shapely.STRtree(geoms)
        parts, owner = shapely.get_parts(geoms, return_index=True)
        if len(parts) == len(geoms):
            return shapely.STRtree(geoms)
        tree = shapely.STRtree(parts)
        tree.owner = owner
        return tree

    def _prepared(self, env):
        """(items, kept, undecided, tree, geometries, kept mask) after the local filter; memoised per source
        list (for the run when the source is fixed, else for the last list seen)."""
        ctx = env[CTX]
        items = self.source_fn(env)
        if isinstance(items, Missing):
            return items
        memo_key = ("plan", self.key)
        cached = ctx.memo.get(memo_key)
        if cached is not None and cached[0] is items:
            return cached[1]
        shared_key = ("index", id(items), self.spatial_predicate) if self.source_const and not self.local_fns and self.spatial_other else None
        if shared_key is not None:  # another plan over the same collection, unfiltered, built its index already
            shared = ctx.memo.get(shared_key)
            if shared is not None and shared[0] is items:
                ctx.memo[memo_key] = (items, shared[1])
                return shared[1]
        kept, undecided, mask = [], [], None
        if self.local_fns:
            visit(env, len(items))
            verdicts = self._local_verdicts(env, items)
            mask = np.fromiter((v is True for v in verdicts), dtype=bool, count=len(items))
            kept = [item for item, v in zip(items, verdicts) if v is True]
            undecided = [(pos, items[pos], v) for pos, v in enumerate(verdicts) if isinstance(v, Missing)]
        else:
            kept = list(items)
        tree, geoms = None, None
        if self.spatial_other is not None:
            with_geometry = []
            for item in kept:
                if geom_or_none(item) is None:
                    undecided.append((None, item, Missing(f"geometry of {record_id(item)}")))
                else:
                    with_geometry.append(item)
            kept = with_geometry
            geoms = np.array([geom_or_none(r) for r in kept], dtype=object)
            tree = self._tree(geoms)
        result = (items, kept, undecided, tree, geoms, mask)
        ctx.memo[memo_key] = (items, result)
        if shared_key is not None:
            ctx.memo[shared_key] = (items, result)
        return result

    def _local_verdicts(self, env, items) -> list:
        """The verdict of the local conjuncts on each item, as _all_of gives it (False at the first conjunct
        that fails, else the last Missing, else True), a conjunct at a time over the items still standing. A
        conjunct with a keyer is tested once per key (on its first record of that key) and the verdict reused;
        an undecided one (a Missing names its record) is not reused: each record of that key is tested."""
        sub = dict(env)
        var = self.var
        parents = env[CTX].parents
        verdicts = [True] * len(items)
        standing = range(len(items))
        for f, keyer in zip(self.local_fns, self.local_keys):

            def test(pos):
                sub[var] = items[pos]
                try:
                    return f(sub)
                except EvalError as err:
                    return Missing(str(err))

            if keyer is None:
                values = [test(pos) for pos in standing]
            else:
                memo: dict = {}
                values = []
                for pos, key in zip(standing, [keyer(items[pos], parents) for pos in standing]):
                    v = memo.get(key, NO_KEY)
                    if v is NO_KEY:
                        v = test(pos)
                        if key is not NO_KEY and not isinstance(v, Missing):
                            memo[key] = v
                    values.append(v)
            for pos, v in zip(standing, values):
                if v is False:
                    verdicts[pos] = False
                elif isinstance(v, Missing):
                    verdicts[pos] = v
            standing = [pos for pos, v in zip(standing, values) if v is not False]
        return verdicts

    def kept(self, env):
        """The records that pass the conjuncts on the loop variable alone (those a rule binds at most)."""
        prepared = self._prepared(env)
        return prepared if isinstance(prepared, Missing) else prepared[1]

    def candidates(self, env):
        """The bindings of the loop variable that pass the condition (or may: a Missing for each undecided one),
        in the order of the source; Passed(n) for n pairs whose requirement the bulk pass decided holds."""
        prepared = self._prepared(env)
        if isinstance(prepared, Missing):
            yield prepared
            return
        items, kept, undecided, tree, geoms, mask = prepared
        found = None
        if tree is None and self.join is not None:
            found = self.join.lookup(env, self.join.indexes(env, self.var, items, self.source_const, self.key))
            if found is not None and not found[0]:  # the index finds nothing (nor anything undecided) here
                return
        if undecided:
            yield from self._undecided(env, undecided, tree, found)
        if tree is not None:
            yield from self._near(env, kept, tree, geoms)
            return
        if self.join is not None and found is not None:
            positions, retest = found
            pool = ((items[p], self.rest_fns if p in retest else self.rest_without_join)
                    for p in positions if mask is None or mask[p])
        else:
            pool = ((item, self.rest_fns) for item in kept)
        yield from self._filtered(env, pool)

    def _near(self, env, kept, tree, geoms):
        """The candidates of a spatial join for one binding: those the STRtree finds near the outer geometry
        (from the bulk query when there is one), less those the conditions decided there exclude."""
        other = self.spatial_other(env)
        if isinstance(other, Missing):
            yield other
            return
        other = as_geometry(other)
        if isinstance(other, Missing):
            yield other
            return
        bulk = self._bulk(env, tree, geoms) if self.universe_fn is not None else None
        indices, exact = bulk.get(id(other), (None, None)) if bulk is not None else (None, None)
        prefilled = indices is not None and self._prefill_in_bulk()
        if indices is None:
            indices = self._query(tree, np.array([other], dtype=object))[1]
            if self.prefill == "filter":
                prefill_pairs(other, geoms[indices])
        held = None
        if self.column_conds and len(indices):
            indices, exact, held = self._drop_decided_false(env, kept, indices, exact)
        if exact is None:
            pool = self._column_pool(kept, indices, held)
        else:  # the pair conditions decided in the bulk query are not tested again
            # (exact: 0 undecided, 1 the conditions hold, 3 and the rule's requirement holds too: only counted)
            sures = exact.tolist()  # (a few candidates per outer record: lists cost less than numpy here)
            passed = sures.count(3)
            if passed:
                env[CTX].visits += passed
                yield Passed(passed)
            pool = ((kept[i], self.rest_without_pairs if sure else self.rest_fns)
                    for i, sure in zip(indices.tolist(), sures) if sure < 3)
        if self.prefill == "after" and not prefilled:
            # what follows the filter needs each survivor's shared area: compute them together
            survivors = list(self._filtered(env, pool))
            prefill_pairs(other, np.array([geom_or_none(s[self.var]) for s in survivors if isinstance(s, dict)], dtype=object))
            yield from survivors
            return
        yield from self._filtered(env, pool)

    def _column_pool(self, kept, indices, held):
        """(candidate, conditions to test) where no condition was decided for the pair in bulk."""
        if held is not None and held.any():  # the column conditions decided true: not again
            return ((kept[i], self.rest_without_columns if sure else self.rest_fns)
                    for i, sure in zip(indices.tolist(), held.tolist()))
        return ((kept[i], self.rest_fns) for i in indices)

    def _drop_decided_false(self, env, kept, indices, exact):
        """(indices, exact, held): the candidates without those a column condition decides false, and whether
        every column condition was decided true for each (then none is tested again)."""
        visit(env, len(indices) * len(self.column_conds))
        dropped = np.zeros(len(indices), dtype=bool)
        held = np.ones(len(indices), dtype=bool)
        for n, cond in enumerate(self.column_conds):
            memo_key = ("column", self.key, n)
            cached = env[CTX].memo.get(memo_key)
            if cached is None or cached[0] is not kept:
                cached = (kept, _factorise(_texts(env, self.var, cond.var_fn, kept)))
                env[CTX].memo[memo_key] = cached
            decided = cond.drop(env, cached[1], indices)
            if decided is None:
                held[:] = False
            else:
                dropped |= decided[0]
                held &= decided[1]
        if not dropped.any():
            return indices, exact, held
        return indices[~dropped], None if exact is None else exact[~dropped], held[~dropped]

    def _undecided(self, env, undecided, tree, found):
        """The Missing of each item whose own condition is undecided, unless the filter's other conditions exclude
        it (`A and B` is false when B is, whatever A): a right without a land use is not undecided for a package
        it is not in, nor for a place it does not touch. With a hash join, only the items its lookup lets through
        can be undecided (for the others its conjunct is false); with a spatial predicate, only those an STRtree
        of the undecided items finds near the place. Either way only those are tested."""
        if not undecided:
            return
        memo = env[CTX].memo
        if found is not None:
            cached = memo.get(("undecided", id(undecided)))
            if cached is None or cached[0] is not undecided:
                cached = (undecided, {pos: (pos, item, verdict) for pos, item, verdict in undecided})
                memo[("undecided", id(undecided))] = cached
            by_pos = cached[1]
            undecided = [by_pos[p] for p in found[0] if p in by_pos]
        elif tree is not None and self.spatial_predicate == "intersects":
            other = as_geometry(self.spatial_other(env))
            if not isinstance(other, Missing):
                index, placed, unplaced = self._undecided_index(env, undecided)
                near = sorted({placed[i] for i in index.query(other, predicate="intersects")} | unplaced)
                undecided = [undecided[i] for i in near]
        env[CTX].visits += len(undecided)
        probe = dict(env)
        for _, item, verdict in undecided:
            probe[self.var] = item
            if all_of(self.rest_fns, probe) is False:
                continue
            yield verdict

    def _undecided_index(self, env, undecided):
        """(STRtree of the undecided items' geometries, tree position -> list position, positions without one)."""
        memo, key = env[CTX].memo, ("undecided-index", id(undecided))
        cached = memo.get(key)
        if cached is not None and cached[0] is undecided:
            return cached[1]
        geoms = [geom_or_none(item) for _, item, _ in undecided]
        placed = [i for i, g in enumerate(geoms) if g is not None]
        built = (shapely.STRtree(np.array([geoms[i] for i in placed], dtype=object)), placed,
                 {i for i, g in enumerate(geoms) if g is None})
        if self.source_const:  # the same items for every outer record: build once per run
            memo[key] = (undecided, built)
        return built

    def _filtered(self, env, pool):
        probe = dict(env)  # one scratch environment for testing candidates; a copy only for those that pass
        ctx = env[CTX]
        for item, fns in pool:
            ctx.visits += 1
            probe[self.var] = item
            verdict = all_of(fns, probe) if fns else True
            if verdict is True:
                yield dict(probe)
            elif isinstance(verdict, Missing):
                yield verdict

