"""A loop's plan as a value: what the planner decided for `var in source where cond`, and the options it planned with.

The planner (planner.py) reads a checked loop and returns a `LoopPlan`; the compiler (compiler.py) compiles the
expressions the plan names; the executor (joins.py) runs the two together. A plan holds syntax (the conjuncts
and the sides of each join) and the words of the pack, never a closure, so a test can compare plans and
`rulecheck rules validate --plan` prints them (`describe()`, `str()`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Protocol

from rulecheck.dsl import ast

SPATIAL_INDEXABLE = frozenset({"intersects", "overlaps", "within", "covers"})
PAIR_FUNCS = frozenset({"overlaps", "overlap_area", "intersection", "coverage"})  # all computed from the pair's intersection


@dataclass(frozen=True)
class PlanOptions:
    """Which of the planner's work is done at once rather than pair by pair. Each is on but in the tests that
    compare the planner with testing every pair: the reports must be the same bytes either way."""

    hash_joins: bool = True  # equality and membership with the outer scope answered by a hash index
    pair_conditions: bool = True  # conditions decided for many candidates at once (pairs of a join, one-geometry functions)
    local_keys: bool = True  # a condition on the loop variable alone decided once per distinct value it reads


_OPTIONS: ContextVar[PlanOptions] = ContextVar("plan_options", default=PlanOptions())


def current_options() -> PlanOptions:
    """The options rules compiled now are planned with (PlanOptions() unless `planning` says otherwise)."""
    return _OPTIONS.get()


@contextlib.contextmanager
def planning(options: PlanOptions) -> Iterator[PlanOptions]:
    """Rules compiled inside the block are planned with `options` (the tests compare the planner with none)."""
    token = _OPTIONS.set(options)
    try:
        yield options
    finally:
        _OPTIONS.reset(token)


class Typer(Protocol):
    """What the planner asks of the checker: the type of an expression in a scope (the expression is checked)."""

    def type_of(self, node: ast.Expr, scope: Mapping[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Loop:
    """A checked loop, as the planner reads it: `var in source where cond` in a scope (`outer`, and `inner` with
    the variable), `also` what follows it in the rule, `whole` the comprehension or quantifier it is the source of,
    `universes` the outer variables over a collection fixed for the run, `traced` when compiled to explain."""

    var: str
    source: ast.Expr
    cond: ast.Expr | None
    inner: Mapping[str, Any]
    outer: Mapping[str, Any]
    also: ast.Expr | None = None
    whole: ast.Expr | None = None
    universes: tuple[str, ...] = ()
    traced: bool = False


# ---- the parts of a plan --------------------------------------------------------------------------------


NO_KEY = object()  # the value read cannot stand for the record here: the condition is tested on the record
_BY_VALUE = (str, int, float, dt.date)  # values equal by value (enum members are texts); others by identity


@dataclass(frozen=True)
class LocalKey:
    """What a condition on the loop variable alone reads of a record: paths of fields, each step ("field" |
    "parent" | "virtual", name), each read for its "value", for being "present" or for its "len". Records whose
    paths have equal values get the same verdict; `function()` gives a record's key (planner.local_key)."""

    paths: tuple[tuple[tuple[tuple[str, str], ...], str], ...]

    def function(self) -> Callable:
        getters = [_path_key(steps, use) for steps, use in self.paths]
        if len(getters) == 1:
            return getters[0]

        def key(item, parents):
            out = tuple(g(item, parents) for g in getters)
            return NO_KEY if NO_KEY in out else out

        return key


def _path_key(steps: tuple, use: str) -> Callable:
    """The key of one path's value (see LocalKey); ("absent", step) where a step finds nothing."""
    if len(steps) == 1 and steps[0][0] == "field":
        name = steps[0][1]
        if use == "present":
            return lambda item, parents: getattr(item, name) is None
        if use == "value":
            return _field_key(name)
    last = len(steps) - 1

    def key(item, parents):
        v = item
        for n, (kind, name) in enumerate(steps):
            try:
                v = parents.get(id(v)) if kind == "parent" else getattr(v, name)
            except AttributeError:  # not the record its type says: tested as written
                return NO_KEY
            if v is None:
                return ("absent", n)
        if use == "present":
            return False
        if use == "len":
            return len(v) if isinstance(v, (list, tuple, str, dict)) else NO_KEY
        # by identity only where the object lives as long as the run: held by its record, or the parent itself
        return _value_key(v, held=steps[last][0] != "virtual")

    return key


def _field_key(name: str) -> Callable:
    by_value = set()  # the types met so far that are keyed by value, but floats (their zeros are signed)

    def field_key(item, parents):
        v = getattr(item, name)
        t = type(v)
        if t in by_value:
            return (t, v)
        if v is None:
            return ("absent", 0)
        if t is not float and isinstance(v, _BY_VALUE):
            by_value.add(t)
        return _value_key(v, held=True)

    return field_key


def _value_key(v, held: bool):
    """The key of a present value: by value (texts, numbers, dates, enum members), else by identity where `held`
    (the object lives as long as the run), else NO_KEY."""
    if isinstance(v, _BY_VALUE):
        # -0.0 == 0.0, but not to every function (1 / x): the sign of a zero is part of its key
        return (type(v), v) if type(v) is not float or v else (float, v, math.copysign(1.0, v))
    return ("id", id(v)) if held else NO_KEY


@dataclass(frozen=True)
class LocalFilter:
    """A conjunct (the `at`-th of the condition) on the loop variable alone: it filters each source list once."""

    at: int
    text: str
    key: LocalKey | None = None  # decided once per key (None: tested on every record)


@dataclass(frozen=True)
class KeyLookup:
    """One indexable comparison between the loop variable (`mine`) and the outer scope (`outer`):
    "eq"  `key(var) == outer`, "in" `key(var) in outer_list`, "has" `outer in list_of(var)`,
    "code_under" `key(var) under outer` (the record's code starts with the outer prefix: indexed under each of
    its prefixes), "under_code" `outer under key(var)` (the record's code is a prefix of the outer code: the
    outer code's prefixes are looked up). A code or prefix that names a land-use group is never indexed: it is
    tested as written."""

    kind: str
    mine: ast.Expr
    outer: ast.Expr
    mine_text: str
    text: str
    # the one variable of the rule the outer side reads, if only one: its keys are then kept per record for the
    # run, and shared by every rule whose outer side reads the same (`item.parcel_ids` in ten IND rules)
    outer_var: str | None = None
    outer_text: str = ""


@dataclass(frozen=True)
class HashJoin:
    """An equality/membership conjunct (the `at`-th), or an `or` of them: the union of the branches' lookups."""

    at: int
    branches: tuple[KeyLookup, ...]
    text: str

    @property
    def exact(self) -> bool:
        # one branch: a candidate found under a text key satisfies the conjunct, no need to test it again
        return len(self.branches) == 1


@dataclass(frozen=True)
class SpatialJoin:
    """A spatial predicate between the loop variable and `other` (of the outer scope): an STRtree query.
    `predicate` "intersects" where a hit implies intersection (intersects, overlaps), None for a bounding-box
    query (within, covers); `other_var` the outer loop variable `other` is, when its records are fixed for the
    run (then one bulk query answers all of them)."""

    other: ast.Expr
    predicate: str | None
    other_var: str | None
    text: str


@dataclass(frozen=True)
class TextCondition:
    """`var.k OP outer` (OP a comparison) or `x under y` between the loop variable's side (`mine`) and a value
    of the outer scope (`theirs`), decided for many candidates at once where both values are plain texts. With
    the outer record of a spatial join it is decided for every candidate pair of the bulk query; with any other
    outer value, the candidates of each binding for which it is false are dropped together."""

    at: int
    op: str  # == != < <= > >= under
    mine: ast.Expr
    theirs: ast.Expr
    var_left: bool  # the loop variable's side is on the left
    text: str


@dataclass(frozen=True)
class AreaCondition:
    """`overlaps(var, other[, tolerance])` (the `at`-th conjunct) with a tolerance fixed for the run: decided
    for every candidate pair from the shared areas the bulk pass computed."""

    at: int
    tolerance: ast.Expr | None
    text: str


@dataclass(frozen=True)
class Requirement:
    """The rule's requirement decided for every pair of its last loop's spatial join: `overlap_area(var, other)
    OP limit` from the bulk pass's shared areas, or a comparison of texts of the pair (`text_cond`)."""

    op: str
    limit: ast.Expr | None
    text: str
    text_cond: TextCondition | None = None


@dataclass(frozen=True)
class LoopPlan:
    """How `var in source where cond` is enumerated. Of the condition's conjuncts (`conjuncts`): the local
    `filters` filter the source once per list; `spatial` queries an STRtree of what is left; `hash_join` looks up
    a hash index; the `residue` (every conjunct not a filter, by position) is tested per candidate, but those
    `pair_conditions` and `area_conditions` decide for every pair of the bulk query, and `column_conditions`
    for the candidates of each binding. `prefill` says who needs the shared areas of the pairs ("filter" the
    condition, "after" what follows). `requirement`: the rule's requirement, decided in bulk.

    The plan reads as the dict `rules validate --plan` was built from (`plan["hash"]`, `as_dict()`)."""

    var: str
    source: str
    source_fixed: bool
    nested: bool = False
    cond: ast.Expr | None = field(default=None, compare=False, repr=False)
    conjuncts: tuple[ast.Expr, ...] = field(default=(), compare=False, repr=False)
    filters: tuple[LocalFilter, ...] = ()
    spatial: SpatialJoin | None = None
    hash_join: HashJoin | None = None
    residue: tuple[int, ...] = ()
    pair_conditions: tuple[TextCondition | AreaCondition, ...] = ()
    column_conditions: tuple[TextCondition, ...] = ()
    prefill: str | None = None
    requirement: Requirement | None = None
    per_pair: tuple[str, ...] = ()  # the words of the conjuncts tested per pair
    planned: bool = True  # False: no index, no filter (`describe` lists no pair or column conditions)

    @property
    def text_conditions(self) -> tuple[TextCondition, ...]:
        return tuple(c for c in self.pair_conditions if isinstance(c, TextCondition))

    @property
    def area_conditions(self) -> tuple[AreaCondition, ...]:
        return tuple(c for c in self.pair_conditions if isinstance(c, AreaCondition))

    def as_dict(self) -> dict:
        """The plan in words: var, source, filter, spatial, hash, per_pair, source_fixed, nested, and the pair and
        column conditions and the requirement where there are."""
        out = {"var": self.var, "source": self.source, "filter": [f.text for f in self.filters],
               "spatial": self.spatial.text if self.spatial else None,
               "hash": self.hash_join.text if self.hash_join else None, "per_pair": list(self.per_pair),
               "source_fixed": self.source_fixed}
        if self.planned:
            out["pair_conditions"] = [c.text for c in self.pair_conditions]
            out["column_conditions"] = [c.text for c in self.column_conditions]
        out["nested"] = self.nested
        if self.requirement is not None:
            out["requirement"] = self.requirement.text
        return out

    # a read-only mapping view, for the callers that read a plan as the dict it was
    def __getitem__(self, key: str):
        return self.as_dict()[key]

    def get(self, key: str, default=None):
        return self.as_dict().get(key, default)

    @property
    def indexed(self) -> bool:
        return self.spatial is not None or self.hash_join is not None

    def describe(self) -> list[str]:
        """How the loop is enumerated, one line for the loop and one per kind of work. A loop over a whole
        collection for every binding, with no index, is marked "!": its cost is the product of the two sizes."""
        if not self.nested:
            how = "once per run"
        elif not self.source_fixed:
            how = "per binding, over its own list"
        elif self.indexed:
            how = "per binding, through an index"
        else:
            how = "! per binding, every record (all pairs)"
        lines = [f"  {self.var} in {self.source}: {how}"]
        lines += [f"    filter once per list: {f.text}" for f in self.filters]
        if self.spatial:
            lines.append(f"    spatial index (STRtree): {self.spatial.text}")
        if self.hash_join:
            lines.append(f"    hash index: {self.hash_join.text}")
        lines += [f"    every candidate pair at once: {c.text}" for c in self.pair_conditions]
        lines += [f"    the candidates of each binding at once: {c.text}" for c in self.column_conditions]
        if self.requirement:
            lines.append(f"    the requirement, every candidate pair at once: {self.requirement.text}")
        mark = "!" if self.nested and self.source_fixed and not self.indexed else " "
        lines += [f"  {mark} per pair: {text}" for text in self.per_pair]
        return lines

    def __str__(self) -> str:
        return "\n".join(self.describe())


def describe_plans(plans: list[LoopPlan]) -> list[str]:
    """How each loop of a rule is enumerated, for `rulecheck rules validate --plan` and the language server."""
    return [line for plan in plans for line in plan.describe()]
